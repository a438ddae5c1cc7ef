"""Verifying every electronic seal in an OFD package (GB/T 38540 §8.2 verification steps, GB/T 33190 §18).

For each signature listed in Signatures.xml:
1. every `Reference` in Signature.xml: the SM3 digest of the file it names equals its CheckValue; any file
   outside `Signs/` that no reference covers was added after sealing;
2. `SES_Signature`: dataHash is the SM3 digest of Signature.xml as it stands; the SM2 signature over TBS_Sign
   verifies with the signer's certificate;
3. the `SESeal`: its maker's SM2 signature holds and the maker's certificate is ours; the seal lists the
   signer's certificate; the signing time lies within the seal's validity;
4. the signer's certificate chains to our SM2 root and was valid at the signing time;
5. revocation from our SM2 CRL (its signature checked): a signature whose trusted time-stamp predates a
   revocation for a reason other than key compromise stays valid, as for PAdES (`signing.verify`);
6. the time-stamp over the signature value, if any: imprint, content, SM2 signature, signer our TSA.

The signing time is the time-stamp's when there is a valid one, else the time the signer claimed (timeInfo).
"""

from __future__ import annotations

import base64
import posixpath
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from signing import gb38540, ofd, sm2, sm_tsa
from signing.ofd import Q
from signing.sm_pki import verify_issued_by

SM3_NAMES = (sm2.SM3_OID, "SM3", "sm3")


@dataclass(frozen=True)
class SmTrust:
    """Our SM2 root and issuing CA, the issuing CA's current CRL, and our seal-making authority's certificate:
    only seals it made are ours — any other holder of a certificate from our CA (a seal's own key, say) could
    otherwise mint a seal with any name and validity."""

    root: asn1_x509.Certificate
    issuing: asn1_x509.Certificate
    crl: bytes
    maker: asn1_x509.Certificate | None = None


@dataclass(frozen=True)
class Stamp:
    time: str | None
    serial: str | None
    valid: bool


@dataclass
class SealReport:
    path: str
    valid: bool = False
    seal_name: str | None = None
    seal_id: str | None = None
    seal_valid: str | None = None
    signer: str | None = None
    signer_serial: str | None = None
    files_checked: int = 0
    integrity: str = "BROKEN"
    signature_valid: bool = False
    trusted: bool = False
    revocation: str = "unknown"
    revoked_at: str | None = None
    signing_time: str | None = None
    timestamp: Stamp | None = None
    page: str | None = None
    boundary: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OfdReport:
    valid: bool
    signatures: list[SealReport]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "ofd", **asdict(self)}


def _revocations(trust: SmTrust) -> dict[int, tuple[datetime, str]] | None:
    """Serial → (time, reason) from the CRL, or None when the CRL is not our issuing CA's."""
    try:
        crl = asn1_crl.CertificateList.load(trust.crl)
        tbs = crl["tbs_cert_list"]
        public = sm2.load_public(trust.issuing.public_key.dump())
        if tbs["issuer"] != trust.issuing.subject or not sm2.verify(public, crl["signature"].native, tbs.dump()):
            return None
        found: dict[int, tuple[datetime, str]] = {}
        for entry in tbs["revoked_certificates"]:
            reason = entry.crl_reason_value.native if entry.crl_reason_value is not None else "unspecified"
            found[entry["user_certificate"].native] = (entry["revocation_date"].native, reason)
        return found
    except (ValueError, TypeError, KeyError):
        return None


def _ours(cert: asn1_x509.Certificate, trust: SmTrust) -> bool:
    return verify_issued_by(cert, trust.issuing) and verify_issued_by(trust.issuing, trust.root)


def _is_tsa(cert: asn1_x509.Certificate) -> bool:
    """RFC 3161 §2.3: a time-stamping unit's certificate has the critical EKU id-kp-timeStamping, alone."""
    eku = cert.extended_key_usage_value
    return eku is not None and eku.native == ["time_stamping"] and "extended_key_usage" in cert.critical_extensions


