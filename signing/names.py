"""Names in certificates: X.509's upper bounds (RFC 5280 Appendix A.1, ub-organization-name and ub-common-name
64) count characters of the DirectoryString, not bytes of its UTF-8 encoding, so a 22-character Chinese name
(66 bytes) is well within them. `cryptography` checks the common name's length in bytes, so we check characters
ourselves and tell it not to.

A name longer than 64 characters cannot go into the certificate whole: O (or CN) then holds its first 64
characters, and the full name stays where no such bound applies — the seal record, the signature dictionary's
/Name in a PDF, the SESeal's name (UTF8String) in a national-format seal, the drawn seal image, and every page
and command output, which show the record.
"""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

UB_NAME = 64  # ub-organization-name = ub-common-name = 64 (RFC 5280 Appendix A.1)


def bounded(value: str, limit: int = UB_NAME) -> str:
    """`value` whole when it has at most `limit` characters, else its first `limit` characters."""
    return value[:limit]


def seal_common_name(org_name: str, label: str) -> str:
    """The seal certificate's CN, "<organisation><seal type>": when too long, the organisation part is
    shortened and the seal type (公章, 合同专用章...) kept, since that is what tells seals of one organisation apart."""
    full = f"{org_name}{label}"
    if len(full) <= UB_NAME:
        return full
    return f"{org_name[: max(UB_NAME - len(label), 1)]}{label}"[:UB_NAME]


def utf8_attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """A name attribute as UTF8String, its bound checked in characters (see the module's note)."""
    if not 1 <= len(value) <= UB_NAME:
        raise ValueError(f"a name attribute must be 1 to {UB_NAME} characters")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography's byte count, which does not apply
        return x509.NameAttribute(oid, value, _ASN1Type.UTF8String, _validate=False)


def seal_subject(org_name: str, org_identifier: str, common_name: str) -> x509.Name:
    """C, O, organizationIdentifier (ETSI EN 319 412-1 §5.1.4: `NTRCN-` + USCC), CN."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            utf8_attribute(NameOID.ORGANIZATION_NAME, bounded(org_name)),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org_identifier),
            utf8_attribute(NameOID.COMMON_NAME, bounded(common_name)),
        ]
    )
