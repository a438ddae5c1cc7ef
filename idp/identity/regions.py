"""Administrative region codes (GB/T 2260) as they appear inside identifiers.

Identifiers keep the region code that was current when they were issued, and GB/T 2260 codes are
retired or reassigned after administrative changes.  A region code inside an identifier is therefore
validated structurally only (six digits, a real province-level prefix); the county tables are used to
*name* a region, never to reject one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

__all__ = [
    "PROVINCES",
    "RESIDENCE_PERMIT_REGIONS",
    "is_province_code",
    "is_region_code",
    "province_name",
    "region_name",
]

# GB/T 2260 province-level codes.  83 is not a GB/T 2260 province: it is the prefix the Ministry of
# Public Security assigned to residence permits for Taiwan residents (830000), next to 810000 (Hong
# Kong) and 820000 (Macao); 71 is Taiwan's code in GB/T 2260 itself.
PROVINCES: Mapping[str, str] = MappingProxyType(
    {
        "11": "北京市",
        "12": "天津市",
        "13": "河北省",
        "14": "山西省",
        "15": "内蒙古自治区",
        "21": "辽宁省",
        "22": "吉林省",
        "23": "黑龙江省",
        "31": "上海市",
        "32": "江苏省",
        "33": "浙江省",
        "34": "安徽省",
        "35": "福建省",
        "36": "江西省",
        "37": "山东省",
        "41": "河南省",
        "42": "湖北省",
        "43": "湖南省",
        "44": "广东省",
        "45": "广西壮族自治区",
        "46": "海南省",
        "50": "重庆市",
        "51": "四川省",
        "52": "贵州省",
        "53": "云南省",
        "54": "西藏自治区",
        "61": "陕西省",
        "62": "甘肃省",
        "63": "青海省",
        "64": "宁夏回族自治区",
        "65": "新疆维吾尔自治区",
        "71": "台湾省",
        "81": "香港特别行政区",
        "82": "澳门特别行政区",
        "83": "台湾地区",
    }
)

# Residence permits for Hong Kong, Macao and Taiwan residents (2018) reuse the citizen-ID layout with
# these fixed region codes.
RESIDENCE_PERMIT_REGIONS: Mapping[str, str] = MappingProxyType(
    {
        "810000": "hk_residence_permit",
        "820000": "mo_residence_permit",
        "830000": "tw_residence_permit",
    }
)

# `[0-9]`, not `\d`: `\d` also matches non-ASCII digits, which int() happily converts.
_REGION_RE = re.compile(r"[0-9]{6}")

# Placeholder rows of the county table ("urban districts", "counties", "county-level units directly
# under the province"): they name a grouping, not a place, so they add nothing to a display name.
_GENERIC_NAMES = frozenset(
    {
        "市辖区",
        "县",
        "市区",
        "郊区",
        "矿区",
        "省直辖县级行政单位",
        "自治区直辖县级行政单位",
        "省直辖县级行政区划",
    }
)

_ENTRY_RE = re.compile(r"\[(?P<start>[0-9]*)-(?P<end>[0-9]*)\](?P<name>.*)")


def is_province_code(code: str) -> bool:
    """True when `code` is a two-digit GB/T 2260 province-level code (or 83, see `PROVINCES`)."""
    return code in PROVINCES


def is_region_code(code: str) -> bool:
    """True when `code` is six ASCII digits starting with a province-level code.

    Deliberately structural: historical county codes (e.g. Beijing's 110103 崇文区, merged in 2010)
    remain valid inside identifiers issued before the change.
    """
    return _REGION_RE.fullmatch(code) is not None and is_province_code(code[:2])


def province_name(code: str) -> str | None:
    """Chinese name of the province-level region for a two- or six-digit code, or None."""
    return PROVINCES.get(code[:2]) if len(code) in (2, 6) else None


@lru_cache(maxsize=4096)
def _county_entries(code: str) -> tuple[tuple[int | None, int | None, str], ...]:
    """(start year, end year, name) rows for one six-digit code from python-stdnum's table."""
    # Imported lazily: loading the table parses a ~7000-line file, which only naming needs.
    from stdnum import numdb

    raw = ""
    for _part, props in numdb.get("cn/loc").info(code):
        raw = props.get("county", raw)
    entries: list[tuple[int | None, int | None, str]] = []
    for item in filter(None, raw.split(",")):
        match = _ENTRY_RE.fullmatch(item)
        if match is None:
            entries.append((None, None, item))
        else:
            start, end = match["start"], match["end"]
            entries.append((int(start) if start else None, int(end) if end else None, match["name"]))
    return tuple(entries)


def _county_name(code: str, year: int | None) -> str | None:
    entries = _county_entries(code)
    if not entries:
        return None
    if year is not None:
        for start, end, name in entries:
            if (start is None or year >= start) and (end is None or year <= end):
                return name
    # The table lists names oldest first; without a (matching) year the latest name is the one a
    # person is most likely to recognise.
    return entries[-1][2]


def region_name(code: str, *, year: int | None = None) -> str | None:
    """Display name for a six-digit GB/T 2260 code, e.g. `110105` → `北京市朝阳区`.

    Names come from python-stdnum's bundled table (`stdnum/cn/loc.dat`); when the county is not in
    that table the province name alone is returned.  `year` (e.g. the year of birth) picks the name
    that was in force then, for codes that were renamed.  Returns None when the code is not
    structurally valid.
    """
    if not is_region_code(code):
        return None
    province = PROVINCES[code[:2]]
    if code[2:] == "0000":
        return province
    parts = [province]
    candidates = [_county_name(code[:4] + "00", year)] if code[4:] != "00" else []
    candidates.append(_county_name(code, year))
    for name in candidates:
        if name and name not in _GENERIC_NAMES and name not in parts:
            parts.append(name)
    return "".join(parts)
