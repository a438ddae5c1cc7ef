"""Citizen identity numbers (公民身份号码), GB 11643-1999.

Layout of the 18-character number (0-based offsets):

    0-5    region code, GB/T 2260 (where the number was first registered)
    6-13   birth date, YYYYMMDD
    14-16  sequence; odd for men, even for women
    17     check character, ISO 7064 MOD 11-2 over characters 0-16 ("X" stands for 10)

The legacy 15-digit number (before GB 11643-1999) is the same without the century ("19" implied) and
without the check character.  Residence permits for Hong Kong, Macao and Taiwan residents (2018) use
the same layout and algorithm with region codes 810000, 820000 and 830000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal, cast

from idp.identity.errors import InvalidIdentifier
from idp.identity.regions import RESIDENCE_PERMIT_REGIONS, is_province_code, region_name

__all__ = [
    "CitizenId",
    "CitizenIdKind",
    "EARLIEST_BIRTH_DATE",
    "Sex",
    "citizen_id_check_char",
    "mod11_2_check_char",
    "parse_birth_date",
    "parse_citizen_id",
]

CitizenIdKind = Literal["resident_id", "hk_residence_permit", "mo_residence_permit", "tw_residence_permit"]
Sex = Literal["male", "female"]

KIND = "citizen_id"

# GB 11643-1999 weights are 2^(17-i) mod 11 for i = 0..16; listed literally to match the standard.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# Nobody alive was born earlier, and dates before it are a sign of a garbled number.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# `[0-9]`, never `\d`: `\d` matches any Unicode digit and int() would accept those too.
_DIGITS_17 = re.compile(r"[0-9]{17}")
_DIGITS_15 = re.compile(r"[0-9]{15}")
_CHECK_CHAR = re.compile(r"[0-9X]")


@dataclass(frozen=True, slots=True)
class CitizenId:
    """A validated citizen ID (or HK/MO/TW residence permit) number, always in 18-character form."""

    number: str
    kind: CitizenIdKind
    region_code: str
    region_name: str | None
    birth_date: date
    sex: Sex


def mod11_2_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character over 17 ASCII digits, as used by GB 11643-1999.

    Shared with the 2023 foreign permanent-residence card, which adopted the same algorithm.
    """
    if _DIGITS_17.fullmatch(first17) is None:
        raise InvalidIdentifier(KIND, "check character needs exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=False))
    return _CHECK_CHARS[total % 11]


def citizen_id_check_char(first17: str) -> str:
    """Check character (0-9 or "X") of a GB 11643-1999 number given its first 17 digits."""
    return mod11_2_check_char(first17)


def parse_birth_date(yyyymmdd: str, *, kind: str, today: date) -> date:
    """Birth date from 8 ASCII digits; must be a real date between 1900-01-01 and `today`."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        # The exact component is left out on purpose: month and day narrow a person down.
        raise InvalidIdentifier(kind, "birth date is not a real calendar date") from None
    if born > today:
        raise InvalidIdentifier(kind, "birth date is in the future")
    if born < EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(kind, "birth date is before 1900-01-01")
    return born


def _compact(value: str) -> str:
    # People paste numbers grouped with spaces ("110105 19491231 002X"); the check character may be
    # typed as a lowercase x.
    return "".join(value.split()).upper()


def _from_legacy(number15: str) -> str:
    # 15-digit numbers were only issued to people born in the 1900s, hence the fixed century.
    first17 = number15[:6] + "19" + number15[6:]
    return first17 + mod11_2_check_char(first17)


def parse_citizen_id(value: str, *, today: date | None = None) -> CitizenId:
    """Validate and normalise a GB 11643-1999 number (18 characters, or the legacy 15 digits).

    Accepts a lowercase check character and surrounding/grouping whitespace.  Returns the 18-character
    form; raises `InvalidIdentifier` (kind "citizen_id") otherwise.  `today` bounds the birth date
    (defaults to the current date).
    """
    today = today or date.today()
    number = _compact(value)
    if len(number) == 15:
        if _DIGITS_15.fullmatch(number) is None:
            raise InvalidIdentifier(KIND, "a 15-character number must be all digits")
        number = _from_legacy(number)
    elif len(number) == 18:
        if _DIGITS_17.fullmatch(number[:17]) is None:
            raise InvalidIdentifier(KIND, "the first 17 characters must be digits")
        if _CHECK_CHAR.fullmatch(number[17]) is None:
            raise InvalidIdentifier(KIND, "the check character must be a digit or X")
        expected = mod11_2_check_char(number[:17])
        if number[17] != expected:
            raise InvalidIdentifier(KIND, f"check character is {number[17]}, expected {expected}")
    else:
        raise InvalidIdentifier(KIND, f"expected 18 characters (or 15 for the legacy form), got {len(number)}")

    region_code = number[:6]
    if not is_province_code(region_code[:2]):
        raise InvalidIdentifier(KIND, f"{region_code[:2]} is not a province-level region code")
    kind: CitizenIdKind = "resident_id"
    if region_code[:2] in ("81", "82", "83"):
        # These prefixes exist only for residence permits, which carry the bare province-level code.
        permit = RESIDENCE_PERMIT_REGIONS.get(region_code)
        if permit is None:
            raise InvalidIdentifier(KIND, f"a residence permit region code must be {region_code[:2]}0000")
        kind = cast(CitizenIdKind, permit)

    born = parse_birth_date(number[6:14], kind=KIND, today=today)
    return CitizenId(
        number=number,
        kind=kind,
        region_code=region_code,
        region_name=region_name(region_code, year=born.year),
        birth_date=born,
        sex="male" if int(number[16]) % 2 else "female",
    )