def _within(cert: asn1_x509.Certificate, moment: datetime) -> bool:
    return bool(cert.not_valid_before <= moment <= cert.not_valid_after)


def _check_references(files: ofd.Package, sig_path: str, signed_info: Any, report: SealReport) -> set[str]:
    refs = signed_info.find(f"{Q}References")
    covered: set[str] = set()
    if refs is None or refs.get("CheckMethod", "") not in SM3_NAMES:
        report.problems.append("Signature.xml names no SM3 references")
        return covered
    intact = True
    for ref in refs.iterfind(f"{Q}Reference"):
        try:
            path = ofd.resolve(sig_path, ref.get("FileRef", ""))
        except Exception:  # noqa: BLE001 - UnprocessableOfd: a reference that climbs out of the package
            intact = False
            report.problems.append("a reference names a path outside the package")
            continue
        covered.add(path)
        data = files.get(path)
        try:
            expected = base64.b64decode((ref.findtext(f"{Q}CheckValue") or "").strip(), validate=True)
        except ValueError:
            expected = b""
        if data is None:
            intact = False
            report.problems.append(f"protected file {path} is missing")
        elif sm2.sm3(data) != expected:
            intact = False
            report.problems.append(f"protected file {path} was changed after sealing")
    report.files_checked = len(covered)
    if intact and covered:
        report.integrity = "intact"
    return covered


