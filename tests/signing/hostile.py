"""Hostile PDFs for the verifier: many signature fields that all point at one signature value.

Each field makes pyHanko validate (and diff-analyse) the whole document again, so the work grows with the
square of the field count; a 75 KB file of this shape once took minutes of CPU.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.sample import one_page_pdf


def self_signed_signer(
    common_name: str = "Hostile Test Signer", extra: Sequence[x509.NameAttribute] = ()
) -> signers.SimpleSigner:
    """A pyHanko `SimpleSigner` with a throw-away self-signed P-256 certificate (not trusted by us); `extra`
    attributes come before the common name in its subject."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([*extra, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore(),
    )


def signed_pdf(signer: signers.Signer | None = None) -> bytes:
    """The sample page signed once by pyHanko's generic signer (field `Sig1`)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(one_page_pdf()))
    meta = signers.PdfSignatureMetadata(field_name="Sig1", md_algorithm="sha256")
    out = signers.sign_pdf(writer, meta, signer=signer or self_signed_signer())
    return out.getvalue()


def many_fields_one_signature(fields: int, signed: bytes | None = None) -> bytes:
    """`signed` plus an incremental update adding `fields` signature fields whose /V is the existing signature."""
    signed = signed or signed_pdf()
    reader = PdfFileReader(io.BytesIO(signed))
    first = reader.root["/AcroForm"]["/Fields"][0].get_object()
    value_ref = first.raw_get("/V")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    acroform = writer.root["/AcroForm"]
    field_refs = acroform["/Fields"]
    page_ref = writer.root["/Pages"]["/Kids"][0]
    for i in range(fields):
        field = generic.DictionaryObject(
            {
                pdf_name("/FT"): pdf_name("/Sig"),
                pdf_name("/T"): generic.TextStringObject(f"Copy{i}"),
                pdf_name("/V"): value_ref,
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(0)] * 4),
                pdf_name("/P"): page_ref,
                pdf_name("/F"): generic.NumberObject(132),
            }
        )
        field_refs.append(writer.add_object(field))
    writer.update_container(acroform)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
