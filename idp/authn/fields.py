"""Checking what a person typed before any provider is called: a typo is said to be a typo, in their language,
next to the field, and no paid verification is spent on it."""

from __future__ import annotations

from idp.authn.outcome import Invalid
from idp.errors import InvalidInput
from idp.records.people import normalise_id_number

MAX_NAME = 50


def name(raw: str) -> str | Invalid:
    value = " ".join(raw.split())
    if not value:
        return Invalid("name_required", field="name")
    if len(value) > MAX_NAME or any(c.isdigit() for c in value):
        return Invalid("name_format", field="name")
    return value


def id_number(raw: str) -> str | Invalid:
    value = raw.strip()
    if not value:
        return Invalid("id_required", field="id_number")
    if len(value) > 32:
        return Invalid("id_typo", field="id_number")
    try:
        number, _ = normalise_id_number(value)
    except InvalidInput:
        return Invalid("id_typo", field="id_number")
    return number


def bank_card(raw: str) -> str | Invalid:
    """UnionPay cards are 16-19 digits; the Luhn check is not applied (some valid UnionPay cards fail it)."""
    digits = "".join(c for c in raw if not c.isspace() and c != "-")
    if not digits:
        return Invalid("card_required", field="card_number")
    if not (digits.isascii() and digits.isdigit()) or not 16 <= len(digits) <= 19:
        return Invalid("card_format", field="card_number")
    return digits


def identity(raw_name: str, raw_id: str) -> tuple[str, str] | Invalid:
    """A name and an ID number, as a proofing step takes them; the first field that is wrong, if any."""
    checked_name, number = name(raw_name), id_number(raw_id)
    if isinstance(checked_name, Invalid):
        return checked_name
    if isinstance(number, Invalid):
        return number
    return checked_name, number