def _check_one(files: ofd.Package, sig_path: str, signs_dir: str, trust: SmTrust, page_ids: set[str]) -> SealReport:
    report = SealReport(path=sig_path)
    root = ofd.parse_xml(files, sig_path)
    signed_info = root.find(f"{Q}SignedInfo")
    if signed_info is None:
        report.problems.append("Signature.xml has no SignedInfo")
        return report
    covered = _check_references(files, sig_path, signed_info, report)
    unprotected = [name for name in files if name not in covered and not name.startswith(signs_dir + "/")]
    for name in sorted(unprotected):
        report.integrity = "BROKEN"
        report.problems.append(f"file {name} was added after sealing")
    annot = signed_info.find(f"{Q}StampAnnot")
    if annot is not None:
        report.page, report.boundary = annot.get("PageRef"), annot.get("Boundary")
    if annot is None or report.page not in page_ids:
        report.problems.append("the seal is placed on no page of the document")
    value_path = ofd.resolve(sig_path, (root.findtext(f"{Q}SignedValue") or "").strip() or "SignedValue.dat")
    ses_der = files.get(value_path)
    if ses_der is None:
        report.problems.append(f"the signed value {value_path} is missing")
        return report
    try:
        facts = gb38540.decode_signature(ses_der)
        seal = gb38540.decode_seal(facts.seal_der)
    except ValueError:  # the decoder's message is asn1crypto's, about tags and offsets: not for the report
        report.problems.append("SignedValue.dat is not a GB/T 38540 signature")
        return report
    report.seal_name, report.seal_id = seal.name, seal.es_id
    report.seal_valid = f"{seal.valid_start.isoformat()} .. {seal.valid_end.isoformat()}"
    report.signer = facts.signer.subject.human_friendly
    report.signer_serial = format(facts.signer.serial_number, "x")

    # 2. The signature itself.
    if facts.data_hash != sm2.sm3(files[sig_path]):
        report.problems.append("Signature.xml was changed after sealing (its SM3 digest differs from dataHash)")
    else:
        try:
            public = sm2.load_public(facts.signer.public_key.dump())
            report.signature_valid = facts.algorithm == sm2.SM2_SM3_OID and sm2.verify(
                public, facts.signature, facts.tbs_der
            )
        except ValueError:
            report.signature_valid = False
        if not report.signature_valid:
            report.problems.append("the SM2 signature does not verify with the signer's certificate")

    # 6. Time-stamp, which fixes the signing time when valid.
    moment = facts.time_info
    ts_time: datetime | None = None
    if facts.timestamp is not None:
        stamp = sm_tsa.check(facts.timestamp, facts.signature)
        ts_ok = stamp.intact and stamp.signer is not None and _ours(stamp.signer, trust) and _is_tsa(stamp.signer)
        if stamp.gen_time is not None and stamp.signer is not None and not _within(stamp.signer, stamp.gen_time):
            ts_ok = False
        report.timestamp = Stamp(
            time=stamp.gen_time.isoformat() if stamp.gen_time else None,
            serial=format(stamp.serial, "x") if stamp.serial is not None else None,
            valid=ts_ok,
        )
        if ts_ok and stamp.gen_time is not None:
            ts_time = moment = stamp.gen_time
        else:
            report.problems.append(stamp.problem or "the time-stamp is not signed by our time-stamping authority")
    report.signing_time = moment.isoformat()

    # 3. The seal.
    if not gb38540.verify_seal_signature(facts.seal_der):
        report.problems.append("the seal's own signature (by its maker) does not verify")
    if not _ours(seal.maker, trust) or trust.maker is None or seal.maker.dump() != trust.maker.dump():
        report.problems.append("the seal was not made by our seal-making authority")
    if not any(c.dump() == facts.signer.dump() for c in seal.certs):
        report.problems.append("the seal does not list the signer's certificate")
    if not seal.valid_start <= moment <= seal.valid_end:
        report.problems.append("the seal was outside its validity period when it was used")

    # 4. The signer's certificate.
    report.trusted = _ours(facts.signer, trust) and _within(facts.signer, moment)
    if not report.trusted:
        report.problems.append("the signer's certificate does not chain to our SM2 root, or was not valid then")

    # 5. Revocation (signer and seal maker).
    revoked = _revocations(trust)
    if revoked is None:
        report.problems.append("no valid revocation list from our SM2 issuing CA")
    else:
        report.revocation = "good"
        for cert, who in ((facts.signer, "signer's"), (seal.maker, "seal maker's")):
            hit = revoked.get(cert.serial_number)
            if hit is None:
                continue
            when, reason = hit
            if who == "signer's":
                report.revoked_at = when.isoformat()
            if ts_time is not None and ts_time < when and reason != "key_compromise":
                report.revocation = "revoked_after_signing" if report.revocation == "good" else report.revocation
            else:
                report.revocation = "revoked"
                report.problems.append(f"the {who} certificate is revoked ({reason})")
    report.valid = not report.problems and report.integrity == "intact" and report.signature_valid and report.trusted
    return report


def verify_ofd(data: bytes, trust: SmTrust) -> OfdReport:
    """Every seal in the package (UnprocessableOfd when the package cannot be read)."""
    files = ofd.read_package(data)
    layout = ofd.layout(files)
    reports: list[SealReport] = []
    page_ids = {page.id for page in layout.pages}
    if layout.signatures is not None and layout.signatures in files:
        listing = ofd.parse_xml(files, layout.signatures)
        signs_dir = posixpath.dirname(layout.signatures)
        listed: set[str] = set()
        for entry in listing.iterfind(f"{Q}Signature"):
            path = ofd.resolve(layout.signatures, entry.get("BaseLoc", ""))
            listed.add(path)
            if path not in files:
                reports.append(SealReport(path=path, problems=[f"the listed signature {path} is missing"]))
                continue
            reports.append(_check_one(files, path, signs_dir, trust, page_ids))
        # Signatures.xml is the one file no seal protects: a seal taken off the list must not pass unnoticed.
        for name in sorted(files):
            if name.startswith(signs_dir + "/") and name.endswith("/Signature.xml") and name not in listed:
                reports.append(SealReport(path=name, problems=["this seal is in the package but not listed"]))
    return OfdReport(valid=bool(reports) and all(r.valid for r in reports), signatures=reports)
