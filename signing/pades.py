"""PAdES signing (ETSI EN 319 142-1) of PDFs with a visible seal: B-B, B-T (RFC 3161 signature time-stamp)
and B-LT (certificates, OCSP responses and CRLs in the document security store, ISO 32000-2 §12.8.4.3).

Built on pyHanko's `PdfSigner`, with three changes that matter for throughput (see REFERENCE.md):
- `LoadedKeySigner` keeps the private key object loaded; stock `SimpleSigner` re-parses it for every signature.
- We reserve the signature's space from the known certificate sizes instead of letting pyHanko build (and
  sign) a dummy CMS first to measure it.
- B-LT revocation data comes from our own CA in-process and is written straight into the DSS; pyHanko's
  generic route would validate the chain and fetch revocation data over the network.
The seal image is compressed once per seal (`StampImage`), not once per document.

This module knows nothing of the database or of policies: `signing.sealing` decides who may sign what.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import PdfContent, ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.asn1 import settle
from signing.cades import CadesTemplate
from signing.errors import InvalidInput, SigningError, UnprocessablePdf

B_B, B_T, B_LT = "B-B", "B-T", "B-LT"
LEVELS = (B_B, B_T, B_LT)
MAX_STAMP_PIXELS = 300
MAX_PDF_BYTES = 50 * 1024 * 1024  # uploads and CLI input; a sealed document is rarely a tenth of this


@dataclass(frozen=True)
class Placement:
    """Where the visible seal goes: 1-based page (negative counts from the end), lower-left corner and width
    in PDF points (1/72 inch). The height follows the image's aspect ratio."""

    page: int = 1
    x: float = 380.0
    y: float = 80.0
    width: float = 120.0

    def __post_init__(self) -> None:
        # NaN passes every "outside the page?" comparison and infinity has no integer: refuse both here.
        if not all(math.isfinite(v) for v in (self.x, self.y, self.width)):
            raise InvalidInput("the seal's position and width must be finite numbers")


class StampImage:
    """A seal image compressed once into the two streams a PDF image needs (RGB + alpha soft mask)."""

    def __init__(self, png: bytes) -> None:
        with Image.open(io.BytesIO(png)) as img:
            rgba = img.convert("RGBA")
        rgba.thumbnail((MAX_STAMP_PIXELS, MAX_STAMP_PIXELS), Image.Resampling.LANCZOS)
        self.width, self.height = rgba.size
        self._rgb = zlib.compress(rgba.convert("RGB").tobytes(), 6)
        self._alpha = zlib.compress(rgba.getchannel("A").tobytes(), 6)

    @property
    def aspect(self) -> float:
        return self.height / self.width

    def content(self) -> PdfContent:
        return _StampContent(self)

    def _stream(
        self, data: bytes, colour_space: str, extra: dict[generic.NameObject, generic.PdfObject]
    ) -> generic.StreamObject:
        return generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Image"),
                pdf_name("/Width"): generic.NumberObject(self.width),
                pdf_name("/Height"): generic.NumberObject(self.height),
                pdf_name("/ColorSpace"): pdf_name(colour_space),
                pdf_name("/BitsPerComponent"): generic.NumberObject(8),
                pdf_name("/Filter"): pdf_name("/FlateDecode"),
                **extra,
            },
            encoded_data=data,
        )

    def write(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        mask = writer.add_object(self._stream(self._alpha, "/DeviceGray", {}))
        return writer.add_object(self._stream(self._rgb, "/DeviceRGB", {pdf_name("/SMask"): mask}))


class _StampContent(PdfContent):  # type: ignore[misc]
    """One document's use of a `StampImage` (PdfContent objects are per writer, so never shared)."""

    def __init__(self, image: StampImage) -> None:
        super().__init__(box=BoxConstraints(image.width, image.height))
        self._image = image

    def render(self) -> bytes:
        ref = self._image.write(self._ensure_writer)
        self.set_resource(category=ResourceType.XOBJECT, name=pdf_name("/Seal"), value=ref)
        return b"q %g 0 0 %g 0 0 cm /Seal Do Q" % (self.box.width, self.box.height)


class TemplateSigner(Signer):  # type: ignore[misc]
    """A pyHanko signer that builds its CMS from a per-certificate `CadesTemplate` (see `signing.cades`);
    subclasses supply `async_sign_raw` and `max_signature_bytes`."""

    max_signature_bytes = 512

    def __init__(
        self, cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate], signature_algorithm: str
    ) -> None:
        super().__init__(signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(chain), embed_roots=True)
        self.template = CadesTemplate(cert, chain, signature_algorithm)

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: Any = False,
        use_pades: Any = False,
        timestamper: Any = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: Any = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        if digest_algorithm != "sha256" or dry_run or not use_pades or encap_content_info is not None:
            generic = await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
            return settle(generic)  # type: ignore[no-any-return]

        async def raw(data: bytes) -> bytes:
            return await self.async_sign_raw(data, "sha256")  # type: ignore[no-any-return]

        return cms.ContentInfo.load(await self.template.sign(data_digest, raw, timestamper))


