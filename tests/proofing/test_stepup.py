"""Step-up to real name (loa:2) and real person (loa:3) against the emulated providers, over their real
wire protocols; refusals change nothing and are audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from idp import audit
from idp.oauth.acr import LOA1, LOA2, LOA3
from idp.proofing.models import BankCard
from idp.records import people
from tests.oauth.conftest import REDIRECT, Bench, form_value, query_of
from tests.oauth.test_codes import claims_of

# Seeded sandbox population (adapters/sandbox/dataset.py).
ZHANG = {"name": "张伟", "id_number": "110105198503120012", "phone": "13800138001", "card": "6217000000000000012"}
LI = {"name": "李娜", "id_number": "31010419900718002X", "phone": "13800138002"}


def _to_stepup(bench: Bench, acr_values: str, phone: str) -> tuple[str, str]:
    first = bench.authorize(**bench.auth_params(acr_values=acr_values))
    resumed = bench.sign_in(first.headers["location"], phone)
    assert resumed.status_code == 303 and resumed.headers["location"].startswith("/stepup?flow="), resumed.headers.get(
        "location"
    )
    page = bench.client.get(resumed.headers["location"])
    assert page.status_code == 200
    return form_value(page.text, "flow"), form_value(page.text, "csrf")


def _finish(bench: Bench, response: Any) -> dict[str, Any]:
    final = bench.follow(response)
    params = query_of(final.headers["location"])
    assert "code" in params, params
    return claims_of(bench.exchange(params["code"]).json()["id_token"])


def _level(bench: Bench, phone: str) -> int:
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, phone)
        assert person is not None
        return person.proofing_level


def test_registry_check_reaches_loa2_and_binds_the_id_number(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    done = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert done.status_code in (302, 303)
    claims = _finish(bench, done)
    assert claims["acr"] == LOA2 and claims["amr"] == ["sms"]
    assert _level(bench, ZHANG["phone"]) == 2
    with bench.rt.transaction() as session:
        person = people.find_by_id_number(session, bench.rt.protector, ZHANG["id_number"])
        assert person is not None and person.proofing_evidence[-1]["source"] == "registry"


def test_registry_mismatch_changes_nothing(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    response = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": "李娜", "id_number": ZHANG["id_number"]}
    )
    assert response.status_code == 400 and ZHANG["id_number"] not in response.text
    assert _level(bench, ZHANG["phone"]) == 1
    with bench.rt.transaction() as session:
        assert people.find_by_id_number(session, bench.rt.protector, ZHANG["id_number"]) is None


def test_an_id_number_held_by_another_person_is_refused_and_audited(bench: Bench) -> None:
    with bench.rt.transaction() as session:
        people.add(session, bench.rt.protector, id_number=ZHANG["id_number"], name=ZHANG["name"])
    flow, csrf = _to_stepup(bench, LOA2, "13900000009")
    response = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert response.status_code == 409
    assert _level(bench, "13900000009") == 1
    with bench.rt.transaction() as session:
        refused = [e for e in audit.tail(session, 10) if e.action == "proofing.raise" and e.outcome == "refused"]
    assert refused and ZHANG["id_number"] not in str(refused[-1].detail)


def test_unionpay_four_elements_reach_loa2_and_keep_only_a_masked_card(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    done = bench.client.post(
        "/stepup/unionpay",
        data={
            "flow": flow,
            "csrf": csrf,
            "name": ZHANG["name"],
            "id_number": ZHANG["id_number"],
            "card_number": ZHANG["card"],
            "phone": ZHANG["phone"],
        },
    )
    assert done.status_code in (302, 303), done.text
    assert _finish(bench, done)["acr"] == LOA2
    with bench.rt.transaction() as session:
        card = session.scalar(select(BankCard))
    assert card is not None and ZHANG["card"] not in card.masked and card.masked.endswith("0012")


def test_unionpay_mismatch_is_refused(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    response = bench.client.post(
        "/stepup/unionpay",
        data={
            "flow": flow,
            "csrf": csrf,
            "name": ZHANG["name"],
            "id_number": ZHANG["id_number"],
            "card_number": "6222020000000000026",
            "phone": ZHANG["phone"],
        },
    )
    assert response.status_code == 400 and _level(bench, ZHANG["phone"]) == 1


def test_alipay_certify_with_face_reaches_loa3(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA3, LI["phone"])
    started = bench.client.post(
        "/stepup/alipay", data={"flow": flow, "csrf": csrf, "name": LI["name"], "id_number": LI["id_number"]}
    )
    assert started.status_code in (302, 303)
    certify_page = bench.client.get(started.headers["location"])
    assert certify_page.status_code == 200 and "刷脸通过" in certify_page.text
    found = re.search(r'name=certify_id value="([^"]+)"', certify_page.text)
    assert found
    certify_id = found.group(1)
    action = started.headers["location"].split("?")[0].rsplit("/", 1)[0] + "/certify/complete"
    returned = bench.client.post(action, data={"certify_id": certify_id, "result": "pass"})
    assert returned.status_code in (302, 303)
    back = bench.client.get(returned.headers["location"])
    claims = _finish(bench, back)
    assert claims["acr"] == LOA3 and "face" in claims["amr"] and "mfa" in claims["amr"]
    assert _level(bench, LI["phone"]) == 3


def test_declining_step_up_is_unmet_authentication_requirements(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    final = bench.client.post("/stepup/decline", data={"flow": flow, "csrf": csrf})
    params = query_of(final.headers["location"])
    assert final.headers["location"].startswith(REDIRECT)
    assert params["error"] == "unmet_authentication_requirements" and "code" not in params


def test_prompt_none_needing_step_up_is_interaction_required(bench: Bench) -> None:
    bench.code_flow(phone=ZHANG["phone"])  # a loa:1 session with consent
    response = bench.authorize(**bench.auth_params(acr_values=LOA2, prompt="none"))
    assert query_of(response.headers["location"])["error"] == "interaction_required"


def test_a_loa1_session_is_stepped_up_not_reused(bench: Bench) -> None:
    bench.code_flow(phone=ZHANG["phone"])
    response = bench.authorize(**bench.auth_params(acr_values=LOA2))
    assert response.headers["location"].startswith("/stepup?flow=")


def test_session_acr_is_what_was_proven(bench: Bench) -> None:
    token = bench.tokens()
    assert claims_of(token["id_token"])["acr"] == LOA1


def test_stepup_forms_need_csrf(bench: Bench) -> None:
    flow, _ = _to_stepup(bench, LOA2, ZHANG["phone"])
    response = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": "x", "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert response.status_code == 400 and _level(bench, ZHANG["phone"]) == 1


def test_provider_down_offers_another_method(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    bench.client.app.state.sandbox.faults["registry"].always_status = 503  # type: ignore[attr-defined]
    response = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert response.status_code == 503
    assert "核验服务暂时不可用" in response.text and 'action="/stepup/unionpay"' in response.text
