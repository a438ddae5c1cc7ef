"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

Layout of the 18-character code (1-based positions, as in the standard):

    1      registration authority (登记管理部门)
    2      entity type (机构类别), meaningful per authority
    3-8    region code, GB/T 2260 digits (100000 for central-level bodies)
    9-17   organisation code, GB 11714, with its own check character at position 17
    18     check character over positions 1-17, modulus 31

python-stdnum's `stdnum.cn.uscc` is not used: it rejects valid codes whose authority is a letter
(Y, A, N).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType

from idp.identity.errors import InvalidIdentifier
from idp.identity.regions import region_name

__all__ = [
    "DEFAULT_AUTHORITIES",
    "DEFAULT_TYPES",
    "USCC_ALPHABET",
    "Uscc",
    "UsccRules",
    "org_code_check_char",
    "parse_uscc",
    "uscc_check_char",
]

KIND = "uscc"

# GB 32100-2015 character set: digits and capitals without I, O, Z, S, V (easily misread).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(USCC_ALPHABET)}
# 3^i mod 31; listed literally to match the standard's table.
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714 values run over the full Latin alphabet (A=10 … Z=35), unlike the USCC alphabet.
_ORG_VALUES = {char: value for value, char in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Explicit ASCII class: `\d` also matches non-ASCII digits.
_REGION_RE = re.compile(r"[0-9]{6}")
_CENTRAL_REGION = "100000"

# Authorities 1, 5, 9 and Y are in GB 32100-2015 itself; the others were assigned afterwards and
# are seen on real certificates.
DEFAULT_AUTHORITIES: Mapping[str, str] = MappingProxyType(
    {
        "1": "机构编制",
        "2": "外交",
        "3": "司法行政",
        "4": "文化",
        "5": "民政",
        "6": "旅游",
        "7": "宗教",
        "8": "工会",
        "9": "工商（市场监管）",
        "A": "中央军委改革和编制办公室",
        "N": "农业",
        "Y": "其他",
    }
)

DEFAULT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "11": "机关",
        "12": "事业单位",
        "13": "中央编办直接管理机构编制的群众团体",
        "19": "其他",
        "21": "外国常驻新闻机构",
        "29": "其他",
        "31": "律师执业机构",
        "32": "公证处",
        "33": "基层法律服务所",
        "34": "司法鉴定机构",
        "35": "仲裁委员会",
        "39": "其他",
        "41": "外国在华文化中心",
        "49": "其他",
        "51": "社会团体",
        "52": "民办非企业单位",
        "53": "基金会",
        "59": "其他",
        "61": "外国旅游部门常驻代表机构",
        "62": "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "69": "其他",
        "71": "宗教活动场所",
        "72": "宗教院校",
        "79": "其他",
        "81": "基层工会",
        "89": "其他",
        "91": "企业",
        "92": "个体工商户",
        "93": "农民专业合作社",
        "A1": "军队事业单位",
        "A9": "其他",
        "N1": "组级集体经济组织",
        "N2": "村级集体经济组织",
        "N3": "乡镇级集体经济组织",
        "N9": "其他",
        "Y1": "其他",
    }
)


@dataclass(frozen=True)
class UsccRules:
    """Which authority/type combinations `parse_uscc` accepts.

    `allowed` is None (every authority in `authorities`) or an allow-list mixing authority codes
    ("9") and authority+type pairs ("91"), e.g. `UsccRules(allowed={"1", "5", "9", "Y"})`.  An
    explicitly allowed code is accepted even if the name tables do not know it.  With
    `require_known_type`, a type code must also appear in `types` (or be allowed as a pair).
    """

    authorities: Mapping[str, str] = field(default_factory=lambda: DEFAULT_AUTHORITIES)
    types: Mapping[str, str] = field(default_factory=lambda: DEFAULT_TYPES)
    allowed: AbstractSet[str] | None = None
    require_known_type: bool = True

    def __post_init__(self) -> None:
        if self.allowed is None:
            return
        # Accept any iterable of codes (a set literal, a list from configuration) and store a frozenset.
        allowed = frozenset(code.strip().upper() for code in self.allowed)
        for code in allowed:
            if len(code) not in (1, 2) or any(char not in _USCC_VALUES for char in code):
                raise ValueError(f"USCC allow-list entries are 1 or 2 characters of the USCC alphabet: {code!r}")
        object.__setattr__(self, "allowed", allowed)

    @classmethod
    def only(cls, codes: Iterable[str]) -> UsccRules:
        """Rules accepting only the given authorities and/or authority+type pairs."""
        return cls(allowed=frozenset(codes))