def signature_algorithm_for(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
) -> str:
    return "sha256_ecdsa" if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) else "sha256_rsa"


def max_signature_bytes(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
) -> int:
    # DER ECDSA signatures are at most 2 * (order bytes + 3) + 2; RSA ones exactly the modulus size.
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return 2 * (key.curve.key_size // 8 + 3) + 2
    return key.key_size // 8


class LoadedKeySigner(TemplateSigner):
    """A signer around a key that stays loaded; a dry run costs nothing (zero bytes of the right size)."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        cert: asn1_x509.Certificate,
        chain: list[asn1_x509.Certificate],
    ) -> None:
        super().__init__(cert, chain, signature_algorithm_for(key))
        self._key = key
        self.max_signature_bytes = max_signature_bytes(key)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self.max_signature_bytes)
        algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[digest_algorithm]
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        return self._key.sign(data, padding.PKCS1v15(), algorithm)


@dataclass(frozen=True)
class Revocation:
    """What B-LT embeds in the DSS: certificates, OCSP responses and CRLs (all DER)."""

    certs: list[bytes]
    ocsps: list[bytes]
    crls: list[bytes]


@dataclass(frozen=True)
class SealMaterial:
    """Everything needed to seal with one key, prepared once: signer, chain, image."""

    signer: Signer
    cert: asn1_x509.Certificate
    chain: list[asn1_x509.Certificate]
    image: StampImage
    name: str
    extra_bytes: int = 0  # signers whose output is longer than `max_signature_bytes` (none of ours)
    sizes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", len(self.cert.dump()) + sum(len(c.dump()) for c in self.chain))


@dataclass(frozen=True)
class SignedPdf:
    data: bytes
    level: str
    field_name: str
    document_sha256: str
    signed_sha256: str
    signed_at: datetime | None = None
    tsa_serial: int | None = None
    tsa_time: datetime | None = None


def open_pdf(data: bytes) -> PdfFileReader:
    """Parse untrusted input: not a PDF, encrypted or broken is a clear `UnprocessablePdf`."""
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise UnprocessablePdf("the upload is not a PDF")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise UnprocessablePdf("the PDF is encrypted; send it without encryption")
        pages = int(reader.root["/Pages"]["/Count"])
        if pages < 1:
            raise UnprocessablePdf("the PDF has no pages")
    except UnprocessablePdf:
        raise
    except Exception:  # noqa: BLE001 - pyHanko's PdfReadError, AssertionError, RecursionError... all mean the same
        raise UnprocessablePdf("the PDF is broken and cannot be read") from None
    return reader


def _page_index(reader: PdfFileReader, page: int) -> tuple[int, tuple[float, float, float, float]]:
    """0-based index and media box of the requested (1-based, or negative from the end) page."""
    count = int(reader.root["/Pages"]["/Count"])
    if page == 0 or abs(page) > count:
        raise InvalidInput(f"page {page} does not exist (the document has {count})")
    index = page - 1 if page > 0 else count + page
    try:
        node = reader.find_page_for_modification(index)[0].get_object()
        media = None
        for _ in range(64):  # /MediaBox is inheritable (ISO 32000-1 §7.7.3.4): walk up the page tree
            media = node.get("/MediaBox")
            if media is not None or "/Parent" not in node:
                break
            node = node["/Parent"].get_object()
        x0, y0, x1, y1 = (float(v) for v in media) if media is not None else (0.0, 0.0, 595.0, 842.0)
    except Exception:  # noqa: BLE001 - any failure walking an untrusted page tree
        raise UnprocessablePdf("the PDF's page tree is broken") from None
    return index, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _box(
    placement: Placement, image: StampImage, media: tuple[float, float, float, float]
) -> tuple[int, int, int, int]:
    if not 10 <= placement.width <= 1000:
        raise InvalidInput("the seal width must be 10 to 1000 points")
    height = placement.width * image.aspect
    x0, y0 = placement.x, placement.y
    if x0 < media[0] or y0 < media[1] or x0 + placement.width > media[2] or y0 + height > media[3]:
        raise InvalidInput("the seal would not fit on the page at that position")
    return int(x0), int(y0), int(x0 + placement.width), int(y0 + height)


def seal_pdf(
    document: bytes,
    material: SealMaterial,
    placement: Placement,
    *,
    level: str = B_LT,
    timestamper: TimeStamper | None = None,
    revocation: Callable[[], Revocation] | None = None,
    field_name: str,
    reason: str | None = None,
) -> SignedPdf:
    """Sign `document` (PDF bytes) with a visible seal; returns the signed PDF and what to record about it."""
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}")
    if level != B_B and timestamper is None:
        raise ValueError(f"{level} needs a time-stamper")
    if level == B_LT and revocation is None:
        raise ValueError("B-LT needs a source of revocation information")
    reader = open_pdf(document)
    page_index, media = _page_index(reader, placement.page)
    box = _box(placement, material.image, media)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(document), strict=False)
    except Exception:  # noqa: BLE001 - as in open_pdf
        raise UnprocessablePdf("the PDF is broken and cannot be read") from None
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        name=material.name,
    )
    recorder = _RecordingTimeStamper(timestamper) if timestamper is not None and level != B_B else None
    pdf_signer = signers.PdfSigner(
        meta,
        signer=material.signer,
        timestamper=recorder,
        stamp_style=StaticStampStyle(background=material.image.content(), border_width=0, background_opacity=1.0),
        new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=page_index, box=box),
    )
    # Room for: our certificates, the TSA token (its certificates and TSTInfo), signed attributes, and slack.
    reserved = material.sizes + getattr(material.signer, "max_signature_bytes", 512) + material.extra_bytes + 1500
    if level != B_B:
        reserved += len(material.chain[0].dump()) + 3000
    reserved *= 2  # pyHanko counts the reservation in hex digits
    try:
        out: io.BytesIO = asyncio.run(pdf_signer.async_sign_pdf(writer, bytes_reserved=reserved))
    except SigningError:
        raise  # ours (a key that cannot be used, a time-stamp refused): it says what is wrong
    except Exception:  # noqa: BLE001 - whatever pyHanko trips over in an untrusted document's structure
        raise UnprocessablePdf("the PDF cannot be signed: its structure is broken") from None
    tsa_serial, tsa_time = recorder.serial_and_time() if recorder is not None else (None, None)
    signed = out.getvalue()
    if level == B_LT:
        assert revocation is not None
        signed = _add_dss(signed, revocation())
    return SignedPdf(
        data=signed,
        level=level,
        field_name=field_name,
        document_sha256=hashlib.sha256(document).hexdigest(),
        signed_sha256=hashlib.sha256(signed).hexdigest(),
        tsa_serial=tsa_serial,
        tsa_time=tsa_time,
    )


class _RecordingTimeStamper(TimeStamper):  # type: ignore[misc]
    """Wraps the caller's time-stamper for one signature, keeping the token it returns (for the record)."""

    def __init__(self, inner: TimeStamper) -> None:
        super().__init__()
        self._inner = inner
        self.token: cms.ContentInfo | None = None

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        token = await self._inner.async_timestamp(message_digest, md_algorithm)
        self.token = token
        return token

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        return await self._inner.async_dummy_response(md_algorithm)

    def serial_and_time(self) -> tuple[int | None, datetime | None]:
        if self.token is None:
            return None, None
        info = self.token["content"]["encap_content_info"]["content"].parsed
        return int(info["serial_number"].native), info["gen_time"].native


def _add_dss(signed: bytes, revocation: Revocation) -> bytes:
    """Append the DSS as an incremental update after the signature (PAdES B-LT, ETSI EN 319 142-1 §5.4)."""
    stream = io.BytesIO(signed)
    stream.seek(0, io.SEEK_END)
    DocumentSecurityStore.add_dss(
        stream,
        sig_contents=None,
        certs=[asn1_x509.Certificate.load(c) for c in revocation.certs],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in revocation.ocsps],
        crls=[asn1_crl.CertificateList.load(c) for c in revocation.crls],
        strict=False,
    )
    return stream.getvalue()
