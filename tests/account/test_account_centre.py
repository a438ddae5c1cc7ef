"""The citizen account centre (/account): every page and action for the signed-in person only, every action a
CSRF-checked POST that changes nothing when refused, sessions signed out with their tokens, the data export
holding the person's data and no one else's, signed copies for their signer only, and closing the account
leaving none of the person's data in any table while the same ID number can register afresh."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.audit import sequencer
from idp.audit.events import AuditEvent
from idp.db import utcnow
from idp.oauth import maintenance
from idp.oauth.models import LoginSession
from idp.proofing import service
from idp.records import people
from idp.records.models import Person
from idp.staff import roles
from idp.web.browser import csrf_token
from signing import copies
from signing.models import SignatureRecord
from tests.kit.waiting import wait_until
from tests.oauth.conftest import ISSUER, PHONE, Bench, form_value
from tests.oauth.test_logout import receiver  # noqa: F401 - the back-channel logout receiver fixture
from tests.test_no_plaintext import every_row, found_in
from tests.web.test_no_get_changes_state import changes, dump

ID_NUMBER, NAME = "11010519491231002X", "张三丰"
OTHER_PHONE, OTHER_ID, OTHER_NAME = "13912345678", "440524198001010013", "欧阳娜娜"
PAGES = ["/account/consents", "/account/sessions", "/account/history", "/account/signatures", "/account/face",
         "/account/totp", "/account/data", "/account/close"]  # fmt: skip
ACTIONS: dict[str, dict[str, str]] = {
    "/account/consents/revoke": {"client_id": "x"},
    "/account/sessions/end": {"session": "x"},
    "/account/sessions/end-all": {},
    "/account/data": {},
    "/account/close": {"confirm": "注销"},
    "/account/face/delete": {},
}


def _person(bench: Bench, phone: str, id_number: str, name: str) -> str:
    """Sign in (registering by phone), then bind an ID number and name as a real-name check would."""
    bench.code_flow(phone=phone)
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, phone)
        assert person is not None
        people.bind_id_number(session, bench.rt.protector, person.id, id_number=id_number, name=name,
                              actor=person.id, channel="web", proof=2, source="carrier")  # fmt: skip
        return person.id


def _device(bench: Bench) -> Bench:
    """Another browser on the same running app (its own cookie jar)."""
    client = TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False)
    return Bench(client, bench.rt, bench.rp)


def _csrf(bench: Bench) -> str:
    return form_value(bench.client.get("/account/data").text, "csrf")


@pytest.fixture
def other(bench: Bench) -> Iterator[tuple[Bench, str]]:
    device = _device(bench)
    yield device, _person(device, OTHER_PHONE, OTHER_ID, OTHER_NAME)
    device.client.close()


def settled_dump(bench: Bench) -> dict[str, list[tuple[str, ...]]]:
    """Every row, once the audit events queued so far are sealed: the background sealer sealing them mid-test
    would otherwise be taken for a change the refused requests made."""
    with bench.rt.transaction() as session:
        sequencer.seal(session, bench.rt.master, bench.rt.settings.issuer, wait=True)
    return dump(bench)


def test_signed_out_every_page_offers_sign_in_in_chinese_and_every_action_is_refused(bench: Bench) -> None:
    overview = bench.client.get("/account")
    assert overview.status_code == 200 and "我的账号" in overview.text and 'action="/account/signin"' in overview.text
    assert "Not Found" not in overview.text
    for path in PAGES:
        page = bench.client.get(path)
        assert page.status_code == 401 and 'action="/account/signin"' in page.text, path
    _person(bench, PHONE, ID_NUMBER, NAME)  # someone is signed in elsewhere, with things to change
    stranger = _device(bench)
    stranger.client.cookies.set("yw_b", "a-stranger-browser-0123456789")
    csrf = csrf_token(bench.rt.protector, "account", "-", "a-stranger-browser-0123456789")  # a valid form
    before = settled_dump(bench)
    for path, fields in ACTIONS.items():
        refused = stranger.client.post(path, data={"csrf": csrf, **fields})
        assert refused.status_code == 401 and 'action="/account/signin"' in refused.text, path
    assert changes(before, dump(bench)) == {}


def test_header_signs_in_and_comes_back_to_the_account(bench: Bench) -> None:
    home = bench.client.get("/")
    assert 'href="/account/signin"' in home.text and ">登录<" in home.text
    first = bench.client.get("/account/signin")  # before the account client exists: a button, no change
    assert first.status_code == 200 and 'action="/account/signin"' in first.text
    start = bench.client.post("/account/signin")
    assert start.status_code == 303 and start.headers["location"].startswith("/authorize?")
    login = bench.client.get(start.headers["location"])
    step, visited = bench.sign_in(login.headers["location"]), []
    while step.status_code in (302, 303) and step.headers["location"] != "/account":
        visited.append(step.headers["location"])
        step = bench.client.get(step.headers["location"])
    assert step.headers["location"] == "/account" and visited[-1].startswith(ISSUER + "/account/callback?")
    overview = bench.client.get("/account")
    assert overview.status_code == 200 and "138****8000" in overview.text and 'href="/account">我的<' in overview.text
    assert overview.headers["cache-control"] == "no-store"
    for path, _ in [("/account/passkeys", ""), ("/account/close", "")]:
        assert f'href="{path}"' in overview.text
    again = bench.client.get("/account/signin")  # the client exists now: straight to the sign-in pages
    assert again.status_code == 303 and again.headers["location"].startswith("/authorize?")


def test_overview_shows_masked_profile_and_how_to_raise_the_level(bench: Bench) -> None:
    _person(bench, PHONE, ID_NUMBER, NAME)
    page = bench.client.get("/account").text
    assert "张**" in page and "110***********002X" in page and "138****8000" in page
    assert ID_NUMBER not in page and NAME not in page and PHONE not in page
    assert 'name="level" value="3"' in page
    english = bench.client.get("/account?lang=en").text
    assert "My account" in english and "Raise to level 2" in english and "Sign out" in english


def test_csrf_missing_or_wrong_is_refused_and_changes_nothing(bench: Bench) -> None:
    _person(bench, PHONE, ID_NUMBER, NAME)
    before = settled_dump(bench)
    for path, fields in ACTIONS.items():
        for csrf in ("", "forged"):
            refused = bench.client.post(path, data={"csrf": csrf, **fields} if csrf else fields)
            assert refused.status_code in (400, 422), (path, refused.status_code)
    assert changes(before, dump(bench)) == {}


def test_face_page_offers_delete_only_when_something_is_stored(bench: Bench) -> None:
    person_id = _person(bench, PHONE, ID_NUMBER, NAME)
    empty = bench.client.get("/account/face").text
    assert "没有保存你的人脸信息" in empty and "/account/face/delete" not in empty
    bench.rt.run(lambda s: service.give_face_consent(s, person_id))
    bench.rt.run(lambda s: service.store_face_template(s, bench.rt.protector, person_id, bytes(range(128))))
    stored = bench.client.get("/account/face").text
    assert "已保存你加密的人脸特征" in stored and "/account/face/delete" in stored


def test_sign_a_device_out_revokes_its_tokens_and_tells_its_clients(
    bench: Bench,
    receiver: tuple[str, list[str]],  # noqa: F811
) -> None:
    uri, received = receiver
    rp = bench.register(name="后端退出", backchannel_logout_uri=uri)
    _person(bench, PHONE, ID_NUMBER, NAME)
    phone_device = _device(bench)
    issued = phone_device.tokens(rp)  # the same person on another device, with a refresh token
    with bench.rt.transaction() as session:
        sids = {r.sid for r in session.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None)))}
    page = bench.client.get("/account/sessions").text
    assert page.count('action="/account/sessions/end"') == 2 and "当前设备" in page
    keys = KeySet.import_key_set(bench.client.get("/jwks").json())
    other_sid = jwt.decode(issued["id_token"], keys, algorithms=["ES256"]).claims["sid"]
    assert other_sid in sids
    done = bench.client.post("/account/sessions/end", data={"csrf": _csrf(bench), "session": other_sid})
    assert done.status_code == 303 and done.headers["location"] == "/account/sessions?ended=1"
    refreshed = phone_device.client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": rp.client_id},
        auth=(rp.client_id, rp.client_secret or ""),
    )  # fmt: skip
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    userinfo = phone_device.client.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert userinfo.status_code == 401
    assert phone_device.client.get("/account").text.count('action="/account/signin"') >= 1  # signed out there
    assert bench.client.get("/account/sessions").status_code == 200  # this device still signed in
    _wait(lambda: bool(received))
    assert jwt.decode(received[0], keys, algorithms=["ES256"]).claims["sid"] == other_sid
    phone_device.client.close()


def _wait(ready: Any) -> None:
    wait_until(ready, 10, "the back-channel logout delivery")


def test_another_person_cannot_sign_my_device_out(bench: Bench, other: tuple[Bench, str]) -> None:
    _person(bench, PHONE, ID_NUMBER, NAME)
    device, _ = other
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, PHONE)
        assert person is not None
        my_sid = session.scalars(select(LoginSession.sid).where(LoginSession.person_id == person.id)).first()
    before = settled_dump(bench)
    refused = device.client.post("/account/sessions/end", data={"csrf": _csrf(device), "session": my_sid})
    assert refused.status_code == 404
    assert changes(before, dump(bench)) == {}
    assert bench.client.get("/account/sessions").status_code == 200


def test_sign_out_everywhere_ends_this_device_too(bench: Bench) -> None:
    _person(bench, PHONE, ID_NUMBER, NAME)
    done = bench.client.post("/account/sessions/end-all", data={"csrf": _csrf(bench)})
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert bench.client.get("/account/sessions").status_code == 401


def test_history_lists_sign_ins_in_beijing_time(bench: Bench) -> None:
    _person(bench, PHONE, ID_NUMBER, NAME)
    page = bench.client.get("/account/history").text
    assert "登录" in page and "短信验证码" in page and "网页" in page and "测试部门" in page


def test_history_shows_the_network_a_sign_in_came_from_and_the_trail_keeps_no_address(bench: Bench) -> None:
    away = Bench(TestClient(bench.client.app, base_url=ISSUER, follow_redirects=False, client=("121.36.18.7", 50000)),
                 bench.rt, bench.rp)  # fmt: skip
    away.code_flow(phone=PHONE)
    page = away.client.get("/account/history").text
    assert "来自网络" in page and "121.36.*.*" in page
    assert "121.36.18.7" not in page
    with bench.rt.transaction() as session:
        trail = json.dumps([e.detail for e in session.scalars(select(AuditEvent))])
    assert "121.36.*.*" in trail and "121.36.18.7" not in trail


def test_data_download_holds_my_data_and_no_one_elses(bench: Bench, other: tuple[Bench, str]) -> None:
    person_id = _person(bench, PHONE, ID_NUMBER, NAME)
    response = bench.client.post("/account/data", data={"csrf": _csrf(bench)})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment")
    data = response.json()
    assert data["person"]["id"] == person_id
    assert data["person"]["id_number"] == ID_NUMBER and data["person"]["name"] == NAME
    assert data["person"]["phone"] == "+86" + PHONE
    assert data["consents"] and data["sessions"] and data["history"]
    text = json.dumps(data, ensure_ascii=False)
    _, other_id = other
    for theirs in (OTHER_PHONE, OTHER_ID, OTHER_NAME, other_id):
        assert theirs not in text


def _signature(bench: Bench, person_id: str, kept_for: timedelta = copies.KEEP) -> str:
    def work(session: Any) -> str:
        record = SignatureRecord(person_id=person_id, cert_serial="01", requester=bench.rp.client_id, channel="api",
                                 document_kind="citizen", document_sha256="a" * 64, signed_sha256="b" * 64,
                                 level="B-LT")  # fmt: skip
        session.add(record)
        session.flush()
        copies.keep(session, bench.rt.protector, record.id, person_id, b"%PDF-1.7 signed")
        if kept_for != copies.KEEP:
            session.flush()
            row = session.get(copies.SignedCopy, record.id)
            row.kept_until = utcnow() + kept_for
        return str(record.id)

    return bench.rt.run(work)


def test_signed_copy_downloads_for_its_signer_only(bench: Bench, other: tuple[Bench, str]) -> None:
    person_id = _person(bench, PHONE, ID_NUMBER, NAME)
    record = _signature(bench, person_id)
    listed = bench.client.get("/account/signatures").text
    assert f"/account/signatures/{record}.pdf" in listed
    mine = bench.client.get(f"/account/signatures/{record}.pdf")
    assert mine.status_code == 200 and mine.content == b"%PDF-1.7 signed"
    assert mine.headers["cache-control"] == "no-store"
    device, _ = other
    assert device.client.get(f"/account/signatures/{record}.pdf").status_code == 403
    assert _device(bench).client.get(f"/account/signatures/{record}.pdf").status_code == 401
    expired = _signature(bench, person_id, timedelta(seconds=-1))
    assert bench.client.get(f"/account/signatures/{expired}.pdf").status_code == 404
    assert bench.rt.run(maintenance.purge)["signed_copies"] == 1  # `yiwang db purge` drops expired copies


def test_closing_needs_the_typed_word_and_then_erases_everything(
    bench: Bench,
    other: tuple[Bench, str],
    receiver: tuple[str, list[str]],  # noqa: F811
) -> None:
    uri, received = receiver
    rp = bench.register(name="后端退出", backchannel_logout_uri=uri)
    person_id = _person(bench, PHONE, ID_NUMBER, NAME)
    issued = bench.tokens(rp)
    bench.rt.run(lambda s: service.give_face_consent(s, person_id))
    bench.rt.run(lambda s: service.store_face_template(s, bench.rt.protector, person_id, bytes(range(128))))
    bench.rt.run(lambda s: people.bind_ss_card(s, bench.rt.protector, person_id, "A12345678", actor="op"))
    _signature(bench, person_id)
    bench.rt.run(lambda s: roles.grant(s, bench.rt.protector, id_number=ID_NUMBER, role="auditor", hall=None,
                                       halls=set(), actor="op", channel="cli"))  # fmt: skip
    with bench.rt.transaction() as session:
        person = session.get(Person, person_id)
        assert person is not None
        indexes = [person.id_number_bidx or "", person.phone_bidx or ""]
    csrf = _csrf(bench)
    before = settled_dump(bench)
    wrong = bench.client.post("/account/close", data={"csrf": csrf, "confirm": "好的"})
    assert wrong.status_code == 400 and "注销" in wrong.text
    assert changes(before, dump(bench)) == {}
    closed = bench.client.post("/account/close", data={"csrf": csrf, "confirm": "注销"})
    assert closed.status_code == 200 and "账号已注销" in closed.text
    with bench.rt.transaction() as session:
        assert session.get(Person, person_id) is None and roles.grants(session) == []
    secrets = [ID_NUMBER, NAME, PHONE, "+86" + PHONE, "A12345678", *indexes]
    assert found_in(every_row(bench.rt.engine), secrets) == []
    with bench.rt.transaction() as session:
        theirs = people.find_by_phone(session, bench.rt.protector, OTHER_PHONE)
        assert theirs is not None and theirs.phone_bidx
        their_index = theirs.phone_bidx
    assert found_in(every_row(bench.rt.engine), [their_index]) != []  # the scan sees what is stored
    # Signed out, and every token issued before is refused.
    assert bench.client.get("/account/sessions").status_code == 401
    userinfo = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert userinfo.status_code == 401
    refreshed = bench.client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        auth=(rp.client_id, rp.client_secret or ""),
    )  # fmt: skip
    assert refreshed.status_code == 400
    introspected = bench.client.post(
        "/introspect", data={"token": issued["access_token"]}, auth=(rp.client_id, rp.client_secret or "")
    )
    assert introspected.json()["active"] is False
    _wait(lambda: bool(received))
    # The same ID number and phone can register afresh, as a new person.
    again = _person(bench, PHONE, ID_NUMBER, NAME)
    assert again != person_id
