"""The one masking helper: a masked value never reveals the whole, and free text loses embedded numbers."""

from __future__ import annotations

import ipaddress
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from idp import place
from idp.identity import citizen_id_check_char
from idp.masking import mask, mask_id_number, mask_name, mask_phone, mask_text


@st.composite
def citizen_ids(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)))
    region = draw(st.sampled_from(["110105", "350102", "440305", "650102"]))
    first = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first + citizen_id_check_char(first)


phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


def test_examples() -> None:
    assert mask_id_number("350102199001011234") == "350***********1234"
    assert mask_phone("+8613800138000") == "+86138****8000"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask(None, "name") == ""
    assert mask("secret", "other") == "******"


@given(citizen_ids())
def test_masked_id_hides_birth_date_and_sequence(number: str) -> None:
    masked = mask_id_number(number)
    assert masked != number and len(masked) == len(number)
    assert number[6:14] not in masked


@given(phones)
def test_masked_phone_hides_the_middle(number: str) -> None:
    assert mask_phone(number) == number[:3] + "****" + number[-4:]
    assert mask_phone("+86" + number) == "+86" + mask_phone(number)


@given(st.text(max_size=40), citizen_ids(), phones, st.text(max_size=40))
def test_mask_text_removes_embedded_numbers(before: str, number: str, phone: str, after: str) -> None:
    text = f"{before} id={number} tel={phone} {after}"
    masked = mask_text(text)
    assert number not in masked
    assert phone not in masked


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=200))
def test_mask_text_leaves_text_without_numbers_alone(text: str) -> None:
    assert mask_text(text) == text


@given(st.ip_addresses())
def test_a_network_shown_is_a_wide_prefix_holding_the_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    shown = place.masked_network(str(address))
    assert shown is not None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    network = (
        ipaddress.ip_network(shown.replace("*", "0") + "/16")
        if "." in shown
        else ipaddress.ip_network(shown.replace("::*", "::") + "/32")
    )
    assert address in network  # the address is somewhere in a /16 (IPv4) or a /32 (IPv6): no finer


def test_networks_are_cut_to_a_prefix_and_names_are_not_addresses() -> None:
    assert place.masked_network("121.36.18.7") == "121.36.*.*"
    assert place.masked_network("::ffff:121.36.18.7") == "121.36.*.*"
    assert place.masked_network("2408:8207:1851:aa0::1") == "2408:8207::*"
    assert place.masked_network("testclient") is None and place.masked_network(None) is None
