"""What a kiosk's ID-card reader read from the chip, checked before anything is asked of a provider.

A second-generation resident ID card (GB 11643 number, 18 characters, MOD 11-2 check character) or a
residence permit of the same layout carries its validity period; "长期" (long-term) cards have no end date.
Each check has its own reason; none of them repeats the card's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from idp.identity import InvalidIdentifier
from idp.identity.citizen_id import parse_citizen_id
from idp.kiosk.refusals import Refusal, refuse

MAX_NAME, MAX_AUTHORITY = 50, 100
LONG_TERM = ("长期", "long-term")


@dataclass(frozen=True)
class ChipData:
    """As read from the chip; `valid_until` None for a long-term card."""

    name: str
    number: str
    valid_from: date
    valid_until: date | None
    authority: str | None = None


def _date(raw: str, reason: str) -> date | Refusal:
    text = raw.strip().replace(".", "-")
    if len(text) == 8 and text.isdigit():  # the chip's own form, YYYYMMDD
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        return date.fromisoformat(text)
    except ValueError:
        return refuse(reason)


def parse(
    name: str, number: str, valid_from: str, valid_until: str, authority: str | None, today: date
) -> ChipData | Refusal:
    """The chip's fields, or the first reason to refuse the card (format, check character, validity)."""
    clean = " ".join(name.split())
    if not clean or len(clean) > MAX_NAME or any(c.isdigit() for c in clean):
        return refuse("card_name")
    if authority is not None and len(authority) > MAX_AUTHORITY:
        return refuse("card_format")
    raw = number.strip().upper()
    if len(raw) != 18:  # chips hold the 18-character number; the 15-digit legacy form was never on a chip
        return refuse("card_number_format")
    try:
        parsed = parse_citizen_id(raw, today=today)
    except InvalidIdentifier as exc:
        return refuse("card_number_checksum" if exc.reason.startswith("check character") else "card_number_format")
    start = _date(valid_from, "card_validity_format")
    if isinstance(start, Refusal):
        return start
    end: date | None = None
    if valid_until.strip().lower() not in LONG_TERM:
        until = _date(valid_until, "card_validity_format")
        if isinstance(until, Refusal):
            return until
        if until <= start:
            return refuse("card_validity_format")
        end = until
    if start > today:
        return refuse("card_not_yet_valid")
    if end is not None and end < today:
        return refuse("card_expired")
    return ChipData(clean, parsed.number, start, end, authority.strip() if authority else None)
