"""Redirect URIs match exactly; an unregistered one gets a 400 page and no redirect (RFC 9700 §4.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idp.errors import InvalidInput
from idp.oauth import redirects
from tests.oauth.conftest import REDIRECT, Bench

ATTACKS = [
    "https://RP.example/cb",  # case of the host
    "https://rp.example/CB",  # case of the path
    "https://rp.example/cb/",  # trailing slash
    "https://rp.example/cb/..;/evil",  # path traversal tricks
    "https://rp.example/cb/../evil",
    "https://rp.example@evil.example/cb",  # credentials / @ in the authority
    "https://evil.example@rp.example/cb",
    "https://rp.example/cb?x=1",  # extra query
    "https://rp.example/cb#frag",
    "javascript:alert(1)//https://rp.example/cb",
    "data:text/html,https://rp.example/cb",
    "https://rp.example.evil.example/cb",
    "http://rp.example/cb",
    " https://rp.example/cb",
]


@pytest.mark.parametrize("uri", ATTACKS)
def test_near_miss_redirect_uri_gets_a_page_not_a_redirect(bench: Bench, uri: str) -> None:
    response = bench.authorize(**bench.auth_params(redirect_uri=uri))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "text/html" in response.headers["content-type"]


def test_missing_redirect_uri_is_refused_without_redirect(bench: Bench) -> None:
    params = bench.auth_params()
    del params["redirect_uri"]
    response = bench.authorize(**params)
    assert response.status_code == 400 and "location" not in response.headers


def test_unknown_client_gets_a_page(bench: Bench) -> None:
    response = bench.authorize(**bench.auth_params(client_id="nobody"))
    assert response.status_code == 400 and "location" not in response.headers


def test_exact_registered_uri_is_accepted(bench: Bench) -> None:
    response = bench.authorize(**bench.auth_params(redirect_uri=REDIRECT))
    assert response.status_code == 303 and response.headers["location"].startswith("/login?flow=")


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "https://*.example/cb",
        "https://user@rp.example/cb",
        "https://rp.example/a/..;/b",
        "http://rp.example/cb",
        "https://rp.example/cb#x",
        "not a uri",
    ],
)
def test_dangerous_redirect_uris_cannot_be_registered(bench: Bench, uri: str) -> None:
    with pytest.raises(InvalidInput):
        bench.register(redirect_uris=[uri])


@given(st.text(max_size=60))
def test_matching_is_plain_equality(candidate: str) -> None:
    assert redirects.matches(candidate, [REDIRECT]) == (candidate == REDIRECT)
