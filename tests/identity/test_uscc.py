"""Unified social credit codes, GB 32100-2015 (with the GB 11714 organisation-code check)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.identity import (
    DEFAULT_TYPES,
    InvalidIdentifier,
    UsccRules,
    org_code_check_char,
    parse_uscc,
    uscc_check_char,
)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_SETTINGS = settings(max_examples=150, deadline=None)


def reference_uscc_check(first17: str) -> str:
    """C18 straight from the standard's formula and weight table."""
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(first17, weights, strict=False))
    return ALPHABET[(31 - total % 31) % 31]


def reference_org_check(first8: str) -> str:
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(char, 36) * weight for char, weight in zip(first8, weights, strict=False))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def build(prefix8: str, org8: str) -> str:
    """A valid code from authority+type+region (8 chars) and an organisation-code body (8 chars)."""
    first17 = prefix8 + org8 + reference_org_check(org8)
    return first17 + reference_uscc_check(first17)


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    pair = draw(st.sampled_from(sorted(DEFAULT_TYPES)))
    region = draw(st.text("0123456789", min_size=6, max_size=6))
    org8 = draw(st.text(ALPHABET, min_size=8, max_size=8))
    return build(pair + region, org8)


# --- known vectors -------------------------------------------------------------------------------


def test_valid_example() -> None:
    parsed = parse_uscc("91110000600037341L")
    assert parsed.code == "91110000600037341L"
    assert (parsed.authority_code, parsed.type_code, parsed.type_name) == ("9", "91", "企业")
    assert (parsed.region_code, parsed.region_name) == ("110000", "北京市")
    assert parsed.org_code == "600037341"


def test_reference_checks_agree_with_valid_example() -> None:
    assert reference_uscc_check("91110000600037341") == "L" == uscc_check_char("91110000600037341")
    assert reference_org_check("60003734") == "1" == org_code_check_char("60003734")


def test_standard_printed_example_is_invalid() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_uscc("91350100M000100Y4Z")
    assert info.value.kind == "uscc"


def test_lowercase_and_spaces_are_normalised() -> None:
    assert parse_uscc(" 9111 0000 6000 3734 1l ").code == "91110000600037341L"


@pytest.mark.parametrize("prefix", ["Y1110000", "A1110000", "N2110000", "51110000", "12100000"])
def test_letter_and_other_authorities_are_accepted(prefix: str) -> None:
    code = build(prefix, "MA01B2C3")
    assert parse_uscc(code).code == code


def test_central_region() -> None:
    assert parse_uscc(build("11100000", "00001234")).region_name == "中央"


def test_wrong_check_character_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="check character is M, expected L"):
        parse_uscc("91110000600037341M")


def test_wrong_organisation_code_check_is_rejected() -> None:
    first17 = "9111000060003734" + "2"  # org check should be 1
    with pytest.raises(InvalidIdentifier, match="organisation-code check character is 2, expected 1"):
        parse_uscc(first17 + reference_uscc_check(first17))


def test_letters_in_region_are_rejected() -> None:
    first17 = "9111A000" + "60003734" + "1"
    with pytest.raises(InvalidIdentifier, match="region"):
        parse_uscc(first17 + reference_uscc_check(first17))


@pytest.mark.parametrize("value", ["", "91110000600037341", "91110000600037341LL", "9111000060003734IL"])
def test_malformed_codes_are_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_uscc(value)


def test_unknown_authority_and_type_are_rejected_by_default() -> None:
    with pytest.raises(InvalidIdentifier, match="unknown registration authority B"):
        parse_uscc(build("B1110000", "60003734"))
    with pytest.raises(InvalidIdentifier, match="unknown entity type 94"):
        parse_uscc(build("94110000", "60003734"))
    assert parse_uscc(build("94110000", "60003734"), UsccRules(require_known_type=False)).type_name is None


def test_authority_allow_list() -> None:
    rules = UsccRules(allowed={"1", "5", "9", "Y"})
    assert parse_uscc(build("Y1110000", "60003734"), rules).authority_name == "其他"
    with pytest.raises(InvalidIdentifier, match="not accepted"):
        parse_uscc(build("A1110000", "60003734"), rules)


def test_pair_allow_list() -> None:
    rules = UsccRules.only(["11", "91"])
    assert parse_uscc("91110000600037341L", rules).type_code == "91"
    with pytest.raises(InvalidIdentifier, match="not accepted"):
        parse_uscc(build("92110000", "60003734"), rules)


def test_explicitly_allowed_unknown_codes_are_accepted() -> None:
    parsed = parse_uscc(build("B2110000", "60003734"), UsccRules(allowed={"B2"}))
    assert (parsed.authority_name, parsed.type_name) == (None, None)


@pytest.mark.parametrize("entry", ["", "123", "I", "9O"])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        UsccRules(allowed={entry})


# --- properties ----------------------------------------------------------------------------------


@_SETTINGS
@given(valid_codes())
def test_generated_codes_parse(code: str) -> None:
    parsed = parse_uscc(code)
    assert parsed.code == code
    assert parsed.type_name == DEFAULT_TYPES[code[:2]]
    assert parse_uscc(code.lower()) == parsed


@_SETTINGS
@given(valid_codes(), st.integers(0, 17), st.sampled_from(ALPHABET + "IOSVZ"))
def test_any_single_substitution_is_rejected(code: str, position: int, char: str) -> None:
    # Every weight (and the check's implicit weight 1) is non-zero modulo the prime 31.
    mutated = code[:position] + char + code[position + 1 :]
    if mutated == code:
        return
    with pytest.raises(InvalidIdentifier):
        parse_uscc(mutated)


def test_mod31_detects_every_adjacent_transposition_exhaustively() -> None:
    # Verified rather than assumed: swapping values a, b at positions i, i+1 changes the sum by
    # (a - b)(w_i - w_{i+1}) mod 31, which must be non-zero for every pair, including the check (weight 1).
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28, 1]
    for i in range(17):
        for a in range(31):
            for b in range(31):
                if a != b:
                    assert (a * weights[i] + b * weights[i + 1]) % 31 != (b * weights[i] + a * weights[i + 1]) % 31


@_SETTINGS
@given(valid_codes(), st.integers(0, 16))
def test_any_adjacent_transposition_is_rejected(code: str, position: int) -> None:
    mutated = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if mutated == code:
        return
    with pytest.raises(InvalidIdentifier):
        parse_uscc(mutated)


@_SETTINGS
@given(st.text())
def test_arbitrary_text_only_raises_invalid_identifier(value: str) -> None:
    with contextlib.suppress(InvalidIdentifier):
        parse_uscc(value)


@_SETTINGS
@given(
    st.one_of(
        st.text(ALPHABET + "IOZ", min_size=6, max_size=20),
        valid_codes().map(lambda code: code[:-1] + ("0" if code[-1] != "0" else "1")),
    )
)
def test_reasons_never_contain_the_input(value: str) -> None:
    try:
        parse_uscc(value)
    except InvalidIdentifier as error:
        assert value not in error.reason
        assert value not in str(error)
