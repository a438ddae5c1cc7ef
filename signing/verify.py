"""Verification of every signature in a PDF: integrity, coverage, signer, chain to our root, revocation,
time-stamp, and what changed after signing. Results are frozen dataclasses; only unreadable input raises.

Revocation is judged with our CAs' current CRLs (fed to pyHanko in-process, no network), so a seal revoked a
minute ago shows as revoked now. A signature whose trusted time-stamp predates the revocation stays valid
(that is what the time-stamp is for, ETSI EN 319 102-1 §5.6.2.4), unless the key was reported compromised:
then nothing it signed can be trusted, whatever the time-stamp says.

Verification is open to anyone, so the work one document can cause is bounded (`Limits`): at most so many
signature fields and incremental revisions, and each distinct signature value (/Contents) is validated once —
pyHanko re-reads the whole document for every field, so many fields pointing at one signature would cost the
square of their number. `signing.verify_worker` adds a deadline and a cap on concurrent verifications.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy.orm import Session

from signing import crl, pki
from signing.errors import UnprocessablePdf
from signing.pades import open_pdf
from signing.ports import VerifyLimits as Limits

COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    SignatureCoverageLevel.UNCLEAR: "unclear",
}
CHANGES = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "validation_data",  # DSS / document time-stamps: expected for B-LT
    ModificationLevel.FORM_FILLING: "form_filling",  # includes further signatures
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}
ACCEPTABLE_CHANGES = ("none", "validation_data", "form_filling")


@dataclass(frozen=True)
class TimestampReport:
    time: str
    serial: str
    intact: bool
    trusted: bool


@dataclass(frozen=True)
class SignatureReport:
    field_name: str
    valid: bool
    intact: bool
    signature_valid: bool
    coverage: str
    changes_after_signing: str
    signer: str | None
    organisation: str | None
    uscc: str | None
    cert_serial: str
    trusted: bool
    revocation: str  # good, revoked, revoked_after_signing, unknown
    revoked_at: str | None
    signing_time: str | None
    timestamp: TimestampReport | None
    long_term: bool  # PAdES B-LT: the embedded validation data suffices on its own
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    valid: bool
    signatures: list[SignatureReport]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Trust:
    """What verification trusts and knows: our root, our chain, and our CAs' current CRLs."""

    root: asn1_x509.Certificate
    intermediates: list[asn1_x509.Certificate]
    crls: list[bytes]


def trust_from(session: Session, authority: pki.Authority) -> Trust:
    der = serialization.Encoding.DER
    return Trust(
        root=asn1_x509.Certificate.load(authority.root.cert.public_bytes(der)),
        intermediates=[asn1_x509.Certificate.load(authority.issuing.cert.public_bytes(der))],
        crls=[crl.current(session, authority, pki.ISSUING), crl.current(session, authority, pki.ROOT)],
    )


def _name_parts(cert: asn1_x509.Certificate) -> tuple[str | None, str | None, str | None]:
    subject = cert.subject.native
    org_id = None
    for rdn in cert.subject.chosen:
        for attr in rdn:
            if attr["type"].dotted == "2.5.4.97":
                org_id = str(attr["value"].native)
    uscc = org_id[6:] if org_id and org_id.startswith("NTRCN-") else org_id
    return subject.get("common_name"), subject.get("organization_name"), uscc


def _context(trust: Trust, moment: datetime | None = None) -> ValidationContext:
    return ValidationContext(
        trust_roots=[trust.root],
        other_certs=trust.intermediates,
        crls=trust.crls,
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=moment,
        retroactive_revinfo=moment is not None,
    )


async def _validate(sig: EmbeddedPdfSignature, trust: Trust, moment: datetime | None = None) -> PdfSignatureStatus:
    context = _context(trust, moment)
    return await async_validate_pdf_signature(
        sig, signer_validation_context=context, ts_validation_context=_context(trust)
    )


def _tst_serial(sig: EmbeddedPdfSignature) -> str:
    """Serial number of the signature time-stamp token (RFC 3161 TSTInfo.serialNumber), hex."""
    for attr in sig.signer_info["unsigned_attrs"] or ():
        if attr["type"].native == "signature_time_stamp_token":
            info = attr["values"][0]["content"]["encap_content_info"]["content"].parsed
            return format(int(info["serial_number"].native), "x")
    return ""


async def _long_term(sig: EmbeddedPdfSignature, reader: PdfFileReader, trust: Trust, moment: datetime) -> bool:
    """PAdES B-LT: do the document's own DSS certificates and revocation data alone (hard-fail, no network,
    not our database) prove the signer's chain and its status at the time-stamp?"""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return False
    context = dss.as_validation_context(
        {
            "trust_roots": [trust.root],
            "allow_fetching": False,
            "revocation_mode": "hard-fail",
            "moment": moment,
            "retroactive_revinfo": True,
        }
    )
    status = await async_validate_pdf_signature(sig, signer_validation_context=context, skip_diff=True)
    return bool(status.trusted)


