"""The one masking helper: every page, log line and CLI output shows personal data through it.

Masks keep just enough to let a person recognise their own data (`350***********1234`, `138****8000`)
and nothing that would let someone else reconstruct it.
"""

from __future__ import annotations

import re

__all__ = ["mask", "mask_id_number", "mask_phone", "mask_name", "mask_subjects", "mask_text"]

# An ID-like run (15/18 chars, residence cards, USCC is public and never passed here) or a mainland mobile.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15}|[A-Za-z]{3}\d{12})(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")


def mask_id_number(value: str) -> str:
    """Keep the first 3 and last 4 characters: `350***********1234`."""
    v = value.strip()
    if len(v) <= 7:
        return "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 digits of the national number: `138****8000` (E.164 keeps `+86`)."""
    v = value.strip()
    prefix = ""
    if v.startswith("+86"):
        prefix, v = "+86", v[3:]
    if len(v) <= 7:
        return prefix + "*" * len(v)
    return prefix + v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_name(value: str) -> str:
    """Keep the family name (first character): `张**`; Latin names keep their first letter."""
    v = value.strip()
    if not v:
        return v
    return v[0] + "*" * max(len(v) - 1, 1)


def mask(value: str | None, kind: str) -> str:
    """Mask `value` as `kind` (`id_number`, `phone`, `name`, `card`, anything else: fully)."""
    if value is None:
        return ""
    if kind in ("id_number", "card", "ss_card"):
        return mask_id_number(value)
    if kind == "phone":
        return mask_phone(value)
    if kind == "name":
        return mask_name(value)
    return "*" * len(value)


# Certificate subjects as libraries print them: asn1crypto's `human_friendly` ("Common Name: 张三, Country: CN"),
# RFC 4514 ("CN=张三,O=..."), and asn1crypto's `native` dicts ('common_name': '张三' or ('common_name', '张三')). The attributes that can
# name a person or carry an ID number; the country and the USCC-based organisation identifier are public.
_DN_LABELS = (
    "Common Name|Surname|Given Name|Initials|Generation Qualifier|Name|Pseudonym|Serial Number|Email Address|"
    "Organization|Organizational Unit|Title|Street Address|Postal Address|Telephone Number|Unique Identifier"
)
_HUMAN_DN = re.compile(rf"(?<![A-Za-z])({_DN_LABELS}): ((?:[^,;\]\n\"]|\\.)+)")
_RFC4514_DN = re.compile(
    r"(?<![A-Za-z0-9_])(CN|SN|GN|O|OU|T|L|STREET|serialNumber|SERIALNUMBER|emailAddress|E|UID|pseudonym|"
    r"2\.5\.4\.(?:3|4|5|10|11|12|42|43|65))=((?:\\.|[^,+;\"\n\\])+)"
)
_NATIVE_DN = re.compile(
    r"(['\"])(common_name|surname|given_name|serial_number|organization_name|organizational_unit_name|"
    r"email_address|pseudonym|name|title)\1(: |, )(['\"])((?:(?!\4).)*)\4"
)


def _masked_value(value: str) -> str:
    stripped = value.strip()
    return mask_name(stripped) if stripped else value


def mask_subjects(text: str) -> str:
    """Mask the personal attributes of certificate subjects (and issuers) in free text: `CN=张*`,
    `Common Name: 张*`, `'common_name': '张*'`. For log lines, where libraries print whole subjects."""
    text = _HUMAN_DN.sub(lambda m: f"{m.group(1)}: {_masked_value(m.group(2))}", text)
    text = _RFC4514_DN.sub(lambda m: f"{m.group(1)}={_masked_value(m.group(2))}", text)
    return _NATIVE_DN.sub(
        lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{_masked_value(m[5])}{m[4]}",
        text,
    )


def mask_text(text: str) -> str:
    """Mask anything in free text that looks like an ID number or a mainland mobile number.

    A safety net for log lines and error messages, not a substitute for masking at the source.
    """
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(1)), text)
    return _PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
