"""Mainland mobile numbers normalised to E.164."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.identity import InvalidIdentifier, normalize_mobile

_SETTINGS = settings(max_examples=150, deadline=None)


@pytest.mark.parametrize(
    "value",
    [
        "13800138000",
        "+86 138 0013 8000",
        "86-138-0013-8000",
        "008613800138000",
        "+8613800138000",
        "(+86) 138-0013-8000",
        "１３８００１３８０００",  # full-width digits from a Chinese input method
    ],
)
def test_accepted_spellings(value: str) -> None:
    assert normalize_mobile(value) == "+8613800138000"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12800138000", "mobile"),
        ("1380013800", "mobile"),
        ("138001380001", "mobile"),
        ("010-12345678", "mobile"),
        ("+1 650 253 0000", r"country code \+1"),
        ("1380013800A", "only digits"),
        ("tel:13800138000", "only digits"),
        ("", "empty"),
        ("   ", "empty"),
        ("+", "not a phone number"),
    ],
)
def test_rejections(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as info:
        normalize_mobile(value)
    assert info.value.kind == "mobile"


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    return draw(st.sampled_from("3456789").map(lambda d: "1" + d)) + draw(st.text("0123456789", min_size=9, max_size=9))


@_SETTINGS
@given(
    mobiles(),
    st.sampled_from(["{n}", "+86{n}", "+86 {a} {b} {c}", "86-{a}-{b}-{c}", "0086{n}", " {a} {b} {c} "]),
)
def test_generated_mobiles_normalise(number: str, template: str) -> None:
    value = template.format(n=number, a=number[:3], b=number[3:7], c=number[7:])
    assert normalize_mobile(value) == "+86" + number


@_SETTINGS
@given(st.text())
def test_arbitrary_text_only_raises_invalid_identifier(value: str) -> None:
    with contextlib.suppress(InvalidIdentifier):
        normalize_mobile(value)


@_SETTINGS
@given(st.text("0123456789+-", min_size=6, max_size=20))
def test_reasons_never_contain_the_input(value: str) -> None:
    try:
        normalize_mobile(value)
    except InvalidIdentifier as error:
        assert value not in error.reason
