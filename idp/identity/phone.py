"""Mainland China mobile numbers, normalised to E.164 (ITU-T E.164, `+86` + 11 digits).

Only the number's shape is checked (`1[3-9]` + 9 digits): carriers are not inferred because numbers
are portable between them, and phonenumbers' range metadata is not required to know a newly opened
number block.
"""

from __future__ import annotations

import re

import phonenumbers

from idp.identity.errors import InvalidIdentifier

__all__ = ["MOBILE_RE", "normalize_mobile"]

KIND = "mobile"

# National significant number of a mainland mobile; `[0-9]`, not `\d`, to stay ASCII-only.
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")

# Characters people use when writing a phone number, including the full-width forms Chinese input
# methods produce (phonenumbers folds those to ASCII).  Anything else is refused up front because
# phonenumbers would otherwise read letters as keypad digits or silently drop trailing junk.
_ALLOWED_CHARS = frozenset("0123456789０１２３４５６７８９+＋-－ \t()（）.\u3000")


def normalize_mobile(value: str) -> str:
    """Return the E.164 form (`+8613800138000`) of a mainland mobile number.

    Accepts national (`13800138000`), international (`+86 138 0013 8000`, `86-138-0013-8000`) and
    IDD (`008613800138000`) spellings.  Raises `InvalidIdentifier` (kind "mobile").
    """
    if not value.strip():
        raise InvalidIdentifier(KIND, "empty")
    if any(char not in _ALLOWED_CHARS for char in value):
        raise InvalidIdentifier(KIND, "only digits, spaces, +, -, parentheses and dots are allowed")
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(KIND, "not a phone number") from None
    if parsed.country_code != 86:
        raise InvalidIdentifier(KIND, f"not a mainland China number (country code +{parsed.country_code})")
    national = phonenumbers.national_significant_number(parsed)
    if MOBILE_RE.fullmatch(national) is None:
        raise InvalidIdentifier(KIND, "not a mainland mobile number (11 digits starting with 13-19)")
    return "+86" + national
