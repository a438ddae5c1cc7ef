"""check_identifier: recognition order, the most relevant reason, and what facts may show."""

from __future__ import annotations

import contextlib
import pickle
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.identity import KINDS, InvalidIdentifier, check_identifier, normalize_ss_card_number
from idp.identity.uscc import UsccRules

TODAY = date(2025, 6, 1)
_SETTINGS = settings(max_examples=200, deadline=None)


def mod11_2(first17: str) -> str:
    p = 0
    for digit in first17:
        p = ((p + int(digit)) * 2) % 11
    return first17 + "0123456789X"[(12 - p) % 11]


FOREIGN_2023 = mod11_2("91184019850612001")

VALID = [
    ("11010519491231002X", "citizen_id", "11010519491231002X"),
    ("110105491231002", "citizen_id", "11010519491231002X"),
    (mod11_2("81000019900101001"), "citizen_id", mod11_2("81000019900101001")),
    (FOREIGN_2023, "foreign_pr", FOREIGN_2023),
    ("USA110587051201", "foreign_pr", "USA110587051201"),
    ("91110000600037341L", "uscc", "91110000600037341L"),
    ("+86 138 0013 8000", "mobile", "+8613800138000"),
    ("008613800138000", "mobile", "+8613800138000"),
]


@pytest.mark.parametrize(("value", "kind", "normalized"), VALID)
def test_recognises_each_kind(value: str, kind: str, normalized: str) -> None:
    checked = check_identifier(value, today=TODAY)
    assert (checked.kind, checked.normalized) == (kind, normalized)
    assert check_identifier(value, kind=kind, today=TODAY) == checked
    for fact in checked.facts.values():
        assert normalized not in fact
        assert normalized.lstrip("+") not in fact


def test_person_facts() -> None:
    facts = check_identifier("11010519491231002X", today=TODAY).facts
    assert facts == {
        "document": "resident_id",
        "region": "110105 北京市朝阳区",
        "birth_date": "1949-12-31",
        "sex": "female",
    }
    assert check_identifier(mod11_2("82000019900101002"), today=TODAY).facts["document"] == "mo_residence_permit"


def test_organisation_facts() -> None:
    facts = check_identifier("91110000600037341L").facts
    assert facts["authority"].startswith("9 ")
    assert facts["type"] == "91 企业"
    assert facts["region"] == "110000 北京市"


def test_mobile_facts() -> None:
    assert check_identifier("13800138000").facts == {"country_code": "86"}


def test_uscc_rules_are_passed_through() -> None:
    with pytest.raises(InvalidIdentifier, match="not accepted"):
        check_identifier("91110000600037341L", uscc_rules=UsccRules(allowed={"1", "5"}))


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        ("110105194912310021", "citizen_id", "check character is 1, expected X"),
        ("1101051949123100", "citizen_id", "got 16"),
        (mod11_2("11010519490230002"), "citizen_id", "not a real calendar date"),
        ("91110000600037341M", "uscc", "check character is M, expected L"),
        ("91350100M000100Y4Z", "uscc", "alphabet"),
        (FOREIGN_2023[:-1] + ("0" if FOREIGN_2023[-1] != "0" else "1"), "foreign_pr", "check character"),
        ("USA110587023001", "foreign_pr", "not a real calendar date"),
        ("12800138000", "mobile", "mobile"),
        ("+1 650 253 0000", "mobile", "country code"),
        ("hello world", "unknown", "not a citizen ID"),
    ],
)
def test_reports_the_most_relevant_reason(value: str, kind: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        check_identifier(value, today=TODAY)
    assert info.value.kind == kind
    assert reason in info.value.reason


def test_kind_restricts_the_check() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        check_identifier("91110000600037341L", kind="citizen_id", today=TODAY)
    assert info.value.kind == "citizen_id"
    with pytest.raises(ValueError, match="unknown identifier kind"):
        check_identifier("13800138000", kind="passport")
    assert set(KINDS) == {"citizen_id", "foreign_pr", "uscc", "mobile", "ss_card"}


def test_ss_card_only_when_asked_for() -> None:
    assert normalize_ss_card_number(" a1234567b ") == "A1234567B"
    checked = check_identifier("A1234567B", kind="ss_card")
    assert (checked.kind, checked.normalized, checked.facts) == ("ss_card", "A1234567B", {})
    with pytest.raises(InvalidIdentifier) as info:
        check_identifier("A1234567B")
    assert info.value.kind == "unknown"
    for bad in ("A123456", "A1234567BC", "A1234567-", "Ä1234567B"):
        with pytest.raises(InvalidIdentifier):
            normalize_ss_card_number(bad)


def test_invalid_identifier_is_a_value_error_and_pickles() -> None:
    error = InvalidIdentifier("uscc", "check character is M, expected L")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.reason, str(copy)) == (error.kind, error.reason, str(error))


@_SETTINGS
@given(st.text())
def test_arbitrary_text_only_raises_invalid_identifier(value: str) -> None:
    with contextlib.suppress(InvalidIdentifier):
        check_identifier(value, today=TODAY)


@_SETTINGS
@given(st.text("0123456789ABCXYLMUS+-", min_size=6, max_size=22), st.sampled_from([None, *KINDS]))
def test_reasons_never_contain_the_input(value: str, kind: str | None) -> None:
    try:
        check_identifier(value, kind=kind, today=TODAY)
    except InvalidIdentifier as error:
        assert value not in error.reason
        assert value not in str(error)
