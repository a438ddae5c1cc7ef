"""Step-up to real name (loa:2) and real person (loa:3) against the emulated providers, over their real
wire protocols; refusals change nothing and are audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from idp import audit
from idp.oauth.acr import LOA1, LOA2, LOA3
from idp.proofing.models import BankCard, IdConflict
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


def _carrier(bench: Bench, flow: str, csrf: str, who: dict[str, str]) -> Any:
    return bench.client.post(
        "/stepup/carrier", data={"flow": flow, "csrf": csrf, "name": who["name"], "id_number": who["id_number"]}
    )


def test_a_registry_match_alone_binds_nothing_and_gives_no_level(bench: Bench) -> None:
    """Name + number is knowledge anyone with a leaked record has: the page asks for a proof of ownership."""
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    claimed = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert claimed.status_code == 200 and 'action="/stepup/carrier"' in claimed.text
    assert "不能证明" in claimed.text
    assert _level(bench, ZHANG["phone"]) == 1
    with bench.rt.transaction() as session:
        assert people.find_by_id_number(session, bench.rt.protector, ZHANG["id_number"]) is None


def test_carrier_check_proves_ownership_reaches_loa2_and_binds(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    done = _carrier(bench, flow, csrf, ZHANG)
    assert done.status_code in (302, 303), done.text
    claims = _finish(bench, done)
    assert claims["acr"] == LOA2 and claims["amr"] == ["sms"]
    assert _level(bench, ZHANG["phone"]) == 2
    with bench.rt.transaction() as session:
        person = people.find_by_id_number(session, bench.rt.protector, ZHANG["id_number"])
        assert person is not None and (person.id_proof, person.id_proof_source) == (2, "carrier")
        assert person.proofing_evidence[-1]["source"] == "carrier"


def test_carrier_check_of_someone_elses_number_is_refused(bench: Bench) -> None:
    """The squatter knows Zhang's name and number, but their own phone is not registered to them."""
    flow, csrf = _to_stepup(bench, LOA2, LI["phone"])
    response = _carrier(bench, flow, csrf, ZHANG)
    assert response.status_code == 400 and ZHANG["id_number"] not in response.text
    assert _level(bench, LI["phone"]) == 1


def test_registry_mismatch_changes_nothing(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    response = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": "李娜", "id_number": ZHANG["id_number"]}
    )
    assert response.status_code == 400 and ZHANG["id_number"] not in response.text
    assert _level(bench, ZHANG["phone"]) == 1
    with bench.rt.transaction() as session:
        assert people.find_by_id_number(session, bench.rt.protector, ZHANG["id_number"]) is None


def test_an_id_number_held_by_an_equal_proof_is_refused_and_audited(bench: Bench) -> None:
    """Zhang's number is bound by a bank-card proof (strength 2) to another account; a carrier proof (2)
    does not take it over: refused, audited, and listed as a conflict."""
    with bench.rt.transaction() as session:
        other = people.register_by_phone(session, bench.rt.protector, "13900000009")
        people.bind_id_number(
            session, bench.rt.protector, other.id, id_number=ZHANG["id_number"], name=ZHANG["name"],
            actor="test", channel="test", proof=2, source="unionpay",
        )  # fmt: skip
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    response = _carrier(bench, flow, csrf, ZHANG)
    assert response.status_code == 409
    assert _level(bench, ZHANG["phone"]) == 1
    with bench.rt.transaction() as session:
        refused = [e for e in audit.tail(session, 10) if e.action == "proofing.conflict" and e.outcome == "refused"]
        assert refused and ZHANG["id_number"] not in str(refused[-1].detail)
        assert session.scalar(select(IdConflict.outcome)) == "refused"


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


def test_a_phone_the_carrier_has_no_record_of_proves_nothing(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, "13900000003")
    response = _carrier(bench, flow, csrf, ZHANG)
    assert response.status_code == 400 and "运营商没有该手机号的实名记录" in response.text
    assert _level(bench, "13900000003") == 1
