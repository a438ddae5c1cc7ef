"""Persons: one ID number is one person; refusals write nothing but an audited refusal."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from idp import audit
from idp.errors import Conflict, InvalidInput, NotFound
from idp.records import people
from idp.records.models import Person, SocialSecurityCard
from idp.runtime import Runtime

ID = "11010519491231002X"
OTHER_ID = "110105194912310038"


def _count(rt: Runtime) -> int:
    with rt.transaction() as s:
        return s.scalar(select(func.count()).select_from(Person)) or 0


def test_add_and_view_masked(rt: Runtime) -> None:
    with rt.transaction() as s:
        person = people.add(s, rt.protector, id_number=ID.lower(), name=" 张  三 ", phone="138 0013 8000")
        view = people.view(s, rt.protector, person)
    assert view.id_number == "110***********002X"
    assert view.name == "张**"
    assert view.phone == "+86138****8000"
    assert view.id_type == "resident_id"
    with rt.transaction() as s:
        found = people.find_by_id_number(s, rt.protector, "110105491231002")  # legacy form, same person
        assert found is not None and found.id == person.id
        assert people.find_by_phone(s, rt.protector, "+86 13800138000").id == person.id  # type: ignore[union-attr]


def test_duplicate_id_number_is_refused_nothing_written_and_refusal_audited(rt: Runtime) -> None:
    rt.run(lambda s: people.add(s, rt.protector, id_number=ID, name="张三"))
    before = _count(rt)
    refusal = audit.Event(action="person.add", subject="-", actor="op")
    with pytest.raises(Conflict, match=r"110\*+002X already exists"):
        rt.run(lambda s: people.add(s, rt.protector, id_number=ID, name="李四"), refusal=refusal)
    assert _count(rt) == before
    with rt.transaction() as s:
        last = audit.tail(s, 1)[0]
    assert (last.action, last.outcome) == ("person.add", "refused")
    assert ID not in str(last.detail)


def test_concurrent_duplicates_make_one_person(rt: Runtime) -> None:
    """The unique blind index holds even when two writers pass the existence check together."""
    errors: list[Exception] = []

    def add() -> None:
        try:
            rt.run(lambda s: people.add(s, rt.protector, id_number=ID, name="张三"))
        except Conflict as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _count(rt) == 1
    assert len(errors) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id_number": "11010519491231002Y", "name": "张三"}, "invalid ID number"),
        ({"id_number": "110105194912310021", "name": "张三"}, "invalid ID number"),
        ({"id_number": ID, "name": "   "}, "name must be"),
        ({"id_number": ID, "name": "张三", "phone": "12345"}, "invalid phone"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(rt: Runtime, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        rt.run(lambda s: people.add(s, rt.protector, **kwargs))
    assert _count(rt) == 0


def test_phone_first_then_id_number_bound_once(rt: Runtime) -> None:
    person = rt.run(lambda s: people.register_by_phone(s, rt.protector, "13800138000"))
    assert person.proofing_level == 1 and person.id_number_bidx is None
    rt.run(
        lambda s: people.bind_id_number(
            s, rt.protector, person.id, id_number=ID, name="张三", actor=person.id, channel="web"
        )
    )
    with pytest.raises(Conflict, match="already has an ID number"):
        rt.run(
            lambda s: people.bind_id_number(
                s, rt.protector, person.id, id_number=OTHER_ID, name="张三", actor=person.id, channel="web"
            )
        )
    second = rt.run(lambda s: people.register_by_phone(s, rt.protector, "13900139000"))
    with pytest.raises(Conflict, match="bound to another person"):
        rt.run(
            lambda s: people.bind_id_number(
                s, rt.protector, second.id, id_number=ID, name="王五", actor=second.id, channel="web"
            )
        )
    with rt.transaction() as s:
        assert s.get(Person, second.id).id_number_bidx is None  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="already registered"):
        rt.run(lambda s: people.register_by_phone(s, rt.protector, "+8613800138000"))


def test_social_security_card_is_bound_and_replaced(rt: Runtime) -> None:
    person = rt.run(lambda s: people.add(s, rt.protector, id_number=ID, name="张三"))
    rt.run(lambda s: people.bind_ss_card(s, rt.protector, person.id, "a12345678", actor="op"))
    rt.run(lambda s: people.bind_ss_card(s, rt.protector, person.id, "B87654321", actor="op"))
    with rt.transaction() as s:
        statuses = sorted(c.status for c in s.scalars(select(SocialSecurityCard)))
        view = people.view(s, rt.protector, s.get(Person, person.id))  # type: ignore[arg-type]
    assert statuses == ["active", "replaced"]
    assert view.social_security_card == "B87**4321"
    with pytest.raises(InvalidInput):
        rt.run(lambda s: people.bind_ss_card(s, rt.protector, person.id, "short", actor="op"))
    with pytest.raises(NotFound):
        rt.run(lambda s: people.bind_ss_card(s, rt.protector, "no-such-id", "A12345678", actor="op"))