DEFAULT_RULES = UsccRules()


@dataclass(frozen=True, slots=True)
class Uscc:
    """A validated unified social credit code and what its parts mean."""

    code: str
    authority_code: str
    authority_name: str | None
    type_code: str
    type_name: str | None
    region_code: str
    region_name: str | None
    org_code: str


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character: C18 = (31 − Σ value·weight mod 31) mod 31."""
    if len(first17) != 17 or any(char not in _USCC_VALUES for char in first17):
        raise InvalidIdentifier(KIND, "check character needs 17 characters of the USCC alphabet")
    total = sum(_USCC_VALUES[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=False))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """GB 11714 organisation-code check character: 11 − Σ value·weight mod 11 (10 → X, 11 → 0)."""
    if len(first8) != 8 or any(char not in _ORG_VALUES for char in first8):
        raise InvalidIdentifier(KIND, "organisation-code check needs 8 digits or capital letters")
    total = sum(_ORG_VALUES[char] * weight for char, weight in zip(first8, _ORG_WEIGHTS, strict=False))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _apply_rules(authority: str, pair: str, rules: UsccRules) -> None:
    allowed = rules.allowed
    explicit_authority = allowed is not None and authority in allowed
    explicit_pair = allowed is not None and pair in allowed
    if allowed is not None and not (explicit_authority or explicit_pair):
        raise InvalidIdentifier(KIND, f"registration authority {authority} / type {pair} is not accepted here")
    if not (explicit_authority or explicit_pair) and authority not in rules.authorities:
        raise InvalidIdentifier(KIND, f"unknown registration authority {authority}")
    if rules.require_known_type and not explicit_pair and pair not in rules.types:
        raise InvalidIdentifier(KIND, f"unknown entity type {pair} for registration authority {authority}")


def parse_uscc(value: str, rules: UsccRules | None = None) -> Uscc:
    """Validate and normalise a unified social credit code (GB 32100-2015).

    Whitespace is removed and letters upper-cased.  Checks, in order: length, alphabet, the
    modulus-31 check character, the authority/type `rules`, the region digits and the GB 11714
    organisation-code check.  Raises `InvalidIdentifier` (kind "uscc").
    """
    rules = rules or DEFAULT_RULES
    code = "".join(value.split()).upper()
    if len(code) != 18:
        raise InvalidIdentifier(KIND, f"expected 18 characters, got {len(code)}")
    for position, char in enumerate(code, start=1):
        if char not in _USCC_VALUES:
            # One character of a public organisation code is safe to echo, and says exactly what to fix.
            raise InvalidIdentifier(KIND, f"character {position} ({char!r}) is not in the GB 32100 alphabet")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise InvalidIdentifier(KIND, f"check character is {code[17]}, expected {expected}")

    authority, pair = code[0], code[:2]
    _apply_rules(authority, pair, rules)

    region_code = code[2:8]
    if _REGION_RE.fullmatch(region_code) is None:
        raise InvalidIdentifier(KIND, "positions 3-8 (region code) must be digits")
    org_code = code[8:17]
    org_expected = org_code_check_char(org_code[:8])
    if org_code[8] != org_expected:
        raise InvalidIdentifier(KIND, f"organisation-code check character is {org_code[8]}, expected {org_expected}")

    return Uscc(
        code=code,
        authority_code=authority,
        authority_name=rules.authorities.get(authority),
        type_code=pair,
        type_name=rules.types.get(pair),
        region_code=region_code,
        region_name="中央" if region_code == _CENTRAL_REGION else region_name(region_code),
        org_code=org_code,
    )
