"""Passkey ceremonies against real authenticator responses (tests/kit/authenticator.py: a P-256 key, real
authenticator data, client data and signatures). Each refusal names the one thing that is wrong, and would pass
if its check were removed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from idp.audit.events import AuditEvent
from idp.authn import passkeys
from idp.authn.models import Passkey, PasskeyChallenge
from idp.db import utcnow
from idp.records import people
from idp.runtime import Runtime, initialise, open_runtime
from idp.settings import Settings
from tests.kit.authenticator import Authenticator, b64

RP = passkeys.RelyingParty.of("https://id.example.gov.cn")
BROWSER = "browser-aaaaaaaaaaaaaaaaaaaa"
SID = "sid-1"
FLOW = "flow-1"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite for the checks (they are the same on any database); PostgreSQL once, below, for the storage."""
    return f"sqlite:///{tmp_path / 'yiwang.db'}"


def _person(rt: Runtime, phone: str = "+8613700138001") -> str:
    return rt.run(lambda s: people.register_by_phone(s, rt.protector, phone, channel="web").id)


def _register(
    rt: Runtime, person_id: str, device: Authenticator | None = None, name: str = "我的手机"
) -> Authenticator:
    device = device or Authenticator(RP.id, RP.origin)
    options = rt.run(
        lambda s: passkeys.registration_options(s, rt.protector, RP, person_id, "137****8001", BROWSER, SID)
    )
    answer = device.create(options)
    rt.run(lambda s: passkeys.register(s, rt.protector, RP, person_id, BROWSER, SID, name, answer))
    return device


def _options(rt: Runtime, browser: str = BROWSER, flow: str = FLOW) -> dict[str, object]:
    return rt.run(lambda s: passkeys.authentication_options(s, rt.protector, RP, browser, flow))


def _authenticate(rt: Runtime, answer: str, browser: str = BROWSER, flow: str = FLOW) -> Passkey:
    return rt.run(lambda s: passkeys.authenticate(s, rt.protector, RP, browser, flow, answer))


def _refused(rt: Runtime, answer: str, reason: str, **kw: str) -> None:
    with pytest.raises(passkeys.PasskeyRefused) as caught:
        _authenticate(rt, answer, **kw)
    assert caught.value.reason == reason, caught.value.reason


def test_register_then_sign_in_and_nothing_personal_in_plaintext(rt: Runtime) -> None:
    person = _person(rt)
    device = _register(rt, person)
    options = _options(rt)
    assert "allowCredentials" not in options or not options["allowCredentials"]  # discoverable: no username
    assert options["userVerification"] == "required" and options["rpId"] == RP.id
    row = _authenticate(rt, device.get(options))
    assert row.person_id == person and row.sign_count == 1 and row.last_used_at is not None
    with rt.transaction() as session:
        stored = session.scalars(select(Passkey)).one()
        raw = json.dumps([stored.credential_bidx, stored.aaguid, stored.transports]).encode()
        assert b64(device.credential_id).encode() not in raw
        assert device.credential_id not in stored.credential_id_ct and "我的手机".encode() not in stored.name_ct
        assert [i.name for i in passkeys.listed(session, rt.protector, person)] == ["我的手机"]


def test_registration_options_want_a_resident_key_and_user_verification_and_exclude_known_ones(rt: Runtime) -> None:
    person = _person(rt)
    device = _register(rt, person)
    options = rt.run(lambda s: passkeys.registration_options(s, rt.protector, RP, person, "x", BROWSER, SID))
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [c["id"] for c in options["excludeCredentials"]] == [b64(device.credential_id)]
    assert options["user"]["id"] != person and person not in json.dumps(options)


def test_registration_without_user_verification_is_refused(rt: Runtime) -> None:
    person = _person(rt)
    options = rt.run(lambda s: passkeys.registration_options(s, rt.protector, RP, person, "x", BROWSER, SID))
    answer = Authenticator(RP.id, RP.origin).create(options, uv=False)
    with pytest.raises(passkeys.PasskeyRefused, match="invalid"):
        rt.run(lambda s: passkeys.register(s, rt.protector, RP, person, BROWSER, SID, "x", answer))


