"""prompt, max_age, acr_values / default acr, and consent: when the person must act, and when not."""

from __future__ import annotations

import time

import time_machine

from idp.oauth.acr import LOA1, LOA2
from tests.oauth.conftest import ISSUER, REDIRECT, Bench, form_value, query_of


def _error(bench: Bench, **params: str) -> dict[str, str]:
    response = bench.authorize(**bench.auth_params(**params))
    assert response.status_code == 302 and response.headers["location"].startswith(REDIRECT), response.text
    return query_of(response.headers["location"])


def test_prompt_none_without_session_is_login_required(bench: Bench) -> None:
    assert _error(bench, prompt="none")["error"] == "login_required"


def test_prompt_none_with_session_and_consent_gives_a_code_at_once(bench: Bench) -> None:
    bench.code_flow()
    response = bench.authorize(**bench.auth_params(prompt="none"))
    params = query_of(response.headers["location"])
    assert "code" in params and params["iss"] == ISSUER


def test_prompt_none_without_consent_is_consent_required(bench: Bench) -> None:
    bench.code_flow()
    other = bench.register(name="第二个部门")
    assert _error(bench, client_id=other.client_id, prompt="none")["error"] == "consent_required"


def test_consent_is_remembered(bench: Bench) -> None:
    bench.code_flow()
    response = bench.authorize(**bench.auth_params())
    assert response.status_code == 302 and "code=" in response.headers["location"]


def test_prompt_consent_asks_again(bench: Bench) -> None:
    bench.code_flow()
    response = bench.authorize(**bench.auth_params(prompt="consent"))
    assert response.headers["location"].startswith("/consent?flow=")


def test_prompt_login_asks_to_sign_in_again(bench: Bench) -> None:
    bench.code_flow()
    response = bench.authorize(**bench.auth_params(prompt="login"))
    assert response.headers["location"].startswith("/login?flow=")


def test_max_age_forces_a_fresh_login(bench: Bench) -> None:
    bench.code_flow()
    with time_machine.travel(time.time() + 2, tick=True):  # the sign-in is now older than max_age=0 allows
        response = bench.authorize(**bench.auth_params(max_age="0"))
        assert response.headers["location"].startswith("/login?flow=")
        assert _error(bench, max_age="0", prompt="none")["error"] == "login_required"
    assert _error(bench, max_age="soon")["error"] == "invalid_request"


def test_declining_consent_is_access_denied(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params(state="s-deny"))
    after = bench.sign_in(first.headers["location"], decision="")  # signed in without the consent button
    page = bench.client.get(after.headers["location"])
    response = bench.client.post(
        "/consent",
        data={"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"), "decision": "deny"},
    )
    params = query_of(response.headers["location"])
    assert params["error"] == "access_denied" and params["state"] == "s-deny"


def test_cancelling_at_the_sign_in_page_is_access_denied(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params(state="s-cancel"))
    page = bench.client.get(first.headers["location"])
    response = bench.client.post(
        "/login/code",
        data={"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf"), "decision": "cancel"},
    )
    params = query_of(response.headers["location"])
    assert params["error"] == "access_denied" and params["state"] == "s-cancel"


def test_consent_page_says_what_each_scope_releases(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params(scope="openid phone real_name"))
    login_page = bench.client.get(first.headers["location"])
    assert "你的手机号码" in login_page.text and "你的真实姓名" in login_page.text  # consent shown while signing in
    after = bench.sign_in(first.headers["location"], decision="")
    page = bench.client.get(after.headers["location"])
    assert "你的手机号码" in page.text and "你的真实姓名" in page.text
    english = bench.client.get(page.url, headers={"Accept-Language": "en"})
    assert "Your mobile phone number" in english.text


def test_acr_above_the_session_leads_to_step_up_never_a_weaker_token(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params(acr_values=LOA2))
    assert first.headers["location"].startswith("/login?flow=")
    resumed = bench.sign_in(first.headers["location"])
    assert resumed.headers["location"].startswith("/stepup?flow=")
    page = bench.client.get(resumed.headers["location"])
    declined = bench.client.post(
        "/stepup/decline", data={"flow": form_value(page.text, "flow"), "csrf": form_value(page.text, "csrf")}
    )
    params = query_of(declined.headers["location"])
    assert params["error"] == "unmet_authentication_requirements" and "code" not in params
    assert LOA2 in params["error_description"]


def test_client_default_acr_is_enforced(bench: Bench) -> None:
    strict = bench.register(name="严格部门", default_acr=LOA2)
    bench.code_flow()  # a loa:1 session exists
    response = bench.authorize(**bench.auth_params(strict))
    assert response.headers["location"].startswith("/stepup?flow=")  # must step up, not reuse loa:1
    # A request can't lower the client's registered level by asking for less.
    lowered = bench.authorize(**bench.auth_params(strict, acr_values=LOA1))
    assert lowered.headers["location"].startswith("/stepup?flow=")


def test_scope_not_registered_is_never_granted(bench: Bench) -> None:
    token = bench.tokens(scope="openid phone id_card")
    assert "id_card" not in token["scope"].split()
