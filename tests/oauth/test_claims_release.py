"""Finding 7 of issue 11: the name and the ID number are released only at the level that proved them.

A phone number is recycled by its carrier; a loa:1 sign-in with it says nothing about whose name and number
are on the account.
"""

from __future__ import annotations

import time
from typing import Any

import time_machine

from idp.oauth.acr import LOA2
from idp.proofing import binding
from idp.records import people
from tests.oauth.conftest import Bench

ID_NUMBER, NAME, PHONE = "110105198503120012", "张伟", "13800138001"
SCOPES = "openid profile real_name id_card"


def _userinfo(bench: Bench, token: dict[str, Any]) -> dict[str, Any]:
    response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _client(bench: Bench) -> Any:
    return bench.register(name="户籍部门", scopes=["openid", "profile", "phone", "real_name", "id_card"])


def test_an_unproven_binding_at_loa1_releases_neither_name_nor_number(bench: Bench) -> None:
    """An operator's enrolment (number and name recorded, not proven by the person) on a phone account."""
    with bench.rt.transaction() as session:
        people.add(session, bench.rt.protector, id_number=ID_NUMBER, name=NAME, phone=PHONE)
    rp = _client(bench)
    token = bench.tokens(rp, phone=PHONE, scope=SCOPES)
    assert "id_card" in token["scope"].split()
    info = _userinfo(bench, token)
    assert "id_card_number" not in info and "name" not in info and "nickname" not in info
    assert info["real_name_verified"] is False
    assert ID_NUMBER not in str(info) and NAME not in str(info)


def test_a_loa1_token_stays_loa1_after_the_person_is_proven(bench: Bench) -> None:
    rp = _client(bench)
    token = bench.tokens(rp, phone=PHONE, scope=SCOPES)  # a loa:1 authentication
    with bench.rt.transaction() as session:
        person = people.find_by_phone(session, bench.rt.protector, PHONE)
        assert person is not None
        binding.prove(session, bench.rt.protector, person.id, id_number=ID_NUMBER, name=NAME, source="carrier",
                      channel="test", deny_until=0)  # fmt: skip
    info = _userinfo(bench, token)
    assert "id_card_number" not in info and "name" not in info
    # A new authentication of the proven person is loa:2 and releases both (a minute on: one SMS a minute).
    with time_machine.travel(time.time() + 90, tick=True):
        fresh = bench.tokens(rp, phone=PHONE, scope=SCOPES, acr_values=LOA2, prompt="login")
        info = _userinfo(bench, fresh)
    assert (info["id_card_number"], info["name"], info["real_name_verified"]) == (ID_NUMBER, NAME, True)


def test_roles_are_released_only_for_a_proven_binding(bench: Bench) -> None:
    """A role on an account whose number was bound by a registry match before the fix (strength 0) is not
    released; the same role on a proven binding is."""
    from idp.records import organisations
    from idp.records.models import Membership

    rp = bench.register(name="组织机构", scopes=["openid", "profile", "phone", "org"])
    with bench.rt.transaction() as session:
        person = people.register_by_phone(session, bench.rt.protector, PHONE)
        people.bind_id_number(session, bench.rt.protector, person.id, id_number=ID_NUMBER, name=NAME,
                              actor="legacy", channel="web", proof=0, source="registry")  # fmt: skip
        org = organisations.add(session, bench.rt.protector, bench.rt.uscc_rules, uscc="91110000600037341L",
                                name="某某科技有限公司", kind="enterprise")  # fmt: skip
        session.add(Membership(org_id=org.id, person_id=person.id, role="admin"))
        person_id = person.id
    token = bench.tokens(rp, phone=PHONE, scope="openid org")
    assert "organisations" not in _userinfo(bench, token)
    with bench.rt.transaction() as session:
        people.get(session, person_id).id_proof = 2
    assert _userinfo(bench, token)["organisations"][0]["roles"] == ["admin"]
