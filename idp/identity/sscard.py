"""Social-security card numbers (社会保障卡卡号).

By the Social Insurance Law (art. 58) a person's social-security *number* is their citizen ID number.
The card carries a separate 9-character card number that changes whenever the card is reissued and has
no public check character: treat it as an attribute bound to a person, never as an identifier.
"""

from __future__ import annotations

import re

from idp.identity.errors import InvalidIdentifier

__all__ = ["normalize_ss_card_number"]

KIND = "ss_card"

# Explicit ASCII classes: `\w`/`\d` would let non-ASCII letters and digits through.
_CARD_RE = re.compile(r"[0-9A-Z]{9}")


def normalize_ss_card_number(value: str) -> str:
    """Return the card number without whitespace and upper-cased; 9 letters/digits or InvalidIdentifier."""
    number = "".join(value.split()).upper()
    if len(number) != 9:
        raise InvalidIdentifier(KIND, f"expected 9 characters, got {len(number)}")
    if _CARD_RE.fullmatch(number) is None:
        raise InvalidIdentifier(KIND, "only the letters A-Z and digits are allowed")
    return number
