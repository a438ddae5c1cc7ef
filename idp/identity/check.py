"""One entry point that recognises any supported identifier and says what it reveals.

Used by the CLI and the admin pages: `facts` is what may be displayed next to a (masked) number, so it
holds parts and meanings (region, birth date, sex, authority …) and never the full number itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from idp.identity.citizen_id import parse_citizen_id
from idp.identity.errors import InvalidIdentifier
from idp.identity.foreign_pr import parse_foreign_pr
from idp.identity.phone import normalize_mobile
from idp.identity.regions import region_name
from idp.identity.sscard import normalize_ss_card_number
from idp.identity.uscc import UsccRules, parse_uscc

__all__ = ["KINDS", "Checked", "check_identifier"]

KINDS = ("citizen_id", "foreign_pr", "uscc", "mobile", "ss_card")

# Kinds tried, in order, when the caller does not name one.  ss_card is left out on purpose: with no
# check character any 9 letters/digits would "match", so it is only checked when asked for.
_AUTO_ORDER = ("citizen_id", "foreign_pr", "uscc", "mobile")

_ID_18 = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS = re.compile(r"[0-9]+")
_FOREIGN_2017_SHAPE = re.compile(r"[A-Z]{3}[0-9A-Z]{12}")
_PHONE_SEPARATORS = re.compile(r"[-().+]")


@dataclass(frozen=True, slots=True)
class Checked:
    """A recognised identifier: its kind (one of `KINDS`), normalised form and displayable facts."""

    kind: str
    normalized: str
    facts: dict[str, str]


def _labelled(code: str, name: str | None) -> str:
    return f"{code} {name}" if name else code


def _check_citizen_id(value: str, today: date | None) -> Checked:
    parsed = parse_citizen_id(value, today=today)
    facts = {
        "document": parsed.kind,
        "region": _labelled(parsed.region_code, parsed.region_name),
        "birth_date": parsed.birth_date.isoformat(),
        "sex": parsed.sex,
    }
    if len("".join(value.split())) == 15:
        facts["converted_from"] = "legacy 15-digit number"
    return Checked("citizen_id", parsed.number, facts)


def _check_foreign_pr(value: str, today: date | None) -> Checked:
    parsed = parse_foreign_pr(value, today=today)
    facts = {
        "format": parsed.format,
        "nationality": parsed.nationality,
        "birth_date": parsed.birth_date.isoformat(),
        "region": _labelled(parsed.region_code, region_name(parsed.region_code)),
    }
    return Checked("foreign_pr", parsed.number, facts)


def _check_uscc(value: str, rules: UsccRules | None) -> Checked:
    parsed = parse_uscc(value, rules)
    facts = {
        "authority": _labelled(parsed.authority_code, parsed.authority_name),
        "type": _labelled(parsed.type_code, parsed.type_name),
        "region": _labelled(parsed.region_code, parsed.region_name),
        "org_code": parsed.org_code,
    }
    return Checked("uscc", parsed.code, facts)


def _check_mobile(value: str) -> Checked:
    return Checked("mobile", normalize_mobile(value), {"country_code": "86"})


def _check_ss_card(value: str) -> Checked:
    return Checked("ss_card", normalize_ss_card_number(value), {})


def _guess_kind(value: str) -> str | None:
    """The kind the input most resembles, to pick which parser's reason to report."""
    compact = "".join(value.split()).upper()
    digits = _PHONE_SEPARATORS.sub("", compact)
    if compact.startswith(("+", "0086")) or (
        _DIGITS.fullmatch(digits) is not None and (len(digits) == 11 or (len(digits) == 13 and digits.startswith("86")))
    ):
        return "mobile"
    if len(compact) == 18:
        # Birth years sit at 0-based 6-7 in both 18-character person numbers; a USCC has region and
        # organisation-code characters there, which rarely read as 18/19/20.
        plausible_person = _ID_18.fullmatch(compact) is not None and compact[6:8] in ("18", "19", "20")
        if plausible_person:
            return "foreign_pr" if compact[0] == "9" else "citizen_id"
        return "uscc"
    if len(compact) == 15:
        if _DIGITS.fullmatch(compact):
            return "citizen_id"
        if _FOREIGN_2017_SHAPE.fullmatch(compact):
            return "foreign_pr"
    if len(compact) in (14, 16, 17, 19) and _DIGITS.fullmatch(compact.rstrip("X")):
        # One digit missing or extra: almost always a mistyped citizen ID.
        return "citizen_id"
    return None


def check_identifier(
    value: str,
    *,
    kind: str | None = None,
    uscc_rules: UsccRules | None = None,
    today: date | None = None,
) -> Checked:
    """Recognise and validate `value` as a citizen ID (incl. legacy 15-digit numbers and HK/MO/TW
    residence permits, GB 11643-1999), a foreigner permanent-residence card, a unified social credit
    code (GB 32100-2015) or a mainland mobile number, tried in that order.

    `kind` restricts the check to one of `KINDS` ("ss_card" is only ever checked when named).  On
    failure raises `InvalidIdentifier` carrying the reason from the kind the input most resembles.
    """
    checkers: dict[str, Callable[[str], Checked]] = {
        "citizen_id": lambda v: _check_citizen_id(v, today),
        "foreign_pr": lambda v: _check_foreign_pr(v, today),
        "uscc": lambda v: _check_uscc(v, uscc_rules),
        "mobile": _check_mobile,
        "ss_card": _check_ss_card,
    }
    if kind is not None:
        if kind not in checkers:
            raise ValueError(f"unknown identifier kind {kind!r}; expected one of {', '.join(KINDS)}")
        return checkers[kind](value)

    errors: dict[str, InvalidIdentifier] = {}
    for candidate in _AUTO_ORDER:
        try:
            return checkers[candidate](value)
        except InvalidIdentifier as error:
            errors[candidate] = error
    guess = _guess_kind(value)
    if guess is not None:
        raise errors[guess]
    raise InvalidIdentifier(
        "unknown",
        "not a citizen ID, permanent-residence card, unified social credit code or mainland mobile number",
    )
