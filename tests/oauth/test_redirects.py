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


REGISTERED = ["https://rp.example/cb", "https://app.example:8443/oauth/callback", "http://127.0.0.1:51000/cb"]


def _swap_case(uri: str, at: int) -> str:
    letters = [i for i, c in enumerate(uri) if c.isalpha()]
    i = letters[at % len(letters)]
    return uri[:i] + uri[i].swapcase() + uri[i + 1 :]


def _with_authority(uri: str, change: str) -> str:
    scheme, rest = uri.split("://", 1)
    host, _, path = rest.partition("/")
    bare = host.split(":")[0]
    changed = {
        "user": f"evil.example@{host}",
        "at-evil": f"{host}@evil.example",
        "port": f"{bare}:444",
        "no-port": bare if ":" in host else f"{bare}:443",  # dropped, or the scheme's default made explicit
        "dot": f"{host}.",
        "sub": f"{bare}.evil.example",
    }[change]
    return f"{scheme}://{changed}/{path}"


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[str, str]:
    """(registered, a near miss of it): one small edit an attacker would try."""
    uri = draw(st.sampled_from(REGISTERED))
    kind = draw(
        st.sampled_from(["case", "slash", "path", "traversal", "authority", "scheme", "query", "fragment", "space",
                         "encode", "backslash"])
    )  # fmt: skip
    if kind == "case":
        miss = _swap_case(uri, draw(st.integers(min_value=0, max_value=100)))
    elif kind == "slash":
        miss = uri + "/" if not uri.endswith("/") else uri[:-1]
    elif kind == "path":
        miss = uri + "/" + draw(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8))
    elif kind == "traversal":
        miss = uri + draw(st.sampled_from(["/..;/evil", "/../evil", "/./", "/%2e%2e/evil", "/..%2fevil"]))
    elif kind == "authority":
        # A loopback IP literal's port may vary (RFC 9700 §2.1, RFC 8252 §7.3): no near miss there.
        ports = [] if uri.startswith("http://127.0.0.1") else ["port", "no-port"]
        change = draw(st.sampled_from(["user", "at-evil", *ports, "dot", "sub"]))
        miss = _with_authority(uri, change)
    elif kind == "scheme":
        scheme = uri.split(":", 1)[0]
        other = draw(st.sampled_from([s for s in ("http", "https", "javascript", "data", "HTTPS") if s != scheme]))
        miss = other + uri[len(scheme) :]
    elif kind == "query":
        miss = uri + "?" + draw(st.sampled_from(["x=1", "redirect=https://evil.example", ""]))
    elif kind == "fragment":
        miss = uri + "#" + draw(st.sampled_from(["", "x", "@evil.example"]))
    elif kind == "space":
        miss = draw(st.sampled_from([" ", "\t", "\n", "%20"])) + uri if draw(st.booleans()) else uri + " "
    elif kind == "encode":
        i = draw(st.integers(min_value=8, max_value=len(uri) - 1))
        miss = uri[:i] + "%" + format(ord(uri[i]), "02X") + uri[i + 1 :]
    else:
        miss = uri.replace("/", "\\", 3)
    return uri, miss


@given(near_misses())
def test_every_near_miss_of_a_registered_uri_is_refused(pair: tuple[str, str]) -> None:
    registered, miss = pair
    assert miss != registered
    assert redirects.matches(registered, REGISTERED)
    assert not redirects.matches(miss, REGISTERED), miss


@given(st.text(max_size=60))
def test_arbitrary_text_matches_only_when_registered(candidate: str) -> None:
    assert redirects.matches(candidate, REGISTERED) == (candidate in REGISTERED)


def test_a_loopback_redirect_may_use_any_port() -> None:
    """RFC 9700 §2.1 / RFC 8252 §7.3: a native app's http loopback IP redirect URI matches on any port; nothing
    else about it may vary, and `localhost` and https URIs keep exact matching."""
    registered = ["http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1", "http://localhost:5000/cb", "https://a.example/cb"]
    assert redirects.matches("http://127.0.0.1:61234/cb", registered)
    assert redirects.matches("http://[::1]/cb?x=1", registered)
    for miss in (
        "http://127.0.0.1:61234/cb/",
        "http://127.0.0.1:61234/other",
        "http://127.0.0.1.evil.example/cb",
        "http://evil@127.0.0.1:1/cb",
        "https://127.0.0.1:61234/cb",
        "http://[::1]:9/cb?x=2",
        "http://localhost:5001/cb",
        "https://a.example:444/cb",
        "http://127.0.0.1:1@evil.example/cb",
    ):
        assert not redirects.matches(miss, registered), miss
