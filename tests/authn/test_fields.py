"""What a person types at a step-up form, judged before any provider is called (property tests)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from idp.authn import fields
from idp.authn.outcome import Invalid

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _citizen_id(sequence: int, day: int) -> str:
    body = f"110105198{day % 10}0{1 + day % 9}{10 + day % 18:02d}{sequence:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


@given(st.integers(0, 999), st.integers(0, 200))
def test_a_valid_id_number_is_taken_and_any_one_wrong_check_character_is_a_typo(sequence: int, day: int) -> None:
    number = _citizen_id(sequence, day)
    assert fields.id_number(f"  {number.lower()} ") == number
    for wrong in "0123456789X":
        if wrong != number[-1]:
            typo = fields.id_number(number[:-1] + wrong)
            assert isinstance(typo, Invalid) and typo.message == "id_typo" and typo.field == "id_number"


@given(st.text(max_size=40))
def test_nothing_typed_ever_passes_as_an_id_number_unless_it_checks_out(text: str) -> None:
    result = fields.id_number(text)
    assert isinstance(result, Invalid) or (len(result) == 18 and result[:17].isdigit())


@given(st.from_regex(r"62[0-9]{14,17}", fullmatch=True), st.sampled_from(["", " ", "-"]))
def test_a_unionpay_number_is_taken_with_its_spaces_or_dashes(card: str, separator: str) -> None:
    typed = separator.join(card[i : i + 4] for i in range(0, len(card), 4))
    assert fields.bank_card(typed) == card


@given(st.text(max_size=30))
def test_a_card_number_is_16_to_19_digits_or_a_field_error(text: str) -> None:
    result = fields.bank_card(text)
    assert isinstance(result, Invalid) or (result.isascii() and result.isdigit() and 16 <= len(result) <= 19)


@given(st.text(max_size=80))
def test_a_name_is_1_to_50_characters_without_digits(text: str) -> None:
    result = fields.name(text)
    if isinstance(result, str):
        assert 1 <= len(result) <= fields.MAX_NAME and not any(c.isdigit() for c in result)
    else:
        assert result.field == "name"
