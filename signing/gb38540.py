"""GB/T 38540-2020 (安全电子签章密码技术规范) structures, version 4: the electronic seal `SESeal` and the
electronic signature `SES_Signature`, encoded with asn1crypto.

    SESeal ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING (the seal maker's certificate),
                          signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
    SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                                picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
    SES_Header ::= SEQUENCE { ID IA5String ("ES"), version INTEGER (4), Vid IA5String }
    SES_ESPropertyInfo ::= SEQUENCE { type INTEGER (1 organisation, 2 personal), name UTF8String,
        certListType INTEGER (1 certificates, 2 digests), certList SES_CertList,
        createDate GeneralizedTime, validStart GeneralizedTime, validEnd GeneralizedTime }
    SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING, width INTEGER, height INTEGER }  -- mm
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING (the signer's certificate),
        signatureAlgID OBJECT IDENTIFIER, signature BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
    TBS_Sign ::= SEQUENCE { version INTEGER (4), eseal SESeal, timeInfo GeneralizedTime, dataHash BIT STRING,
        propertyInfo IA5String, extDatas [0] EXPLICIT ExtensionDatas OPTIONAL }

The maker signs the DER of SEQUENCE { eSealInfo, cert, signAlgID } (§6.2.2); the signer signs the DER of
TBS_Sign (§7.2.2), and the optional time-stamp is an RFC 3161 token over the signature value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import core
from asn1crypto import x509 as asn1_x509

from signing import sm2
from signing.asn1 import der

HEADER_ID = "ES"
VERSION = 4
VENDOR_ID = "YIWANG"
ORGANISATION, PERSONAL = 1, 2
CERT_LIST, DIGEST_LIST = 1, 2


class ExtData(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("extnID", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extnValue", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):  # type: ignore[misc]
    _child_spec = ExtData


class SesHeader(core.Sequence):  # type: ignore[misc]
    _fields = [("ID", core.IA5String), ("version", core.Integer), ("Vid", core.IA5String)]


class CertInfoList(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):  # type: ignore[misc]
    _fields = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):  # type: ignore[misc]
    _child_spec = CertDigestObj


# SES_CertList ::= CHOICE { certs CertInfoList, certDigestList CertDigestList }: both alternatives are an
# untagged SEQUENCE OF, so DER cannot tell them apart; certListType says which one it is (§6.2.4).


class SesPropertyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("certListType", core.Integer),
        ("certList", core.Any),
        ("createDate", core.GeneralizedTime),
        ("validStart", core.GeneralizedTime),
        ("validEnd", core.GeneralizedTime),
    ]


class SesPictureInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class SesSealInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("header", SesHeader),
        ("esID", core.IA5String),
        ("property", SesPropertyInfo),
        ("picture", SesPictureInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SeSeal(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("eSealInfo", SesSealInfo),
        ("cert", core.OctetString),
        ("signAlgID", core.ObjectIdentifier),
        ("signedValue", core.BitString),
    ]


class _SealTbs(core.Sequence):  # type: ignore[misc]
    """What the seal maker signs (§6.2.2)."""

    _fields = [("eSealInfo", SesSealInfo), ("cert", core.OctetString), ("signAlgID", core.ObjectIdentifier)]


class TbsSign(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("eseal", SeSeal),
        ("timeInfo", core.GeneralizedTime),
        ("dataHash", core.BitString),
        ("propertyInfo", core.IA5String),
        ("extDatas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SesSignature(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("toSign", TbsSign),
        ("cert", core.OctetString),
        ("signatureAlgID", core.ObjectIdentifier),
        ("signature", core.BitString),
        ("timeStamp", core.BitString, {"explicit": 0, "optional": True}),
    ]


def _gt(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class SealSpec:
    """What a seal says about itself: id, kind, name, the certificates it binds, validity, its picture."""

    es_id: str
    name: str
    seal_type: int
    certs: list[bytes]  # DER of each signer certificate the seal may be used with
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture_png: bytes
    width_mm: int
    height_mm: int


def make_seal(spec: SealSpec, maker_cert_der: bytes, maker_key: sm2.PrivateKey) -> bytes:
    """A DER SESeal signed by the seal-making authority."""
    info = SesSealInfo(
        {
            "header": {"ID": HEADER_ID, "version": VERSION, "Vid": VENDOR_ID},
            "esID": spec.es_id,
            "property": {
                "type": spec.seal_type,
                "name": spec.name,
                "certListType": CERT_LIST,
                "certList": core.Any.load(CertInfoList(spec.certs).dump()),
                "createDate": _gt(spec.created),
                "validStart": _gt(spec.valid_start),
                "validEnd": _gt(spec.valid_end),
            },
            "picture": {"type": "PNG", "data": spec.picture_png, "width": spec.width_mm, "height": spec.height_mm},
        }
    )
    tbs = _SealTbs({"eSealInfo": info, "cert": maker_cert_der, "signAlgID": sm2.SM2_SM3_OID})
    signature = sm2.sign(maker_key, der(tbs))
    return der(
        SeSeal(
            {"eSealInfo": info, "cert": maker_cert_der, "signAlgID": sm2.SM2_SM3_OID, "signedValue": _bits(signature)}
        )
    )


def _bits(data: bytes) -> core.BitString:
    # asn1crypto's BitString takes a tuple of bits or, for byte-aligned data, the bytes via `set`: build from DER.
    return core.BitString.load(b"\x03" + _length(len(data) + 1) + b"\x00" + data)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def bit_bytes(value: core.BitString) -> bytes:
    """The octets of a byte-aligned BIT STRING."""
    contents = bytes(value.contents)
    if not contents or contents[0] != 0:
        raise ValueError("BIT STRING is not byte-aligned")
    return contents[1:]


def seal_tbs(seal: SeSeal) -> bytes:
    return der(_SealTbs({"eSealInfo": seal["eSealInfo"], "cert": seal["cert"], "signAlgID": seal["signAlgID"]}))


def make_tbs_sign(seal_der: bytes, time_info: datetime, data_hash: bytes, property_info: str) -> TbsSign:
    return TbsSign(
        {
            "version": VERSION,
            "eseal": SeSeal.load(seal_der),
            "timeInfo": _gt(time_info),
            "dataHash": _bits(data_hash),
            "propertyInfo": property_info,
        }
    )


def make_signature(tbs: TbsSign, signer_cert_der: bytes, signature: bytes, timestamp: bytes | None) -> bytes:
    fields: dict[str, Any] = {
        "toSign": tbs,
        "cert": signer_cert_der,
        "signatureAlgID": sm2.SM2_SM3_OID,
        "signature": _bits(signature),
    }
    if timestamp is not None:
        fields["timeStamp"] = _bits(timestamp)
    return der(SesSignature(fields))


@dataclass(frozen=True)
class SealFacts:
    """A decoded SESeal, for `seal show` and verification."""

    es_id: str
    vendor: str
    version: int
    seal_type: int
    name: str
    certs: list[asn1_x509.Certificate]
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture_type: str
    picture: bytes
    width_mm: int
    height_mm: int
    maker: asn1_x509.Certificate
    algorithm: str
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "header": {"id": HEADER_ID, "version": self.version, "vid": self.vendor},
            "es_id": self.es_id,
            "type": {ORGANISATION: "organisation", PERSONAL: "personal"}.get(self.seal_type, str(self.seal_type)),
            "name": self.name,
            "certificates": [
                {"subject": c.subject.human_friendly, "serial": format(c.serial_number, "x")} for c in self.certs
            ],
            "created": self.created.isoformat(),
            "valid_start": self.valid_start.isoformat(),
            "valid_end": self.valid_end.isoformat(),
            "picture": {"type": self.picture_type, "bytes": len(self.picture), "mm": [self.width_mm, self.height_mm]},
            "maker": self.maker.subject.human_friendly,
            "algorithm": self.algorithm,
        }


def decode_seal(seal_der: bytes) -> SealFacts:
    """Parse a DER SESeal (ValueError when it is not one, or not version 4)."""
    try:
        seal = SeSeal.load(seal_der, strict=True)
        info = seal["eSealInfo"]
        header = info["header"]
        if header["ID"].native != HEADER_ID or header["version"].native != VERSION:
            raise ValueError("not a GB/T 38540 version 4 seal")
        prop = info["property"]
        if prop["certListType"].native != CERT_LIST:
            raise ValueError("only seals that list certificates (certListType 1) are supported")
        certs = CertInfoList.load(prop["certList"].dump(), strict=True)
        pic = info["picture"]
        return SealFacts(
            es_id=info["esID"].native,
            vendor=header["Vid"].native,
            version=header["version"].native,
            seal_type=prop["type"].native,
            name=prop["name"].native,
            certs=[asn1_x509.Certificate.load(c.native) for c in certs],
            created=prop["createDate"].native,
            valid_start=prop["validStart"].native,
            valid_end=prop["validEnd"].native,
            picture_type=pic["type"].native,
            picture=pic["data"].native,
            width_mm=pic["width"].native,
            height_mm=pic["height"].native,
            maker=asn1_x509.Certificate.load(seal["cert"].native),
            algorithm=seal["signAlgID"].dotted,
            signature=bit_bytes(seal["signedValue"]),
        )
    except (TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"not a GB/T 38540 seal: {exc}") from None


def verify_seal_signature(seal_der: bytes) -> bool:
    """The maker's SM2 signature over the seal holds (who the maker is, the caller judges)."""
    facts = decode_seal(seal_der)
    if facts.algorithm != sm2.SM2_SM3_OID:
        return False
    try:
        public = sm2.load_public(facts.maker.public_key.dump())
    except ValueError:
        return False
    return sm2.verify(public, facts.signature, seal_tbs(SeSeal.load(seal_der)))


@dataclass(frozen=True)
class SignatureFacts:
    seal_der: bytes
    time_info: datetime
    data_hash: bytes
    property_info: str
    signer: asn1_x509.Certificate
    algorithm: str
    signature: bytes
    timestamp: bytes | None
    tbs_der: bytes


def decode_signature(signature_der: bytes) -> SignatureFacts:
    try:
        sig = SesSignature.load(signature_der, strict=True)
        tbs = sig["toSign"]
        if tbs["version"].native != VERSION:
            raise ValueError("not a version 4 SES_Signature")
        stamp = sig["timeStamp"]
        return SignatureFacts(
            seal_der=tbs["eseal"].dump(),
            time_info=tbs["timeInfo"].native,
            data_hash=bit_bytes(tbs["dataHash"]),
            property_info=tbs["propertyInfo"].native,
            signer=asn1_x509.Certificate.load(sig["cert"].native),
            algorithm=sig["signatureAlgID"].dotted,
            signature=bit_bytes(sig["signature"]),
            timestamp=None if isinstance(stamp, core.Void) else bit_bytes(stamp),
            tbs_der=tbs.dump(),
        )
    except (TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"not a GB/T 38540 signature: {exc}") from None
