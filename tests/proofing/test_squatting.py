"""Real-name squatting (issue 11, finding 1): knowing a citizen's name and ID number must not let anyone bind
that number, hold it against its owner, or inherit the roles granted to it.

- a registry match binds nothing; roles granted by the number never reach the claimant;
- the owner's ownership proof takes over a weaker binding: the squatter loses number, level, sessions and
  tokens, roles follow the number, both events are audited and listed for operators;
- identity-matching steps are limited per person, per IP and per day; the refusal says when to retry.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from idp import audit
from idp.errors import Conflict, NotFound
from idp.oauth.acr import LOA2
from idp.oauth.models import LoginSession, RefreshToken
from idp.oauth.ratelimit import DatabaseCounters
from idp.proofing import binding, limits
from idp.proofing.models import IdClaim
from idp.records import organisations, people
from idp.records.models import Membership, Person
from idp.runtime import Runtime
from tests.oauth.conftest import Bench
from tests.proofing.test_stepup import ZHANG, _finish, _level, _to_stepup

SQUATTER = "13900000001"
USCC = "91110000600037341L"


def _registry(bench: Bench, flow: str, csrf: str, who: dict[str, str] = ZHANG) -> Any:
    return bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": who["name"], "id_number": who["id_number"]}
    )


def _person(bench: Bench, phone: str) -> Person:
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, phone)
        assert person is not None
        session.expunge(person)
        return person


def _org(rt: Runtime) -> None:
    with rt.transaction() as session:
        organisations.add(session, rt.protector, rt.uscc_rules, uscc=USCC, name="某某科技有限公司", kind="enterprise")


def test_a_registry_claim_gets_no_role_granted_by_that_number(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, SQUATTER)
    assert _registry(bench, flow, csrf).status_code == 200
    squatter = _person(bench, SQUATTER)
    with bench.rt.transaction() as session:
        assert session.get(IdClaim, squatter.id) is not None  # remembered as a claim ...
    assert _level(bench, SQUATTER) == 1  # ... which is worth no level
    _org(bench.rt)
    with pytest.raises(NotFound), bench.rt.transaction() as session:
        organisations.add_member(
            session, bench.rt.protector, bench.rt.uscc_rules, uscc=USCC, id_number=ZHANG["id_number"], role="admin"
        )
    with bench.rt.transaction() as session:
        assert session.scalar(select(Membership)) is None


def test_a_legacy_unproven_binding_gets_no_role(rt: Runtime) -> None:
    """A binding made by a registry match before this fix (strength 0 after migration 0008) is not proven."""
    with rt.transaction() as session:
        squatter = people.register_by_phone(session, rt.protector, SQUATTER)
        people.bind_id_number(
            session, rt.protector, squatter.id, id_number=ZHANG["id_number"], name=ZHANG["name"], actor="legacy",
            channel="web", proof=0, source="registry",
        )  # fmt: skip
    _org(rt)
    with pytest.raises(Conflict), rt.transaction() as session:
        organisations.add_member(
            session, rt.protector, rt.uscc_rules, uscc=USCC, id_number=ZHANG["id_number"], role="admin"
        )
    with rt.transaction() as session:
        assert session.scalar(select(Membership)) is None
        assert not organisations.roles_apply(people.get(session, squatter.id))


def test_the_owners_proof_takes_the_number_back_and_ends_the_squatters_sessions(bench: Bench) -> None:
    # The squatter: signed in, holding tokens, and (from before the fix) Zhang's number with an admin role.
    squatter_tokens = bench.tokens(phone=SQUATTER)
    squatter = _person(bench, SQUATTER)
    _org(bench.rt)
    with bench.rt.transaction() as session:
        people.bind_id_number(
            session, bench.rt.protector, squatter.id, id_number=ZHANG["id_number"], name=ZHANG["name"],
            actor="legacy", channel="web", proof=0, source="registry",
        )  # fmt: skip
        org = organisations.get_by_uscc(session, USCC, bench.rt.uscc_rules)
        session.add(Membership(org_id=org.id, person_id=squatter.id, role="admin"))
    # The owner signs in with his own phone and proves the number is his at the carrier.
    bench.client.cookies.clear()
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    done = bench.client.post(
        "/stepup/carrier", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert done.status_code in (302, 303), done.text
    assert _finish(bench, done)["acr"] == LOA2
    owner = _person(bench, ZHANG["phone"])
    with bench.rt.transaction() as session:
        holder = people.find_by_id_number(session, bench.rt.protector, ZHANG["id_number"])
        assert holder is not None and holder.id == owner.id and holder.id_proof == 2
        lost = people.get(session, squatter.id)
        assert (lost.id_number_bidx, lost.name_ct, lost.proofing_level, lost.id_proof) == (None, None, 1, 0)
        # Every SSO session and refresh token of the squatter ended; the role followed the number.
        assert all(s.ended_at is not None for s in session.scalars(select(LoginSession).filter_by(person_id=lost.id)))
        assert all(r.revoked_at is not None for r in session.scalars(select(RefreshToken).filter_by(person_id=lost.id)))
        assert session.scalars(select(Membership.person_id)).all() == [owner.id]
        events = {(e.action, e.outcome, e.subject) for e in audit.tail(session, 30)}
    assert ("proofing.binding_revoked", "success", squatter.id) in events
    assert ("proofing.conflict", "success", owner.id) in events
    # The squatter's tokens are dead at the token and userinfo endpoints.
    refreshed = bench.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": squatter_tokens["refresh_token"]},
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    userinfo = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {squatter_tokens['access_token']}"})
    assert userinfo.status_code == 401
    # Operators see the conflict (internal ids only).
    with bench.rt.transaction() as session:
        listed = binding.conflicts(session)
    assert [(c.outcome, c.holder, c.claimant, c.source) for c in listed] == [
        ("revoked", squatter.id, owner.id, "carrier")
    ]


def test_an_operator_enrolment_yields_to_the_owners_own_proof(bench: Bench) -> None:
    """Counter staff enrolled Zhang by number (strength 1) and gave that number a role; Zhang's carrier proof
    (2) moves the number and the role to the account he signs in with."""
    _org(bench.rt)
    with bench.rt.transaction() as session:
        enrolled = people.add(session, bench.rt.protector, id_number=ZHANG["id_number"], name=ZHANG["name"])
        organisations.add_member(
            session, bench.rt.protector, bench.rt.uscc_rules, uscc=USCC, id_number=ZHANG["id_number"], role="agent"
        )
        enrolled_id = enrolled.id
    flow, csrf = _to_stepup(bench, LOA2, ZHANG["phone"])
    done = bench.client.post(
        "/stepup/carrier", data={"flow": flow, "csrf": csrf, "name": ZHANG["name"], "id_number": ZHANG["id_number"]}
    )
    assert done.status_code in (302, 303)
    owner = _person(bench, ZHANG["phone"])
    with bench.rt.transaction() as session:
        assert session.scalars(select(Membership.person_id)).all() == [owner.id]
        assert people.get(session, enrolled_id).id_number_bidx is None


def test_registry_guessing_is_limited_per_person_with_a_time_to_retry(bench: Bench) -> None:
    flow, csrf = _to_stepup(bench, LOA2, SQUATTER)
    wrong = {"name": "张伟", "id_number": "11010519491231002X"}
    statuses = [_registry(bench, flow, csrf, wrong).status_code for _ in range(limits.Limits().per_person_hour + 1)]
    assert statuses[:-1] == [400] * limits.Limits().per_person_hour
    refused = _registry(bench, flow, csrf, ZHANG)  # even the right answer, once over the limit
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert re.search(r"请在 \d+ (秒|分钟|小时) 后再试", refused.text)  # when, in the page's language
    with bench.rt.transaction() as session:
        assert session.scalar(select(IdClaim)) is None
        assert any(e.action == "proofing.registry" and e.detail.get("result") == "rate_limited"
                   for e in audit.tail(session, 5))  # fmt: skip


def test_limits_per_ip_per_day_and_paid_calls(rt: Runtime) -> None:
    counters = DatabaseCounters(rt.sessions)
    small = limits.Limits(per_person_hour=100, per_person_day=100, per_ip_hour=3, per_ip_day=100,
                          paid_calls_per_day=4)  # fmt: skip
    for person in ("p1", "p2", "p3"):  # three accounts from one address
        limits.check(counters, small, "registry", person, "203.0.113.7")
    with pytest.raises(limits.TooManyAttempts) as exc:
        limits.check(counters, small, "registry", "p4", "203.0.113.7")
    assert exc.value.status == 429 and exc.value.retry_after > 0
    limits.check(
        counters, small, "registry", "p5", "198.51.100.1"
    )  # paid call 4 of 4 (the refused one was not counted)
    with pytest.raises(limits.TooManyAttempts):  # the whole service's daily budget, whoever asks
        limits.check(counters, small, "carrier", "p6", "192.0.2.9")
    daily = limits.Limits(per_person_hour=100, per_person_day=2)
    limits.check(counters, daily, "face", "p7", "192.0.2.10")
    limits.check(counters, daily, "face", "p7", "192.0.2.11")
    with pytest.raises(limits.TooManyAttempts):  # per person per day, from any address
        limits.check(counters, daily, "face", "p7", "192.0.2.12")
    flows = limits.Limits(face_flows_per_person_day=1)
    limits.start_face_flow(counters, flows, "p8")
    with pytest.raises(limits.TooManyAttempts):
        limits.start_face_flow(counters, flows, "p8")


def test_a_counter_check_outranks_a_face_binding_and_equal_faces_do_not(bench: Bench) -> None:
    from datetime import timedelta

    from idp.authn import counter as counter_method
    from idp.authn.engine import Engine
    from idp.authn.models import CounterCode
    from idp.db import utcnow
    from idp.oauth.provider import Provider

    engine = Engine(Provider(bench.rt, bench.client.app.state.adapters))  # type: ignore[attr-defined]
    with bench.rt.transaction() as session:
        first = people.register_by_phone(session, bench.rt.protector, "13900000011").id
        second = people.register_by_phone(session, bench.rt.protector, "13900000012").id
        third = people.register_by_phone(session, bench.rt.protector, "13900000013").id
        binding.prove(session, bench.rt.protector, first, id_number=ZHANG["id_number"], name=ZHANG["name"],
                      source="face", channel="web", deny_until=0)  # fmt: skip
    with bench.rt.transaction() as session:
        # An equal proof is refused, and the refusal kept for operators (as the engine's step-up does).
        with pytest.raises(binding.BindingRefused) as refused, session.begin_nested():
            binding.prove(session, bench.rt.protector, second, id_number=ZHANG["id_number"], name=ZHANG["name"],
                          source="alipay_certify", channel="web", deny_until=0)  # fmt: skip
        binding.record_refusal(session, refused.value, "web")
        # Third asked for a counter code in their sign-in; staff check the card and redeem it.
        session.add(CounterCode(code_hash=bench.rt.protector.index("counter_code", "12345678"), flow_id="f",
                                person_id=third, expires_at=utcnow() + timedelta(minutes=5)))  # fmt: skip
    with bench.rt.transaction() as session:
        redeemed = counter_method.redeem(
            engine, session, "1234 5678", hall="city", staff="counter-07", name=ZHANG["name"],
            id_number=ZHANG["id_number"],
        )  # fmt: skip
    assert redeemed == third
    with bench.rt.transaction() as session:
        assert people.get(session, third).proofing_level == 3 and people.get(session, first).id_number_bidx is None
        listed = [(c.outcome, c.holder, c.claimant) for c in binding.conflicts(session)]
        counter = [e for e in audit.tail(session, 10) if e.action == "proofing.counter"]
    assert listed == [("revoked", first, third), ("refused", first, second)]
    assert counter and counter[-1].actor == "counter-07"