def test_registration_challenge_is_bound_to_the_browser_and_the_session(rt: Runtime) -> None:
    person = _person(rt)
    options = rt.run(lambda s: passkeys.registration_options(s, rt.protector, RP, person, "x", BROWSER, SID))
    answer = Authenticator(RP.id, RP.origin).create(options)
    for browser, sid in (("another-browser-aaaaaaaa", SID), (BROWSER, "another-sid")):
        with pytest.raises(passkeys.PasskeyRefused, match="no_challenge"):
            rt.run(lambda s, b=browser, i=sid: passkeys.register(s, rt.protector, RP, person, b, i, "x", answer))


def test_a_challenge_we_did_not_issue_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    options = _options(rt)
    _refused(rt, device.get(options, challenge=b64(b"\x01" * 32)), "invalid")


def test_a_replayed_challenge_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    options = _options(rt)
    _authenticate(rt, device.get(options))
    _refused(rt, device.get(options), "no_challenge")  # a fresh signature, an already used challenge


def test_a_challenge_of_another_browser_or_journey_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    options = _options(rt)
    _refused(rt, device.get(options), "no_challenge", browser="another-browser-aaaaaaaa")
    _refused(rt, device.get(options), "no_challenge", flow="flow-2")


def test_an_expired_challenge_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    options = _options(rt)
    with time_machine.travel(utcnow() + timedelta(seconds=passkeys.CHALLENGE_TTL + 1)):
        _refused(rt, device.get(options), "challenge_expired")


def test_another_origin_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    _refused(rt, device.get(_options(rt), origin="https://id.example.gov.cn.evil.example"), "invalid")


def test_another_rp_id_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    _refused(rt, device.get(_options(rt), rp_id="evil.example"), "invalid")


def test_no_user_verification_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    _refused(rt, device.get(_options(rt), uv=False), "invalid")


def test_a_bad_signature_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    answer = json.loads(device.get(_options(rt)))
    impostor = Authenticator(RP.id, RP.origin, credential_id=device.credential_id, user_handle=device.user_handle)
    answer["response"]["signature"] = json.loads(impostor.get({"challenge": "x"}))["response"]["signature"]
    _refused(rt, json.dumps(answer), "invalid")


def test_a_counter_going_backwards_is_refused_as_a_clone(rt: Runtime) -> None:
    person = _person(rt)
    device = _register(rt, person)
    _authenticate(rt, device.get(_options(rt), counter=7))
    with pytest.raises(passkeys.PasskeyRefused) as caught:
        _authenticate(rt, device.get(_options(rt), counter=7))  # a copy of the key, behind the original
    assert caught.value.reason == "counter_regression" and caught.value.person_id == person
    with rt.transaction() as session:
        assert session.scalars(select(Passkey.sign_count)).one() == 7
    _authenticate(rt, device.get(_options(rt), counter=8))


