"""`keys rotate`: every protected value moves to the new data key while other processes keep working."""

from __future__ import annotations

from sqlalchemy import select

from idp.models import ENCRYPTED_COLUMNS
from idp.records import people
from idp.records.models import Person, SocialSecurityCard
from idp.runtime import Runtime, open_runtime
from keys import rotation
from keys import store as keystore
from keys.envelope import key_version


def _versions(rt: Runtime) -> set[int]:
    with rt.transaction() as s:
        blobs = [b for p in s.scalars(select(Person)) for b in (p.id_number_ct, p.name_ct, p.phone_ct) if b]
        blobs += [c.card_number_ct for c in s.scalars(select(SocialSecurityCard))]
    return {key_version(b) for b in blobs}


def test_rotation_reencrypts_everything_and_retires_the_old_key(rt: Runtime) -> None:
    ids = ["11010519491231002X", "440524198001010013", "310104196507121233"]
    for i, number in enumerate(ids):
        person = rt.run(
            lambda s, n=number, k=i: people.add(s, rt.protector, id_number=n, name=f"测试{k}", phone=f"1380013800{k}")
        )
        rt.run(lambda s, pid=person.id: people.bind_ss_card(s, rt.protector, pid, "A12345678", actor="op"))
    (old,) = _versions(rt)

    # A second process (a running server) opened before the rotation.
    server = open_runtime(rt.settings)
    try:
        seen: list[int] = []
        report = rotation.rotate(rt.key_rotation(), progress=seen.append)
        assert report.new_version != old
        assert report.rewritten == 3 * 3 + 3
        assert report.retired == [old] and report.remaining == 0
        assert sum(seen) == 6 and {"persons", "social_security_cards"} <= set(ENCRYPTED_COLUMNS)
        assert _versions(rt) == {report.new_version}

        # The server has never seen the new key; it reloads on first sight and reads every value.
        with server.transaction() as s:
            for number in ids:
                person = people.find_by_id_number(s, server.protector, number)
                assert person is not None
                view = people.view(s, server.protector, person)
                assert view.id_number is not None and view.social_security_card == "A12**5678"
    finally:
        server.close()

    with rt.transaction() as s:
        statuses = {k.version: k.status for k in s.scalars(select(keystore.DataKey))}
    assert statuses[old] == "retired" and statuses[report.new_version] == "active"


def test_values_written_under_the_old_key_during_rotation_keep_the_key_alive(rt: Runtime) -> None:
    """A value a slow process wrote under the old key after the sweep keeps that key from retirement."""
    rt.run(lambda s: people.add(s, rt.protector, id_number="11010519491231002X", name="张三"))
    stale = open_runtime(rt.settings)
    try:
        rotation.rotate(rt.key_rotation())
        # The stale process still encrypts under its old active version until it refreshes.
        stale.run(lambda s: people.register_by_phone(s, stale.protector, "13900000000"))
        assert len(_versions(rt)) == 2
        report = rotation.rotate(rt.key_rotation())
        assert report.remaining == 0 and _versions(rt) == {report.new_version}
    finally:
        stale.close()
