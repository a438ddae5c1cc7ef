"""Identifier validation: citizen IDs, permanent-residence cards, USCCs, mobiles, social-security cards.

Pure functions over strings: no I/O, no database, no web framework.  Every parser normalises its input,
returns a frozen dataclass (or the normalised string) and raises `InvalidIdentifier` on bad input.
"""

from idp.identity.check import KINDS, Checked, check_identifier
from idp.identity.citizen_id import CitizenId, citizen_id_check_char, mod11_2_check_char, parse_citizen_id
from idp.identity.errors import InvalidIdentifier
from idp.identity.foreign_pr import ForeignPermanentResidentCard, parse_foreign_pr
from idp.identity.phone import normalize_mobile
from idp.identity.regions import is_region_code, province_name, region_name
from idp.identity.sscard import normalize_ss_card_number
from idp.identity.uscc import (
    DEFAULT_AUTHORITIES,
    DEFAULT_TYPES,
    Uscc,
    UsccRules,
    org_code_check_char,
    parse_uscc,
    uscc_check_char,
)

__all__ = [
    "DEFAULT_AUTHORITIES",
    "DEFAULT_TYPES",
    "KINDS",
    "CitizenId",
    "Checked",
    "ForeignPermanentResidentCard",
    "InvalidIdentifier",
    "Uscc",
    "UsccRules",
    "check_identifier",
    "citizen_id_check_char",
    "is_region_code",
    "mod11_2_check_char",
    "normalize_mobile",
    "normalize_ss_card_number",
    "org_code_check_char",
    "parse_citizen_id",
    "parse_foreign_pr",
    "parse_uscc",
    "province_name",
    "region_name",
    "uscc_check_char",
]
