"""Foreigner permanent-residence card numbers, 2023 (18-character) and 2017 (15-character) formats."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.identity import InvalidIdentifier, parse_foreign_pr

TODAY = date(2025, 6, 1)
_SETTINGS = settings(max_examples=150, deadline=None)


def reference_check(first17: str) -> str:
    p = 0
    for digit in first17:
        p = ((p + int(digit)) * 2) % 11
    return "0123456789X"[(12 - p) % 11]


def card_2023(province: str, nationality: str, born: str, sequence: str = "001") -> str:
    first17 = "9" + province + nationality + born + sequence
    return first17 + reference_check(first17)


@st.composite
def valid_2023(draw: st.DrawFn) -> tuple[str, date]:
    province = draw(st.sampled_from(["11", "31", "44", "65"]))
    nationality = draw(st.integers(1, 999).map(lambda n: f"{n:03d}"))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(0, 999).map(lambda n: f"{n:03d}"))
    return card_2023(province, nationality, f"{born:%Y%m%d}", sequence), born


def test_2023_format() -> None:
    number = card_2023("11", "840", "19850612")
    parsed = parse_foreign_pr(number, today=TODAY)
    assert parsed.number == number
    assert parsed.format == "2023"
    assert parsed.nationality == "USA"
    assert parsed.birth_date == date(1985, 6, 12)
    assert parsed.region_code == "110000"


def test_2023_unknown_nationality_is_reported_as_the_number() -> None:
    assert parse_foreign_pr(card_2023("31", "999", "19900101"), today=TODAY).nationality == "999"


def test_2023_lowercase_check_x_is_normalised() -> None:
    # Find a sequence whose check character is X.
    number = next(n for n in (card_2023("11", "840", "19850612", f"{s:03d}") for s in range(1000)) if n.endswith("X"))
    assert parse_foreign_pr(number.lower(), today=TODAY).number == number


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (card_2023("11", "840", "19850612")[:-1] + "Y", "2023 format"),
        (card_2023("81", "840", "19850612"), "mainland province"),
        (card_2023("11", "000", "19850612"), "nationality"),
        (card_2023("11", "840", "19850230"), "not a real calendar date"),
        (card_2023("11", "840", "20250602"), "in the future"),
        (card_2023("11", "840", "18991231"), "before 1900"),
        ("1" + card_2023("11", "840", "19850612")[1:], "starts with 9"),
        ("9110", "expected 18"),
    ],
)
def test_2023_rejections(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as info:
        parse_foreign_pr(value, today=TODAY)
    assert info.value.kind == "foreign_pr"


def test_2023_wrong_check_is_rejected() -> None:
    number = card_2023("11", "840", "19850612")
    wrong = "0" if number[-1] != "0" else "1"
    with pytest.raises(InvalidIdentifier, match=f"check character is {wrong}, expected {number[-1]}"):
        parse_foreign_pr(number[:-1] + wrong, today=TODAY)


def test_2017_format() -> None:
    parsed = parse_foreign_pr("usa 1105 870512 01", today=TODAY)
    assert parsed.number == "USA110587051201"
    assert parsed.format == "2017"
    assert parsed.nationality == "USA"
    assert parsed.birth_date == date(1987, 5, 12)
    assert parsed.region_code == "110000"


def test_2017_two_digit_year_prefers_the_latest_past_century() -> None:
    assert parse_foreign_pr("CAN440115010101", today=TODAY).birth_date == date(2015, 1, 1)
    assert parse_foreign_pr("CAN440130010101", today=TODAY).birth_date == date(1930, 1, 1)


@pytest.mark.parametrize(
    "value", ["US1110587051201", "USA11058705120A", "USA990587051201", "USA110587023001", "USA11058705120"]
)
def test_2017_rejections(value: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_foreign_pr(value, today=TODAY)


@_SETTINGS
@given(valid_2023())
def test_generated_2023_cards_parse(case: tuple[str, date]) -> None:
    number, born = case
    parsed = parse_foreign_pr(number, today=TODAY)
    assert (parsed.number, parsed.birth_date) == (number, born)


@_SETTINGS
@given(valid_2023(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_2023_single_substitution_is_rejected(case: tuple[str, date], position: int, char: str) -> None:
    number = case[0]
    mutated = number[:position] + char + number[position + 1 :]
    if mutated == number:
        return
    with pytest.raises(InvalidIdentifier):
        parse_foreign_pr(mutated, today=TODAY)


@_SETTINGS
@given(valid_2023(), st.integers(0, 16))
def test_2023_adjacent_transposition_is_rejected(case: tuple[str, date], position: int) -> None:
    number = case[0]
    mutated = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if mutated == number:
        return
    with pytest.raises(InvalidIdentifier):
        parse_foreign_pr(mutated, today=TODAY)


@_SETTINGS
@given(st.text())
def test_arbitrary_text_only_raises_invalid_identifier(value: str) -> None:
    with contextlib.suppress(InvalidIdentifier):
        parse_foreign_pr(value, today=TODAY)


@_SETTINGS
@given(st.text("0123456789ABCUSX", min_size=6, max_size=20))
def test_reasons_never_contain_the_input(value: str) -> None:
    try:
        parse_foreign_pr(value, today=TODAY)
    except InvalidIdentifier as error:
        assert value not in error.reason
