"""Real person by live face: separate consent, real name first, liveness that a still photo can't pass,
single-use challenges, deletable templates; Alipay sign-in with linking only after the person proved
themselves in the same flow."""

from __future__ import annotations

import base64
import re
from importlib import resources

from sqlalchemy import select

from idp import audit
from idp.oauth.acr import LOA3
from idp.proofing import service
from idp.proofing.models import AlipayBinding, FaceConsent, FaceTemplate
from idp.records import people
from tests.oauth.conftest import Bench, form_value, query_of
from tests.oauth.test_codes import claims_of
from tests.proofing.test_stepup import ZHANG, _level, _to_stepup


def _photo() -> bytes:
    return (resources.files("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg").read_bytes()


def _to_face_step(bench: Bench) -> tuple[str, str]:
    """Zhang Wei signs in for loa:3 and claims his name and number (a registry match: no level yet), and is
    offered the face step, which proves them against the registry photo."""
    flow, csrf = _to_stepup(bench, LOA3, ZHANG["phone"])
    page = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert page.status_code == 200
    assert 'href="/stepup/face?flow=' in page.text and 'href="/stepup/counter?flow=' in page.text
    return flow, form_value(page.text, "csrf")


def test_face_needs_its_own_consent_first(bench: Bench) -> None:
    flow, csrf = _to_face_step(bench)
    page = bench.client.get(f"/stepup/face?flow={flow}")
    assert 'action="/stepup/face/consent"' in page.text and "/stepup/counter" in page.text
    frames = [base64.b64encode(_photo()).decode()]
    refused = bench.client.post("/stepup/face", json={"flow": flow, "csrf": csrf, "frames": frames})
    assert refused.status_code == 400 and _level(bench, ZHANG["phone"]) == 1
    bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": csrf, "agree": "yes"})
    with bench.rt.transaction() as session:
        assert session.scalar(select(FaceConsent)) is not None


def test_a_still_photo_does_not_pass_liveness_and_a_challenge_is_single_use(bench: Bench) -> None:
    flow, csrf = _to_face_step(bench)
    bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": csrf, "agree": "yes"})
    page = bench.client.get(f"/stepup/face?flow={flow}")
    assert "/static/stepup_face.js" in page.text
    # The challenge is issued by a POST (a GET never changes the journey), three actions in random order.
    issued = bench.client.post("/stepup/face/challenge", json={"flow": flow, "csrf": csrf})
    assert issued.status_code == 200 and len(issued.json()["challenge"]) == 3
    frames = [base64.b64encode(_photo()).decode()] * 12
    response = bench.client.post("/stepup/face", json={"flow": flow, "csrf": csrf, "frames": frames})
    assert response.status_code == 400 and "retry" in response.json()
    assert _level(bench, ZHANG["phone"]) == 1
    with bench.rt.transaction() as session:
        assert session.scalar(select(FaceTemplate)) is None  # nothing kept from a failed attempt
        event = [e for e in audit.tail(session, 5) if e.action == "proofing.face"][-1]
    assert event.outcome == "refused" and "expected" in event.detail["liveness"]
    replay = bench.client.post("/stepup/face", json={"flow": flow, "csrf": csrf, "frames": frames})
    assert replay.status_code == 400  # the challenge was used up; a new one needs a new page


def test_face_step_requires_real_name_first(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA3, "13700000001")
    page = bench.client.get(f"/stepup/face?flow={flow}")
    assert page.status_code == 400


def test_oversized_or_malformed_frames_are_refused(bench: Bench) -> None:
    flow, csrf = _to_face_step(bench)
    bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": csrf, "agree": "yes"})
    bench.client.post("/stepup/face/challenge", json={"flow": flow, "csrf": csrf})
    too_many = bench.client.post("/stepup/face", json={"flow": flow, "csrf": csrf, "frames": ["AA=="] * 100})
    assert too_many.status_code == 400
    bad = bench.client.post("/stepup/face", content=b"not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400


def test_person_can_delete_face_data(bench: Bench) -> None:
    bench.code_flow(phone=ZHANG["phone"])
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, ZHANG["phone"])
        assert person is not None
        service.give_face_consent(session, person.id)
        service.store_face_template(session, bench.rt.protector, person.id, b"\x00" * 1024)
        row = session.get(FaceTemplate, person.id)
        assert row is not None and b"\x00" * 64 not in row.template_ct
    page = bench.client.get("/account/face")
    assert page.status_code == 200
    bench.client.post("/account/face/delete", data={"csrf": form_value(page.text, "csrf")})
    with bench.rt.transaction() as session:
        assert session.get(FaceTemplate, person.id) is None and session.get(FaceConsent, person.id) is None


def _alipay_login(bench: Bench, user_button: str) -> tuple[str, object]:
    first = bench.authorize(**bench.auth_params())
    login_page = bench.client.get(first.headers["location"])
    flow = form_value(login_page.text, "flow")
    to_alipay = bench.client.get(f"/login/alipay?flow={flow}")
    assert to_alipay.status_code in (302, 303)
    authorize_page = bench.client.get(to_alipay.headers["location"])
    hidden = dict(re.findall(r'name=(\w+) value="([^"]*)"', authorize_page.text))
    grant_url = to_alipay.headers["location"].split("?")[0].rsplit("/", 1)[0] + "/grant"
    granted = bench.client.post(grant_url, data={**hidden, "user_id": user_button})
    callback = granted.headers["location"].replace("http://127.0.0.1:8000", "")
    return flow, bench.client.get(callback)


def test_alipay_account_is_linked_only_after_the_person_proves_themselves(bench: Bench) -> None:
    flow, response = _alipay_login(bench, "2088000000000001")
    assert response.status_code == 200 and "尚未绑定" in response.text  # type: ignore[attr-defined]
    with bench.rt.transaction() as session:
        assert session.scalar(select(AlipayBinding)) is None  # nothing linked before the SMS proof
    # The person signs in with the SMS code in the same flow: now the account is linked.
    page = response
    sent = bench.client.post(
        "/login/sms",
        data={
            "flow": flow,
            "csrf": form_value(page.text, "csrf"),  # type: ignore[attr-defined]
            "phone": ZHANG["phone"],
        },
    )
    assert sent.status_code == 200
    form = {"flow": flow, "csrf": form_value(sent.text, "csrf"), "phone": ZHANG["phone"], "agree": "yes"}
    done = bench.client.post(
        "/login/code", data={**form, "code": bench.outbox_code(ZHANG["phone"]), "decision": "approve"}
    )
    bench.follow(done)
    with bench.rt.transaction() as session:
        assert session.scalar(select(AlipayBinding)) is not None
    # Next time Alipay alone signs the person in, and says so in amr.
    bench.client.cookies.delete("yw_session")
    _, response = _alipay_login(bench, "2088000000000001")
    final = bench.follow(response)  # type: ignore[arg-type]
    params = query_of(final.headers["location"])
    assert claims_of(bench.exchange(params["code"]).json()["id_token"])["amr"] == ["swk"]


def test_alipay_callback_with_a_forged_state_is_refused(bench: Bench) -> None:
    first = bench.authorize(**bench.auth_params())
    flow = form_value(bench.client.get(first.headers["location"]).text, "flow")
    response = bench.client.get("/login/alipay/callback", params={"auth_code": "x", "state": f"{flow}.forged"})
    assert response.status_code == 400
