"""Foreigner permanent-residence card numbers (外国人永久居留身份证号码).

2023 format (issued from 2023-12-01 by the National Immigration Administration), 18 characters, 0-based:

    0      "9", marks a foreigner (citizen IDs start with a province code, 1-8)
    1-2    province-level GB/T 2260 code of the accepting authority
    3-5    nationality, ISO 3166-1 numeric
    6-13   birth date, YYYYMMDD
    14-16  sequence
    17     check character, ISO 7064 MOD 11-2 over characters 0-16 (as GB 11643-1999)

2017 format (and the earlier cards it continued), 15 characters: 3 Latin letters + 12 digits.  This
module reads it as

    0-2    nationality, ISO 3166-1 alpha-3
    3-6    accepting authority; the first two digits are its province-level GB/T 2260 code
    7-12   birth date, YYMMDD
    13-14  sequence

That split follows the published description of the old numbering rule but could not be checked
against the rule's own text, and the format has no public check character: only the shape, the
province prefix and the birth date are validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

from idp.identity.citizen_id import mod11_2_check_char, parse_birth_date
from idp.identity.errors import InvalidIdentifier
from idp.identity.regions import PROVINCES

__all__ = ["ForeignPermanentResidentCard", "ISO3166_NUMERIC_TO_ALPHA3", "parse_foreign_pr"]

KIND = "foreign_pr"

# A common subset of ISO 3166-1; codes missing here are still valid and reported as the number,
# so the table is a convenience for display, not an allow-list.
ISO3166_NUMERIC_TO_ALPHA3: Mapping[str, str] = MappingProxyType(
    {
        "004": "AFG",
        "032": "ARG",
        "036": "AUS",
        "040": "AUT",
        "050": "BGD",
        "056": "BEL",
        "076": "BRA",
        "104": "MMR",
        "116": "KHM",
        "124": "CAN",
        "144": "LKA",
        "152": "CHL",
        "170": "COL",
        "208": "DNK",
        "246": "FIN",
        "250": "FRA",
        "276": "DEU",
        "300": "GRC",
        "356": "IND",
        "360": "IDN",
        "364": "IRN",
        "372": "IRL",
        "376": "ISR",
        "380": "ITA",
        "392": "JPN",
        "398": "KAZ",
        "408": "PRK",
        "410": "KOR",
        "418": "LAO",
        "458": "MYS",
        "484": "MEX",
        "496": "MNG",
        "524": "NPL",
        "528": "NLD",
        "554": "NZL",
        "566": "NGA",
        "578": "NOR",
        "586": "PAK",
        "608": "PHL",
        "616": "POL",
        "620": "PRT",
        "643": "RUS",
        "682": "SAU",
        "702": "SGP",
        "704": "VNM",
        "710": "ZAF",
        "724": "ESP",
        "752": "SWE",
        "756": "CHE",
        "764": "THA",
        "784": "ARE",
        "792": "TUR",
        "804": "UKR",
        "818": "EGY",
        "826": "GBR",
        "840": "USA",
        "860": "UZB",
    }
)

# Cards are issued by mainland immigration authorities, so Taiwan (71), Hong Kong (81), Macao (82)
# and the Taiwan residence-permit prefix (83) cannot appear as the accepting province.
_MAINLAND_PROVINCES = frozenset(code for code in PROVINCES if code < "70")

# Explicit ASCII classes: `\d` and str.isdigit() also accept non-ASCII digits.
_FORMAT_2023 = re.compile(r"9[0-9]{16}[0-9X]")
_FORMAT_2017 = re.compile(r"[A-Z]{3}[0-9]{12}")


@dataclass(frozen=True, slots=True)
class ForeignPermanentResidentCard:
    """A validated permanent-residence card number.

    `nationality` is ISO 3166-1 alpha-3 when known, otherwise the numeric code as printed;
    `region_code` is the six-digit province-level code of the accepting authority (e.g. "110000").
    """

    number: str
    format: Literal["2017", "2023"]
    nationality: str
    birth_date: date
    region_code: str


def _province(code: str) -> str:
    if code not in _MAINLAND_PROVINCES:
        raise InvalidIdentifier(KIND, f"{code} is not a mainland province-level region code")
    return code + "0000"


def _parse_2023(number: str, today: date) -> ForeignPermanentResidentCard:
    if _FORMAT_2023.fullmatch(number) is None:
        raise InvalidIdentifier(KIND, "the 2023 format is 17 digits and a check character (digit or X)")
    expected = mod11_2_check_char(number[:17])
    if number[17] != expected:
        raise InvalidIdentifier(KIND, f"check character is {number[17]}, expected {expected}")
    region_code = _province(number[1:3])
    numeric = number[3:6]
    if numeric == "000":
        raise InvalidIdentifier(KIND, "nationality code 000 is not an ISO 3166 country")
    return ForeignPermanentResidentCard(
        number=number,
        format="2023",
        nationality=ISO3166_NUMERIC_TO_ALPHA3.get(numeric, numeric),
        birth_date=parse_birth_date(number[6:14], kind=KIND, today=today),
        region_code=region_code,
    )


def _birth_date_yymmdd(yymmdd: str, today: date) -> date:
    # Two-digit years are ambiguous; a holder is far likelier to be a child than over 100, so take
    # the latest century that does not put the birth in the future.
    try:
        return parse_birth_date("20" + yymmdd, kind=KIND, today=today)
    except InvalidIdentifier:
        # Either the 2000s reading is in the future, or the date is not real in any century (the
        # leap-year rules for 19YY and 20YY agree except for 1900, which is not in the 2000s).
        return parse_birth_date("19" + yymmdd, kind=KIND, today=today)


def _parse_2017(number: str, today: date) -> ForeignPermanentResidentCard:
    if _FORMAT_2017.fullmatch(number) is None:
        raise InvalidIdentifier(KIND, "the 2017 format is 3 letters followed by 12 digits")
    region_code = _province(number[3:5])
    return ForeignPermanentResidentCard(
        number=number,
        format="2017",
        nationality=number[:3],
        birth_date=_birth_date_yymmdd(number[7:13], today),
        region_code=region_code,
    )


def parse_foreign_pr(value: str, *, today: date | None = None) -> ForeignPermanentResidentCard:
    """Validate and normalise a foreigner permanent-residence card number (2023 or 2017 format).

    Whitespace is removed and letters upper-cased.  Raises `InvalidIdentifier` (kind "foreign_pr").
    """
    today = today or date.today()
    number = "".join(value.split()).upper()
    if len(number) == 18:
        if not number.startswith("9"):
            raise InvalidIdentifier(KIND, "an 18-character card number starts with 9")
        return _parse_2023(number, today)
    if len(number) == 15:
        return _parse_2017(number, today)
    raise InvalidIdentifier(KIND, f"expected 18 characters (2023 format) or 15 (2017 format), got {len(number)}")
