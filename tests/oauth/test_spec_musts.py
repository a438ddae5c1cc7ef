"""Spec MUSTs that relying parties hit: 401 for failed client authentication at introspection (RFC 7662
§2.3), and RP-Initiated Logout by POST as well as GET (RP-Initiated Logout 1.0 §2)."""

from __future__ import annotations

from tests.oauth.conftest import Bench, bench, form_value, query_of  # noqa: F401  (bench: the fixture)
from tests.oauth.test_client_auth import _assertion, _pkjwt_client
from tests.oauth.test_logout import BYE

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _introspect(bench: Bench, **kwargs: object) -> tuple[int, str | None, str]:  # noqa: F811
    response = bench.client.post("/introspect", **kwargs)  # type: ignore[arg-type]
    return response.status_code, response.headers.get("www-authenticate"), response.json().get("error", "")


def test_failed_client_authentication_at_introspection_is_401(bench: Bench) -> None:  # noqa: F811
    token = {"token": "whatever"}
    status, challenge, error = _introspect(bench, data=token, auth=(bench.rp.client_id, "wrong"))
    assert (status, error) == (401, "invalid_client") and challenge and challenge.startswith("Basic")
    # A private_key_jwt client whose assertion does not verify: 400 from Authlib before the fix.
    key, client_id = _pkjwt_client(bench)
    forged = _assertion(key, client_id, aud="https://elsewhere.example/introspect")
    data = {**token, "client_id": client_id, "client_assertion_type": ASSERTION_TYPE, "client_assertion": forged}
    status, challenge, error = _introspect(bench, data=data)
    assert (status, error) == (401, "invalid_client") and challenge and challenge.startswith("Basic")
    status, challenge, error = _introspect(bench, data={**token, "client_id": "no-such-client"})
    assert (status, error) == (401, "invalid_client") and challenge


def test_introspection_with_good_credentials_still_answers(bench: Bench) -> None:  # noqa: F811
    response = bench.client.post(
        "/introspect", data={"token": "not-a-token"}, auth=(bench.rp.client_id, bench.rp.client_secret or "")
    )
    assert response.status_code == 200 and response.json() == {"active": False}


def test_a_relying_partys_logout_post_is_treated_like_its_get(bench: Bench) -> None:  # noqa: F811
    rp = bench.register(name="可退出", post_logout_redirect_uris=[BYE])
    tokens = bench.tokens(rp)
    form = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "s1"}
    # An unregistered destination is refused, as for GET.
    evil = bench.client.post("/logout", data={**form, "post_logout_redirect_uri": "https://evil.example/"})
    assert evil.status_code == 400 and "location" not in evil.headers
    done = bench.client.post("/logout", data=form)
    assert done.status_code == 303 and done.headers["location"].startswith(BYE)
    assert query_of(done.headers["location"]) == {"state": "s1"}
    again = bench.authorize(**bench.auth_params(rp, prompt="none"))
    assert query_of(again.headers["location"])["error"] == "login_required"


def test_a_logout_post_without_a_matching_session_asks_for_confirmation(bench: Bench) -> None:  # noqa: F811
    rp = bench.register(name="可退出", post_logout_redirect_uris=[BYE])
    tokens = bench.tokens(rp)
    bench.client.cookies.clear()  # the browser's session is gone (or it is another browser)
    bench.code_flow(rp, phone="13800138001")  # a new session: the hint's sid is not this one
    page = bench.client.post(
        "/logout", data={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "s2"}
    )
    assert page.status_code == 200 and 'action="/logout"' in page.text
    assert form_value(page.text, "uri") == BYE and form_value(page.text, "state") == "s2"
    # The person's confirmation still needs the CSRF token; with it, the session ends and the RP is told.
    assert bench.client.post("/logout", data={"csrf": "forged", "uri": BYE}).status_code == 400
    done = bench.client.post(
        "/logout", data={"csrf": form_value(page.text, "csrf"), "client_id": rp.client_id, "uri": BYE, "state": "s2"}
    )
    assert done.status_code == 303 and query_of(done.headers["location"]) == {"state": "s2"}


def test_an_empty_logout_post_shows_the_confirmation(bench: Bench) -> None:  # noqa: F811
    bench.code_flow()
    page = bench.client.post("/logout", data={})
    assert page.status_code == 200 and 'action="/logout"' in page.text