async def _report(sig: EmbeddedPdfSignature, reader: PdfFileReader, trust: Trust) -> SignatureReport:
    problems: list[str] = []
    status = await _validate(sig, trust)
    cert = sig.signer_cert
    signer, org, uscc = _name_parts(cert)
    serial = format(cert.serial_number, "x")
    ts = status.timestamp_validity
    timestamp = None
    ts_ok = False
    if ts is not None:
        ts_ok = ts.intact and ts.valid and ts.trusted
        timestamp = TimestampReport(
            time=ts.timestamp.isoformat(), serial=_tst_serial(sig), intact=ts.intact and ts.valid, trusted=ts.trusted
        )
        if not ts_ok:
            problems.append("the time-stamp is not valid or not trusted")

    revocation, revoked_at = "good" if status.trusted else "unknown", None
    trusted = status.trusted
    details = status.revocation_details
    if status.revoked and details is not None:
        revoked_at = details.revocation_date.isoformat()
        reason = details.revocation_reason.native if details.revocation_reason is not None else "unspecified"
        if ts is not None and ts_ok and ts.timestamp < details.revocation_date and reason != "key_compromise":
            # Valid as of the time-stamp: re-run path validation at that moment (revocation data after it ok).
            earlier = await _validate(sig, trust, moment=ts.timestamp)
            trusted = earlier.trusted
            revocation = "revoked_after_signing" if trusted else "revoked"
        else:
            revocation = "revoked"
            problems.append(f"the signer's certificate is revoked ({reason})")
    elif not status.trusted and status.intact:
        problems.append("the signer's certificate does not chain to our root, or is not valid now")

    coverage = COVERAGE.get(status.coverage, "unclear") if status.coverage is not None else "unclear"
    level = status.modification_level
    changes = CHANGES.get(level, "unknown") if level is not None else "unknown"
    if not status.intact:
        problems.append("the signed content was altered (digest mismatch)")
    if not status.valid:
        problems.append("the signature value does not verify")
    if changes not in ACCEPTABLE_CHANGES:
        problems.append(f"the document was changed after signing ({changes})")
    valid = (
        status.intact
        and status.valid
        and trusted
        and (ts is None or ts_ok)
        and changes in ACCEPTABLE_CHANGES
        and status.seed_value_ok
    )
    return SignatureReport(
        field_name=sig.field_name,
        valid=bool(valid),
        intact=status.intact,
        signature_valid=status.valid,
        coverage=coverage,
        changes_after_signing=changes,
        signer=signer,
        organisation=org,
        uscc=uscc,
        cert_serial=serial,
        trusted=bool(trusted),
        revocation=revocation,
        revoked_at=revoked_at,
        signing_time=status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
        timestamp=timestamp,
        long_term=bool(ts is not None and ts_ok and await _long_term(sig, reader, trust, ts.timestamp)),
        problems=problems,
    )


def verify_pdf(data: bytes, trust: Trust, limits: Limits | None = None) -> Report:
    """Report on every signature in `data`; raises UnprocessablePdf only when the PDF cannot be read at all,
    or asks for more work than `limits` allow."""
    limits = limits or Limits()
    reader = open_pdf(data)  # the same checks as for signing: a PDF, not encrypted, readable
    try:
        if reader.xrefs.total_revisions > limits.max_revisions:
            raise UnprocessablePdf(f"the PDF has more than {limits.max_revisions} revisions; it is not verified")
        # Count the fields before pyHanko builds anything per field.
        for count, _ in enumerate(enumerate_sig_fields(reader, filled_status=True), 1):
            if count > limits.max_signatures:
                raise UnprocessablePdf(f"the PDF has more than {limits.max_signatures} signatures; it is not verified")
        signatures = list(reader.embedded_signatures)
    except UnprocessablePdf:
        raise
    except Exception:  # noqa: BLE001 - whatever pyHanko raises on a mangled file, the answer is the same
        raise UnprocessablePdf("the PDF's signatures cannot be read") from None

    async def run() -> list[SignatureReport]:
        out: list[SignatureReport] = []
        seen: dict[bytes, str] = {}  # signature value -> the field it was validated for
        for sig in signatures:
            value = _contents(sig)
            first = seen.get(value) if value is not None else None
            if first is not None:
                out.append(_broken(sig, f"the field carries the same signature value as field {first}"))
                continue
            if value is not None:
                seen[value] = str(sig.field_name)
            try:
                out.append(await _report(sig, reader, trust))
            except Exception:  # noqa: BLE001 - a report of our own words, never a library's internals
                out.append(_broken(sig, "the signature cannot be parsed"))
        return out

    reports = asyncio.run(run())
    return Report(valid=bool(reports) and all(r.valid for r in reports), signatures=reports)


def _contents(sig: EmbeddedPdfSignature) -> bytes | None:
    """The raw /Contents of the signature dictionary: what makes two fields the same signature."""
    try:
        value = sig.sig_object["/Contents"]
        return bytes(getattr(value, "original_bytes", value))
    except Exception:  # noqa: BLE001 - unreadable contents: the signature's own report will say so
        return None


def _broken(sig: EmbeddedPdfSignature, problem: str) -> SignatureReport:
    return SignatureReport(
        field_name=str(getattr(sig, "field_name", "?")),
        valid=False,
        intact=False,
        signature_valid=False,
        coverage="unclear",
        changes_after_signing="unknown",
        signer=None,
        organisation=None,
        uscc=None,
        cert_serial="",
        trusted=False,
        revocation="unknown",
        revoked_at=None,
        signing_time=None,
        timestamp=None,
        long_term=False,
        problems=[problem],
    )