def test_an_authenticator_without_a_counter_keeps_working(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    for _ in range(2):  # synced passkeys report 0 each time (§6.1.1: both zero means no counter)
        _authenticate(rt, device.get(_options(rt), counter=0))


def test_an_unknown_credential_is_refused(rt: Runtime) -> None:
    _register(rt, _person(rt))
    stranger = Authenticator(RP.id, RP.origin, user_handle=b"\x02" * 32)
    _refused(rt, stranger.get(_options(rt)), "unknown_credential")


def test_another_persons_credential_is_refused(rt: Runtime) -> None:
    """The credential is one person's, the user handle the authenticator returns another's (§7.2 step 6)."""
    mine = _register(rt, _person(rt))
    theirs = _register(rt, _person(rt, "+8613700138002"))
    _refused(rt, mine.get(_options(rt), user_handle=theirs.user_handle), "wrong_person")


def test_a_sign_in_without_a_user_handle_or_with_a_garbled_one_is_refused(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    _refused(rt, device.get(_options(rt), user_handle=b""), "wrong_person")
    garbled = json.loads(device.get(_options(rt)))
    garbled["response"]["userHandle"] = "a"  # not base64url of anything
    _refused(rt, json.dumps(garbled), "invalid")


def test_a_confirmation_takes_only_the_persons_own_passkey(rt: Runtime) -> None:
    """Staff confirming a dangerous action: their passkeys are offered, anyone else's is refused."""
    mine, theirs = _person(rt), _person(rt, "+8613700138002")
    my_device, their_device = _register(rt, mine), _register(rt, theirs)
    options = rt.run(lambda s: passkeys.authentication_options(s, rt.protector, RP, BROWSER, "console", mine))
    assert [c["id"] for c in options["allowCredentials"]] == [b64(my_device.credential_id)]
    with pytest.raises(passkeys.PasskeyRefused, match="wrong_person"):
        rt.run(
            lambda s: passkeys.authenticate(s, rt.protector, RP, BROWSER, "console", their_device.get(options), mine)
        )
    options = rt.run(lambda s: passkeys.authentication_options(s, rt.protector, RP, BROWSER, "console", mine))
    answer = my_device.get(options)
    assert (
        rt.run(lambda s: passkeys.authenticate(s, rt.protector, RP, BROWSER, "console", answer, mine)).person_id == mine
    )
    # A sign-in's challenge is not a confirmation's, and the other way round.
    options = _options(rt, flow="console")
    with pytest.raises(passkeys.PasskeyRefused, match="no_challenge"):
        rt.run(lambda s: passkeys.authenticate(s, rt.protector, RP, BROWSER, "console", my_device.get(options), mine))


def test_the_same_credential_cannot_be_registered_twice(rt: Runtime) -> None:
    device = _register(rt, _person(rt))
    other = _person(rt, "+8613700138002")
    with pytest.raises(passkeys.PasskeyRefused, match="already_registered"):
        _register(rt, other, Authenticator(RP.id, RP.origin, key=device.key, credential_id=device.credential_id))


def test_rename_and_delete_touch_only_the_persons_own(rt: Runtime) -> None:
    mine, theirs = _person(rt), _person(rt, "+8613700138002")
    _register(rt, mine)
    with rt.transaction() as session:
        passkey_id = session.scalars(select(Passkey.id)).one()
    assert not rt.run(lambda s: passkeys.rename(s, rt.protector, theirs, passkey_id, "taken"))
    assert not rt.run(lambda s: passkeys.remove(s, theirs, passkey_id))
    assert rt.run(lambda s: passkeys.rename(s, rt.protector, mine, passkey_id, "办公电脑"))
    with rt.transaction() as session:
        assert [i.name for i in passkeys.listed(session, rt.protector, mine)] == ["办公电脑"]
    assert rt.run(lambda s: passkeys.remove(s, mine, passkey_id))
    with rt.transaction() as session:
        assert session.scalar(select(Passkey.id)) is None
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("passkey.%"))))
    assert sorted(actions) == ["passkey.delete", "passkey.register", "passkey.rename"]


def test_expired_challenges_are_cleared_as_new_ones_are_issued(rt: Runtime) -> None:
    _options(rt, flow="old")
    with time_machine.travel(utcnow() + timedelta(seconds=passkeys.CHALLENGE_TTL + 1)):
        _options(rt, flow="new")
    with rt.transaction() as session:
        assert session.scalar(select(PasskeyChallenge.context).where(PasskeyChallenge.expires_at <= utcnow())) is None
        assert len(list(session.scalars(select(PasskeyChallenge.context)))) == 1


@pytest.fixture
def pg_rt(pg_schema_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "pg-var", database_url=pg_schema_url)
    initialise(settings)
    runtime = open_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.mark.postgres
def test_on_postgresql_a_challenge_is_taken_once_and_the_counter_kept(pg_rt: Runtime) -> None:
    device = _register(pg_rt, _person(pg_rt))
    options = _options(pg_rt)
    assert _authenticate(pg_rt, device.get(options)).sign_count == 1
    _refused(pg_rt, device.get(options), "no_challenge")
    _refused(pg_rt, device.get(_options(pg_rt), counter=1), "counter_regression")
