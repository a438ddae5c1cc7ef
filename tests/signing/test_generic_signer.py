"""Our fast PAdES path (`signing.pades` + `signing.cades`, built on pyHanko's internals, pinned for that) against
pyHanko's own generic signer (`PdfSigner` + `SimpleSigner`) with the same key, certificates, field, stamp and
input: the CMS must agree where PAdES says it must, both must validate with pyHanko's validator, and both byte
ranges must cover the same document. A pyHanko upgrade that changes what our shortcuts rely on fails here.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from idp.records import organisations
from idp.runtime import Runtime
from signing import pades, pki, sealing, seals
from signing.context import SigningContext
from signing.models import Seal
from signing.policy import Policy
from signing.sample import one_page_pdf
from signing.tsa import InProcessTimeStamper

USCC = "91110000600037341L"
FIELD = "Seal1"
PLACEMENT = pades.Placement(page=1, x=380, y=80, width=120)


@pytest.fixture(scope="module")
def org(module_rt: Runtime) -> str:
    with module_rt.transaction() as session:
        organisations.add(
            session,
            module_rt.protector,
            module_rt.uscc_rules,
            uscc=USCC,
            name="北京某某科技有限公司",
            kind="enterprise",
        )
    return USCC


@pytest.fixture(scope="module", params=["ec-p256", "rsa-2048"])
def seal(request: pytest.FixtureRequest, org: str, module_rt: Runtime, ctx: SigningContext) -> Seal:
    with module_rt.transaction() as session:
        made = seals.create(session, ctx, uscc=org, seal_type="official", policy=Policy(), key_alg=request.param)
        session.expunge(made)
    return made


def _ours(ctx: SigningContext, seal: Seal, document: bytes, timestamped: bool) -> bytes:
    material = sealing.material(ctx, seal)
    level = pades.B_T if timestamped else pades.B_B
    stamper = InProcessTimeStamper(ctx.tsa) if timestamped else None
    return pades.seal_pdf(document, material, PLACEMENT, level=level, timestamper=stamper, field_name=FIELD).data


def _generic(ctx: SigningContext, seal: Seal, document: bytes, timestamped: bool) -> bytes:
    material = sealing.material(ctx, seal)
    assert seal.sealed_key is not None
    key = pki.open_private_key(ctx.services.master, seal.sealed_key, seals.seal_label(seal.id))
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=material.cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(material.chain),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES, name=material.name
    )
    box = (380, 80, 500, 80 + int(120 * material.image.aspect))
    pdf_signer = signers.PdfSigner(
        meta,
        signer=signer,
        timestamper=InProcessTimeStamper(ctx.tsa) if timestamped else None,
        stamp_style=StaticStampStyle(background=material.image.content(), border_width=0, background_opacity=1.0),
        new_field_spec=fields.SigFieldSpec(sig_field_name=FIELD, on_page=0, box=box),
    )
    out: io.BytesIO = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(document)))
    return out.getvalue()


def _signature(data: bytes) -> EmbeddedPdfSignature:
    (sig,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    return sig


def _facts(sig: EmbeddedPdfSignature) -> dict[str, Any]:
    info = sig.signer_info
    signed = sig.signed_data
    return {
        "version": signed["version"].native,
        "content_type": signed["encap_content_info"]["content_type"].native,
        "detached": signed["encap_content_info"]["content"].native is None,
        "digest_algorithms": [a["algorithm"].native for a in signed["digest_algorithms"]],
        "certificates": sorted(c.chosen.dump() for c in signed["certificates"]),
        "sid": info["sid"].chosen.native,
        "digest_algorithm": info["digest_algorithm"]["algorithm"].native,
        "signature_algorithm": info["signature_algorithm"].signature_algo,
        "signed_attributes": sorted(a["type"].native for a in info["signed_attrs"]),
        "content_type_attr": [
            a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "content_type"
        ],
        "signing_certificate": [
            a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "signing_certificate_v2"
        ],
        "unsigned_attributes": sorted(a["type"].native for a in info["unsigned_attrs"] or []),
        "subfilter": sig.sig_object["/SubFilter"],
        "filter": sig.sig_object["/Filter"],
        "name": sig.sig_object.get("/Name"),
    }


def _context(ctx: SigningContext) -> ValidationContext:
    der = serialization.Encoding.DER
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(ctx.authority.root.cert.public_bytes(der))],
        other_certs=[asn1_x509.Certificate.load(ctx.authority.issuing.cert.public_bytes(der))],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


@pytest.mark.parametrize("timestamped", [False, True], ids=["B-B", "B-T"])
def test_our_fast_path_agrees_with_pyhankos_generic_signer(ctx: SigningContext, seal: Seal, timestamped: bool) -> None:
    document = one_page_pdf(("Same input", "for both signers"))
    ours, generic = _ours(ctx, seal, document, timestamped), _generic(ctx, seal, document, timestamped)
    a, b = _signature(ours), _signature(generic)

    # The CMS agrees where PAdES baseline (ETSI EN 319 142-1 §6.3) and RFC 5652 fix it.
    facts_a, facts_b = _facts(a), _facts(b)
    for key in (
        "version", "content_type", "detached", "digest_algorithms", "certificates", "sid", "digest_algorithm",
        "signature_algorithm", "content_type_attr", "signing_certificate", "unsigned_attributes", "subfilter",
        "filter", "name",
    ):  # fmt: skip
        assert facts_a[key] == facts_b[key], (key, facts_a[key], facts_b[key])
    # Signed attributes: ours are exactly the PAdES baseline's; pyHanko may add optional ones (CMS algorithm
    # protection), never leave out one of ours.
    assert facts_a["signed_attributes"] == ["content_type", "message_digest", "signing_certificate_v2"]
    assert set(facts_a["signed_attributes"]) <= set(facts_b["signed_attributes"])
    assert "signing_time" not in facts_b["signed_attributes"]  # PAdES: the time is in /M, not signed attributes
    if timestamped:
        assert facts_a["unsigned_attributes"] == ["signature_time_stamp_token"]

    # Both validate with pyHanko's own validator, chained to our root.
    for sig in (a, b):
        status = validate_pdf_signature(sig, signer_validation_context=_context(ctx))
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        if timestamped:
            assert status.timestamp_validity is not None and status.timestamp_validity.valid

    # Both byte ranges cover the same document: the input, unchanged, then a signing revision to the file's end
    # with only the /Contents hole left out.
    for data, sig in ((ours, a), (generic, b)):
        assert data.startswith(document)
        start1, length1, start2, length2 = sig.byte_range
        assert start1 == 0 and start2 + length2 == len(data)
        assert data[start1 + length1 : start1 + length1 + 1] == b"<" and data[start2 - 1 : start2] == b">"
        assert start1 + length1 > len(document)
