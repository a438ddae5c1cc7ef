"""A passkey through the HTTP surface: registered at /account/passkeys by a signed-in person, then a sign-in with
it as a method of the engine (discoverable, no username), with what the tokens and the audit trail say."""

from __future__ import annotations

import time
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.audit.events import AuditEvent
from idp.authn.models import Passkey
from idp.oauth import sessions
from tests.kit.authenticator import Authenticator
from tests.oauth.conftest import ISSUER, Bench, form_value, query_of
from tests.oauth.test_codes import claims_of


def register_passkey(client: TestClient, device: Authenticator, name: str = "我的手机") -> None:
    """As the account page's script does it: options by POST, the authenticator, the answer in the form."""
    page = client.get("/account/passkeys")
    assert page.status_code == 200, page.text
    csrf = form_value(page.text, "csrf")
    options = client.post("/account/passkeys/options", data={"csrf": csrf})
    assert options.status_code == 200 and options.headers["cache-control"] == "no-store", options.text
    done = client.post(
        "/account/passkeys/register", data={"csrf": csrf, "name": name, "credential": device.create(options.json())}
    )
    assert done.status_code == 303 and done.headers["location"] == "/account/passkeys?done=added", done.text


def passkey_login(client: TestClient, login_location: str, device: Authenticator, **knobs: Any) -> Any:
    """From /login?flow=… the passkey button: options by POST, the authenticator's assertion, the form."""
    page = client.get(login_location)
    assert 'id="passkey-login"' in page.text
    flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
    options = client.post("/login/passkey/options", data={"flow": flow, "csrf": csrf})
    assert options.status_code == 200, options.text
    return client.post(
        "/login/passkey", data={"flow": flow, "csrf": csrf, "credential": device.get(options.json(), **knobs)}
    )


def _fresh_browser(bench: Bench) -> Bench:
    client = TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False)
    return Bench(client, bench.rt, bench.rp)


def _events(bench: Bench, action: str) -> list[AuditEvent]:
    with bench.rt.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.at)))


def test_register_a_passkey_then_sign_in_with_it_alone(bench: Bench) -> None:
    bench.code_flow()  # signed in by SMS: the account page is open to this browser
    device = Authenticator("127.0.0.1", ISSUER)
    register_passkey(bench.client, device)
    listed = bench.client.get("/account/passkeys?done=added")
    assert "我的手机" in listed.text and "通行密钥已添加" in listed.text
    assert 'aria-current="page"' in listed.text  # inside the account centre's frame, its menu and sign-out
    data_csrf = form_value(bench.client.get("/account/data").text, "csrf")
    mine = bench.client.post("/account/data", data={"csrf": data_csrf}).json()
    assert [k["name"] for k in mine["bindings"]["passkeys"]] == ["我的手机"]  # PIPL art. 45: passkeys are data too

    other = _fresh_browser(bench)  # another browser: no session, no phone typed
    params = other.auth_params()
    first = other.authorize(**params)
    assert first.headers["location"].startswith("/login?flow=")
    response = passkey_login(other.client, first.headers["location"], device)
    assert response.status_code in (302, 303), response.text
    assert sessions.COOKIE in response.headers.get("set-cookie", "")
    final = other.follow(response)
    code = query_of(final.headers["location"])["code"]
    token = other.exchange(code).json()
    claims = claims_of(token["id_token"])
    # loa:1: what the person's proofing reached; a passkey proves possession and the user, not a real name.
    assert claims["acr"] == "urn:yiwang:loa:1" and claims["amr"] == ["mfa", "pop", "user"]
    assert [e.detail["amr"] for e in _events(bench, "login")][-1] == ["mfa", "pop", "user"]
    assert [e.action for e in _events(bench, "passkey.register")] == ["passkey.register"]
    with bench.rt.transaction() as session:
        assert session.scalars(select(Passkey.sign_count)).one() == 1


def test_a_refused_passkey_signs_no_one_in_and_is_audited(bench: Bench) -> None:
    bench.code_flow()
    device = Authenticator("127.0.0.1", ISSUER)
    register_passkey(bench.client, device)
    other = _fresh_browser(bench)
    first = other.authorize(**other.auth_params())
    refused = passkey_login(other.client, first.headers["location"], device, origin="https://evil.example")
    assert refused.status_code == 400 and "通行密钥验证未通过" in refused.text
    assert sessions.COOKIE not in refused.headers.get("set-cookie", "")
    (event,) = _events(bench, "login.passkey")
    assert event.outcome == "refused" and event.detail == {"reason": "invalid"}
    # The genuine key signs in (its counter now 5); a copy of it, behind, is refused and audited on the owner.
    assert passkey_login(other.client, first.headers["location"], device, counter=5).status_code in (302, 303)
    clone = _fresh_browser(bench)
    again = clone.authorize(**clone.auth_params())
    assert passkey_login(clone.client, again.headers["location"], device, counter=3).status_code == 400
    last = _events(bench, "login.passkey")[-1]
    assert (
        last.detail == {"reason": "counter_regression"}
        and last.subject == _events(bench, "passkey.register")[0].subject
    )


def test_registration_needs_a_signed_in_person_and_the_forms_need_csrf(bench: Bench) -> None:
    page = bench.client.get("/account/passkeys")
    assert page.status_code == 401
    bench.code_flow()
    device = Authenticator("127.0.0.1", ISSUER)
    register_passkey(bench.client, device)
    with bench.rt.transaction() as session:
        passkey_id = session.scalars(select(Passkey.id)).one()
    assert bench.client.post(f"/account/passkeys/{passkey_id}/delete", data={"csrf": "forged"}).status_code == 400
    assert bench.client.post("/account/passkeys/options", data={"csrf": "forged"}).status_code == 400
    stranger = _fresh_browser(bench)
    assert stranger.client.get("/account/passkeys").status_code == 401
    with bench.rt.transaction() as session:
        assert session.scalars(select(Passkey.id)).one() == passkey_id
    csrf = form_value(bench.client.get("/account/passkeys").text, "csrf")
    renamed = bench.client.post(f"/account/passkeys/{passkey_id}/rename", data={"csrf": csrf, "name": "  办公 电脑 "})
    assert renamed.status_code == 303 and "办公 电脑" in bench.client.get("/account/passkeys").text
    gone = bench.client.post(f"/account/passkeys/{passkey_id}/delete", data={"csrf": csrf})
    assert gone.status_code == 303
    assert bench.client.post(f"/account/passkeys/{passkey_id}/delete", data={"csrf": csrf}).status_code == 404
    assert [e.action for e in _events(bench, "passkey.delete")] == ["passkey.delete"]


def test_a_registration_answer_for_another_session_is_refused(bench: Bench) -> None:
    """The challenge is bound to the browser and its SSO session: signing in again makes it worthless."""
    bench.code_flow()
    page = bench.client.get("/account/passkeys")
    csrf = form_value(page.text, "csrf")
    options = bench.client.post("/account/passkeys/options", data={"csrf": csrf}).json()
    answer = Authenticator("127.0.0.1", ISSUER).create(options)
    with time_machine.travel(time.time() + 90):  # past the SMS resend wait, well within the challenge's life
        bench.code_flow(prompt="login")  # a new SSO session in the same browser
        refused = bench.client.post(
            "/account/passkeys/register", data={"csrf": csrf, "name": "x", "credential": answer}
        )
    assert refused.status_code == 400 and "未能添加通行密钥" in refused.text
    with bench.rt.transaction() as session:
        assert session.scalar(select(Passkey.id)) is None
    assert _events(bench, "passkey.register")[-1].outcome == "refused"
