"""GB 11643-1999 citizen ID numbers, legacy 15-digit numbers and HK/MO/TW residence permits."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.identity import InvalidIdentifier, citizen_id_check_char, parse_citizen_id
from idp.identity.regions import PROVINCES

TODAY = date(2025, 6, 1)
_SETTINGS = settings(max_examples=150, deadline=None)


def reference_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 computed the recursive way (independent of the weight table under test)."""
    p = 0
    for digit in first17:
        p = ((p + int(digit)) * 2) % 11
    return "0123456789X"[(12 - p) % 11]


def with_check(first17: str) -> str:
    return first17 + reference_check(first17)


@st.composite
def valid_ids(draw: st.DrawFn) -> tuple[str, date, str]:
    """(number, birth date, sex) for a random valid mainland resident ID."""
    province = draw(st.sampled_from(sorted(p for p in PROVINCES if p not in ("81", "82", "83"))))
    county = draw(st.text("0123456789", min_size=4, max_size=4))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(0, 999))
    number = with_check(f"{province}{county}{born:%Y%m%d}{sequence:03d}")
    return number, born, "male" if sequence % 2 else "female"


# --- known vectors -------------------------------------------------------------------------------


def test_standard_example() -> None:
    parsed = parse_citizen_id("11010519491231002X", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.kind == "resident_id"
    assert parsed.region_code == "110105"
    assert parsed.region_name == "北京市朝阳区"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"  # sequence 002 is even


def test_reference_check_agrees_with_standard_example() -> None:
    assert reference_check("11010519491231002") == "X"
    assert citizen_id_check_char("11010519491231002") == "X"


def test_lowercase_x_and_grouping_whitespace_are_normalised() -> None:
    assert parse_citizen_id(" 110105 19491231 002x ", today=TODAY).number == "11010519491231002X"


def test_legacy_15_digit_number_is_converted() -> None:
    parsed = parse_citizen_id("110105491231002", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)


def test_wrong_check_character_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_citizen_id("110105194912310021", today=TODAY)
    assert info.value.kind == "citizen_id"
    assert info.value.reason == "check character is 1, expected X"


def test_february_30_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="not a real calendar date"):
        parse_citizen_id(with_check("11010519490230002"), today=TODAY)


def test_future_birth_date_is_rejected() -> None:
    number = with_check("11010520250602001")
    with pytest.raises(InvalidIdentifier, match="in the future"):
        parse_citizen_id(number, today=TODAY)
    assert parse_citizen_id(number, today=date(2025, 6, 2)).birth_date == date(2025, 6, 2)


def test_birth_before_1900_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="before 1900"):
        parse_citizen_id(with_check("11010518991231001"), today=TODAY)


def test_unknown_province_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="province-level"):
        parse_citizen_id(with_check("99010519491231001"), today=TODAY)


def test_historical_and_unlisted_county_codes_are_accepted() -> None:
    # 110103 崇文区 was merged into 东城区 in 2010; numbers issued before keep their code.
    assert parse_citizen_id(with_check("11010319800101001"), today=TODAY).region_name == "北京市崇文区"
    # A county missing from the naming table still validates; only the province is named.
    assert parse_citizen_id(with_check("11999919800101001"), today=TODAY).region_name == "北京市"


@pytest.mark.parametrize(
    ("region", "kind"),
    [("810000", "hk_residence_permit"), ("820000", "mo_residence_permit"), ("830000", "tw_residence_permit")],
)
def test_residence_permits(region: str, kind: str) -> None:
    parsed = parse_citizen_id(with_check(f"{region}19900101001"), today=TODAY)
    assert parsed.kind == kind
    assert parsed.sex == "male"


def test_residence_permit_prefix_with_county_part_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="residence permit"):
        parse_citizen_id(with_check("81010019900101001"), today=TODAY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1101051949123100",
        "11010519491231002XX",
        "1101051949123100A2",
        "11010519491231002Y",
        "11010549123100X",
    ],
)
def test_malformed_numbers_are_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_citizen_id(value, today=TODAY)


def test_non_ascii_digits_are_rejected() -> None:
    # int() accepts Arabic-Indic and full-width digits; the parser must not.
    arabic = "".join(chr(0x0660 + int(d)) for d in "11010519491231002") + "X"
    with pytest.raises(InvalidIdentifier):
        parse_citizen_id(arabic, today=TODAY)


def test_check_char_helper_rejects_bad_input() -> None:
    with pytest.raises(InvalidIdentifier):
        citizen_id_check_char("1101051949123100")


# --- properties ----------------------------------------------------------------------------------


@_SETTINGS
@given(valid_ids())
def test_generated_ids_parse(case: tuple[str, date, str]) -> None:
    number, born, sex = case
    parsed = parse_citizen_id(number, today=TODAY)
    assert (parsed.number, parsed.birth_date, parsed.sex) == (number, born, sex)
    assert citizen_id_check_char(number[:17]) == number[17]
    assert parse_citizen_id(number.lower(), today=TODAY) == parsed


@_SETTINGS
@given(valid_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_substitution_is_rejected(case: tuple[str, date, str], position: int, char: str) -> None:
    number = case[0]
    mutated = number[:position] + char + number[position + 1 :]
    if mutated == number:
        return
    with pytest.raises(InvalidIdentifier):
        parse_citizen_id(mutated, today=TODAY)


@_SETTINGS
@given(valid_ids(), st.integers(0, 16))
def test_any_adjacent_transposition_is_rejected(case: tuple[str, date, str], position: int) -> None:
    number = case[0]
    mutated = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if mutated == number:
        return
    with pytest.raises(InvalidIdentifier):
        parse_citizen_id(mutated, today=TODAY)


def test_mod11_2_detects_every_adjacent_transposition_exhaustively() -> None:
    # Weight of position i is 2^(17-i) mod 11; the check character itself has weight 1.
    weights = [pow(2, 17 - i, 11) for i in range(18)]
    for i in range(17):
        for a in range(11):
            for b in range(11):
                if a != b:
                    assert (a * weights[i] + b * weights[i + 1]) % 11 != (b * weights[i] + a * weights[i + 1]) % 11


@_SETTINGS
@given(valid_ids().filter(lambda case: case[1].year < 2000))
def test_legacy_round_trip(case: tuple[str, date, str]) -> None:
    number, born, sex = case
    legacy = number[:6] + number[8:17]
    parsed = parse_citizen_id(legacy, today=TODAY)
    assert parsed.number == number
    assert (parsed.birth_date, parsed.sex) == (born, sex)


@_SETTINGS
@given(st.text())
def test_arbitrary_text_only_raises_invalid_identifier(value: str) -> None:
    with contextlib.suppress(InvalidIdentifier):
        parse_citizen_id(value, today=TODAY)


@_SETTINGS
@given(
    st.one_of(
        st.text("0123456789Xx-", min_size=6, max_size=20),
        valid_ids().map(lambda case: case[0][:-1] + ("0" if case[0][-1] != "0" else "1")),
        valid_ids().map(lambda case: case[0][:10] + "13" + case[0][12:]),
    )
)
def test_reasons_never_contain_the_input(value: str) -> None:
    try:
        parse_citizen_id(value, today=TODAY)
    except InvalidIdentifier as error:
        assert value.strip() not in error.reason
        assert value.strip() not in str(error)
