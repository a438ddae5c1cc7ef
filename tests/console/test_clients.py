"""Relying parties in the console (admin, client_manager): register with the secret shown once, edit, rotate
with a fresh second factor, disable, delete, revoke a kiosk. Every action audited with the staff member; every
refusal (role, CSRF, stale second factor, bad input) changes nothing."""

from __future__ import annotations

import re
import time
from typing import Any

import time_machine
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.kiosk import devices
from idp.kiosk.models import KioskDevice
from idp.oauth import clients
from idp.oauth.models import OAuthClient
from tests.console.conftest import (
    ADMIN,
    AUDITOR,
    COUNTER,
    OTHER,
    Bench,
    csrf_of,
    next_code,
    second_browser,
    signed_in,
)
from tests.web.test_no_get_changes_state import changes, dump

RP_URI = "https://dept.example.gov.cn/cb"
NEW = {
    "name": "市公积金中心",
    "redirect_uris": RP_URI + "\r\nhttps://dept.example.gov.cn/cb2",
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "profile", "real_name"],
    "default_acr": "urn:yiwang:loa:2",
    "auth_method": "client_secret_basic",
}
CLIENT_MANAGER = {"phone": "13700137006", "id_number": "110105198203030015", "name": "周强"}


def _without_audit(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes(before, after).items() if not k.startswith("audit")}


def _events(bench: Bench, action: str) -> list[AuditEvent]:
    with bench.rt.reading() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _row(bench: Bench, client_id: str) -> OAuthClient | None:
    with bench.rt.reading() as session:
        return session.get(OAuthClient, client_id)


def _secret(html: str) -> str:
    found = re.search(r'<code class="secret">([^<]+)</code>', html)
    assert found, html
    return found.group(1)


def _register(bench: Bench, csrf: str, **over: Any) -> Any:
    return bench.client.post("/console/clients/new", data={"csrf": csrf, **NEW, **over})


def test_a_client_manager_registers_a_client_and_sees_its_secret_once(bench: Bench) -> None:
    staff = signed_in(bench, CLIENT_MANAGER, "client_manager")
    form = bench.client.get("/console/clients/new")
    assert form.status_code == 200 and 'name="grant_types"' in form.text
    made = _register(bench, csrf_of(form.text))
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    client_id = re.search(r'<code class="client-id">([^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
    secret = _secret(made.text)
    row = _row(bench, client_id)
    assert row is not None and row.secret_hash == clients.hash_secret(secret)
    assert row.redirect_uris == [RP_URI, "https://dept.example.gov.cn/cb2"] and row.default_acr == "urn:yiwang:loa:2"
    assert row.scopes == ["openid", "profile", "real_name"] and row.auth_method == "client_secret_basic"
    for page in ("/console/clients", f"/console/clients/{client_id}"):  # never shown again
        shown = bench.client.get(page)
        assert shown.status_code == 200 and client_id in shown.text and secret not in shown.text
    [event] = [e for e in _events(bench, "client.add") if e.subject == client_id]
    assert event.actor == staff.person_id and event.channel == "console"


BAD = [
    {"redirect_uris": "http://dept.example.gov.cn/cb"},  # not https
    {"redirect_uris": ""},  # authorization_code without a redirect URI
    {"scopes": ["openid", "no_such_scope"]},
    {"default_acr": "urn:yiwang:loa:9"},
    {"auth_method": "none", "grant_types": ["client_credentials"]},
    {"auth_method": "private_key_jwt", "jwks": "{not json"},
    {"grant_types": [clients.KIOSK_GRANT]},  # a kiosk's key pair is made by `yiwang kiosk register` only
]


def test_a_bad_registration_is_shown_on_the_form_and_changes_nothing(bench: Bench) -> None:
    staff = signed_in(bench, ADMIN, "admin")
    csrf = csrf_of(bench.client.get("/console/clients/new").text)
    before = dump(bench)
    for bad in BAD:
        refused = _register(bench, csrf, **bad)
        assert refused.status_code == 400 and "未保存" in refused.text and 'role="alert"' in refused.text, bad
        assert 'value="市公积金中心"' in refused.text  # what was typed stays on the form
    assert _without_audit(before, dump(bench)) == {}
    refusals = [e for e in _events(bench, "client.add") if e.outcome == "refused"]
    assert len(refusals) == len(BAD) - 1 and {e.actor for e in refusals} == {staff.person_id}


def test_edit_changes_redirects_scopes_grants_and_level_and_is_audited(bench: Bench) -> None:
    made = bench.register(name="旧名称")
    staff = signed_in(bench, CLIENT_MANAGER, "client_manager")
    page = bench.client.get(f"/console/clients/{made.client_id}")
    assert page.status_code == 200 and "旧名称" in page.text
    edit = {"csrf": csrf_of(page.text), "name": "新名称", "redirect_uris": RP_URI, "default_acr": "urn:yiwang:loa:3",
            "grant_types": ["authorization_code"], "scopes": ["openid", "phone"]}  # fmt: skip
    bad = bench.client.post(f"/console/clients/{made.client_id}/edit", data={**edit, "scopes": ["nope"]})
    assert bad.status_code == 400 and "unknown scope" in bad.text
    assert _row(bench, made.client_id).name == "旧名称"  # type: ignore[union-attr]
    done = bench.client.post(f"/console/clients/{made.client_id}/edit", data=edit)
    assert done.status_code == 200 and "已保存" in done.text
    row = _row(bench, made.client_id)
    assert row is not None and (row.name, row.redirect_uris, row.default_acr) == (
        "新名称",
        [RP_URI],
        "urn:yiwang:loa:3",
    )
    assert (row.grant_types, row.scopes) == (["authorization_code"], ["openid", "phone"])
    assert row.secret_hash == clients.hash_secret(made.client_secret or "")  # the secret is untouched
    event = [e for e in _events(bench, "client.update") if e.outcome == "success"][0]
    assert event.actor == staff.person_id and event.channel == "console"
    assert set(event.detail["changed"]) == {"name", "redirect_uris", "grant_types", "scopes", "default_acr"}


def test_rotating_the_secret_asks_again_for_the_second_factor_then_shows_it_once(bench: Bench) -> None:
    made, kiosk = bench.register(), _kiosk(bench)
    staff = signed_in(bench, ADMIN, "admin")
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    with time_machine.travel(time.time() + settings.console_reauth_s + 60, tick=True):
        csrf = csrf_of(bench.client.get(f"/console/clients/{made.client_id}").text)
        before = dump(bench)
        dangerous = [f"/console/clients/{made.client_id}/rotate", f"/console/clients/{made.client_id}/delete",
                     "/console/clients/kiosks/revoke"]  # fmt: skip
        for path in dangerous:  # each asked again, nothing done
            asked = bench.client.post(path, data={"csrf": csrf, "client_id": kiosk})
            assert asked.status_code == 401 and 'action="/console/reauth"' in asked.text, path
        assert changes(before, dump(bench)) == {}
        confirmed = bench.client.post(
            "/console/reauth", data={"csrf": csrf, "code": next_code(staff.secret), "back": "/console/clients"}
        )
        assert confirmed.status_code == 303
        rotated = bench.client.post(f"/console/clients/{made.client_id}/rotate", data={"csrf": csrf})
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    secret = _secret(rotated.text)
    fresh = clients.Client.from_row(_row(bench, made.client_id))  # type: ignore[arg-type]
    assert fresh.check_client_secret(secret) and not fresh.check_client_secret(made.client_secret or "")
    assert secret not in bench.client.get(f"/console/clients/{made.client_id}").text
    [event] = _events(bench, "client.rotate_secret")
    assert event.actor == staff.person_id and event.channel == "console" and secret not in str(event.detail)


def test_disable_enable_and_delete_and_the_consoles_own_client_stays(bench: Bench) -> None:
    made = bench.register()
    staff = signed_in(bench, CLIENT_MANAGER, "client_manager")
    csrf = csrf_of(bench.client.get(f"/console/clients/{made.client_id}").text)
    provider = bench.client.app.state.provider  # type: ignore[attr-defined]
    basic = (made.client_id, made.client_secret or "")
    assert bench.client.post("/introspect", data={"token": "x"}, auth=basic).status_code == 200
    off = bench.client.post(f"/console/clients/{made.client_id}/disable", data={"csrf": csrf})
    assert off.status_code == 200 and "已停用" in off.text
    assert provider.clients.get(made.client_id) is None
    assert bench.client.post("/introspect", data={"token": "x"}, auth=basic).status_code == 401
    on = bench.client.post(f"/console/clients/{made.client_id}/enable", data={"csrf": csrf})
    assert on.status_code == 200 and provider.clients.get(made.client_id) is not None
    assert [e.actor for e in _events(bench, "client.disable") + _events(bench, "client.enable")] == [
        staff.person_id
    ] * 2


def test_kiosks_are_listed_and_revoked_with_a_fresh_second_factor(bench: Bench) -> None:
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    with bench.rt.transaction() as session:
        kiosk = devices.register(session, settings, hall=settings.halls[0].id, name="一楼东侧终端")
    staff = signed_in(bench, CLIENT_MANAGER, "client_manager")
    listed = bench.client.get("/console/clients")
    assert "一楼东侧终端" in listed.text and kiosk.client_id in listed.text
    assert f"/console/clients/{kiosk.client_id}" not in listed.text  # not editable as an ordinary client
    done = bench.client.post(
        "/console/clients/kiosks/revoke", data={"csrf": csrf_of(listed.text), "client_id": kiosk.client_id}
    )
    assert done.status_code == 200 and "已吊销" in done.text
    with bench.rt.reading() as session:
        assert session.get(KioskDevice, kiosk.client_id).revoked_at is not None  # type: ignore[union-attr]
    [event] = _events(bench, "kiosk.revoke")
    assert event.actor == staff.person_id and event.channel == "console"


# (method, path) of every client page; {client} is a registered client, {kiosk} a kiosk.
PAGES = [
    ("GET", "/console/clients"),
    ("GET", "/console/clients/new"),
    ("POST", "/console/clients/new"),
    ("GET", "/console/clients/{client}"),
    ("POST", "/console/clients/{client}/edit"),
    ("POST", "/console/clients/{client}/rotate"),
    ("POST", "/console/clients/{client}/disable"),
    ("POST", "/console/clients/{client}/enable"),
    ("POST", "/console/clients/{client}/delete"),
    ("POST", "/console/clients/kiosks/revoke"),
]


def _form(path: str, kiosk: str) -> dict[str, Any]:
    if path.endswith("/new"):
        return NEW
    if path.endswith("/edit"):
        return {"name": "改", "redirect_uris": RP_URI, "grant_types": ["authorization_code"], "scopes": ["openid"]}
    return {"client_id": kiosk}


def _kiosk(bench: Bench) -> str:
    settings = bench.client.app.state.settings  # type: ignore[attr-defined]
    with bench.rt.transaction() as session:
        return devices.register(session, settings, hall=settings.halls[0].id, name="终端").client_id


def test_other_roles_are_refused_every_client_page_and_change_nothing(bench: Bench) -> None:
    made, kiosk = bench.register(), _kiosk(bench)
    for who, role in ((COUNTER, "counter"), (AUDITOR, "auditor"), (OTHER, "seal_manager")):
        browser = second_browser(bench)  # each staff member in their own browser
        signed_in(browser, who, role)
        home = browser.client.get("/console")
        assert "/console/clients" not in home.text  # no link to it either
        csrf = csrf_of(home.text)
        before = dump(bench)
        for method, template in PAGES:
            path = template.format(client=made.client_id)
            if method == "GET":
                response = browser.client.get(path)
            else:
                response = browser.client.post(path, data={"csrf": csrf, **_form(path, kiosk)})
            assert response.status_code == 403, f"{role} {method} {path}"
        assert changes(before, dump(bench)) == {}, role


def test_every_client_post_without_its_csrf_token_is_refused_and_changes_nothing(bench: Bench) -> None:
    made, kiosk = bench.register(), _kiosk(bench)
    signed_in(bench, ADMIN, "admin")
    before = dump(bench)
    for method, template in PAGES:
        if method != "POST":
            continue
        path = template.format(client=made.client_id)
        missing = bench.client.post(path, data=_form(path, kiosk))
        wrong = bench.client.post(path, data={"csrf": "forged", **_form(path, kiosk)})
        assert missing.status_code == wrong.status_code == 400, path
    assert changes(before, dump(bench)) == {}


def test_signed_out_requests_reach_no_client_or_organisation_page(bench: Bench) -> None:
    made = bench.register()
    before = dump(bench)
    orgs = [("GET", "/console/orgs"), ("GET", "/console/orgs/x"), ("POST", "/console/orgs/new"),
            ("POST", "/console/orgs/x/members")]  # fmt: skip
    for method, template in PAGES + orgs:
        path = template.format(client=made.client_id)
        if method == "GET":
            response = bench.client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/console", path
        else:
            assert bench.client.post(path, data={"csrf": "x", **_form(path, "x")}).status_code == 401, path
    assert changes(before, dump(bench)) == {}


def test_every_relying_party_and_organisation_string_is_in_both_languages() -> None:
    from idp.web.console.text_rp import RP

    assert set(RP["zh-CN"]) == set(RP["en"])
