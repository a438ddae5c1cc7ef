"""人证合一 at a hall kiosk, in-process over the ASGI app: the kiosk simulator (idp/kiosk/simulator.py) sends
real chip photos and camera frames built from the shared photos; nothing below HTTP is replaced.

Needs ../shared/testdata/faces: skipped with the reason on a clean clone, failed in CI.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.face import DlibFaceMatcher
from idp.audit import AuditEvent
from idp.kiosk import identify, simulator
from idp.kiosk.models import KioskChallenge
from idp.oauth import tokens
from idp.oauth.acr import LOA3
from idp.oauth.models import LoginSession, PairwiseSubject, RefreshToken
from idp.proofing import service
from idp.records import people
from idp.records.models import Person
from tests.kiosk.conftest import CHEN, ZHAO, Hall, card
from tests.kit import liveness_frames as kit
from tests.oauth.test_codes import claims_of


def _live(frontal: str = "obama_1.jpg", turned: str = "obama_2.jpg") -> dict[str, bytes]:
    return simulator.states(kit.photo(frontal), kit.photo(turned))


def _run(kiosk: simulator.Kiosk, chip: simulator.Card, by_state: dict[str, bytes] | None = None) -> simulator.Outcome:
    issued = kiosk.challenge()
    assert issued.status == 200, issued.body
    frames = simulator.sequence(issued.body["actions"], by_state or _live())
    return kiosk.identify(issued.body["challenge_id"], chip, frames)


def _counts(hall: Hall) -> dict[str, int]:
    with hall.rt.transaction() as session:
        return {
            "persons": session.scalar(select(func.count()).select_from(Person)) or 0,
            "subjects": session.scalar(select(func.count()).select_from(PairwiseSubject)) or 0,
            "sessions": session.scalar(select(func.count()).select_from(LoginSession)) or 0,
        }


def _kiosk_events(hall: Hall) -> list[tuple[str, dict[str, Any]]]:
    with hall.rt.transaction() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "kiosk.identify"))
        return [(r.outcome, dict(r.detail)) for r in rows]


def _refused(hall: Hall, outcome: simulator.Outcome, reason: str, status: int = 400) -> None:
    assert (outcome.status, outcome.body.get("reason")) == (status, reason), outcome.body
    assert set(outcome.body) == {"error", "error_description", "reason"}


def test_the_same_person_gets_loa3_tokens_for_that_kiosk_only(hall: Hall) -> None:
    kiosk = hall.register()
    outcome = _run(kiosk, card("obama_1.jpg"))
    assert outcome.status == 200, outcome.body
    body = outcome.body
    assert body["token_type"] == "Bearer" and body["expires_in"] == hall.settings.kiosk_token_ttl
    assert "refresh_token" not in body
    id_claims = claims_of(body["id_token"])
    assert id_claims["aud"] == kiosk.client_id and id_claims["acr"] == LOA3
    assert id_claims["amr"] == identify.AMR
    with hall.rt.transaction() as session:
        access = tokens.verify_access_token(
            hall.client.app.state.provider.signer,
            session,
            body["access_token"],
            hall.settings.issuer,  # type: ignore[attr-defined]
        )
        assert access["client_id"] == access["aud"] == kiosk.client_id and access["acr"] == LOA3
        person = people.find_by_id_number(session, hall.rt.protector, ZHAO[1])
        assert person is not None and person.proofing_level == 3
        assert (person.id_proof, person.id_proof_source) == (3, "kiosk")
        assert session.scalar(select(func.count()).select_from(RefreshToken)) == 0
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 0  # no SSO on a shared device
    assert _kiosk_events(hall)[-1] == (
        "success",
        {"hall": "city", "kiosk": kiosk.client_id, "liveness": "challenge performed", "frames": 10},
    )
    # The same citizen again at the kiosk: the same person, not a second one.
    again = _run(kiosk, card("obama_1.jpg"))
    assert again.status == 200 and claims_of(again.body["id_token"])["sub"] == id_claims["sub"]
    assert _counts(hall)["persons"] == 1


def test_another_person_at_the_camera_is_refused_and_changes_nothing(hall: Hall) -> None:
    """Biden at the camera with Obama's card. The shared photos hold no turned view of Biden, so the stored
    challenge is narrowed to a blink (which his frames do perform): liveness passes, the face comparison refuses."""
    kiosk = hall.register()
    before = _counts(hall)
    issued = kiosk.challenge()
    with hall.rt.transaction() as session:
        for row in session.scalars(select(KioskChallenge).where(KioskChallenge.client_id == kiosk.client_id)):
            row.actions = "blink"
    biden = {
        "open": simulator.camera_frame(kit.photo("biden_2.jpg")),
        "closed": simulator.close_eyes(kit.photo("biden_2.jpg")),
    }
    outcome = kiosk.identify(issued.body["challenge_id"], card("obama_1.jpg"), simulator.sequence(["blink"], biden))
    _refused(hall, outcome, "face_mismatch")
    assert _counts(hall) == before
    assert _kiosk_events(hall)[-1][0] == "refused"
    # The same frames against a challenge they don't perform: liveness refuses first.
    again = kiosk.challenge()
    frames = simulator.sequence(["blink"], biden)
    _refused(hall, kiosk.identify(again.body["challenge_id"], card("obama_1.jpg"), frames), "liveness_failed")


def test_a_chip_photo_of_someone_else_is_refused(hall: Hall) -> None:
    """Liveness passes and one face did it all, but not the chip's face: fails without the face comparison."""
    kiosk = hall.register()
    before = _counts(hall)
    _refused(hall, _run(kiosk, card("biden_1.jpg")), "face_mismatch")
    assert _counts(hall) == before


def test_a_printed_still_is_refused(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    frames = simulator.printed_still(kit.photo("obama_1.jpg"))
    _refused(hall, kiosk.identify(issued.body["challenge_id"], card(), frames), "liveness_failed")


def test_a_chip_photo_with_two_faces_is_refused(hall: Hall) -> None:
    kiosk = hall.register()
    _refused(hall, _run(kiosk, card("two_faces.jpg")), "chip_photo_unusable")


@pytest.mark.parametrize(
    ("dates", "who", "reason"),
    [
        ({"valid_until": "2024-01-01", "valid_from": "2014-01-01"}, ZHAO, "card_expired"),
        ({"valid_from": "2099-01-01", "valid_until": "2109-01-01"}, ZHAO, "card_not_yet_valid"),
        ({}, (ZHAO[0], ZHAO[1][:-1] + "1"), "card_number_checksum"),
        ({}, (ZHAO[0], ZHAO[1][:-2]), "card_number_format"),
        ({}, CHEN, "registry_mismatch"),
    ],
)
def test_a_card_that_does_not_check_out_is_refused(
    hall: Hall, dates: dict[str, str], who: tuple[str, str], reason: str
) -> None:
    """The person at the camera is the chip photo's: each refusal is the card check's alone."""
    kiosk = hall.register()
    before = _counts(hall)
    _refused(hall, _run(kiosk, card("obama_1.jpg", who, **dates)), reason)
    assert _counts(hall) == before
    outcome, detail = _kiosk_events(hall)[-1]
    assert outcome == "refused" and detail["reason"] == reason and detail["hall"] == "city"


def test_a_challenge_is_used_once(hall: Hall) -> None:
    kiosk = hall.register()
    issued = kiosk.challenge()
    frames = simulator.sequence(issued.body["actions"], _live())
    assert kiosk.identify(issued.body["challenge_id"], card(), frames).status == 200
    _refused(hall, kiosk.identify(issued.body["challenge_id"], card(), frames), "no_challenge")
    other = hall.register()
    mine = kiosk.challenge()  # another kiosk can't answer this kiosk's challenge
    _refused(hall, other.identify(mine.body["challenge_id"], card(), frames), "no_challenge")


def test_a_number_bound_to_another_face_by_an_equal_proof_is_refused(hall: Hall) -> None:
    """The number's holder proved it with their own face (biden's): obama with the card can't take it."""
    with hall.rt.transaction() as session:
        holder = people.add(session, hall.rt.protector, id_number=ZHAO[1], name=ZHAO[0])
        holder.id_proof, holder.id_proof_source, holder.proofing_level = 3, "face", 3
        template = DlibFaceMatcher().encode(kit.frame("biden_1.jpg"))
        service.store_face_template(session, hall.rt.protector, holder.id, template.to_bytes())
        holder_id = holder.id
    kiosk = hall.register()
    before = _counts(hall)
    _refused(hall, _run(kiosk, card("obama_1.jpg")), "binding_refused", 409)
    assert _counts(hall) == before
    with hall.rt.transaction() as session:
        person = people.find_by_id_number(session, hall.rt.protector, ZHAO[1])
        assert person is not None and person.id == holder_id and person.id_proof_source == "face"


def test_a_weaker_binding_with_the_same_face_is_the_same_person(hall: Hall) -> None:
    """An operator's enrolment of the number (proof 1) and no face on file: the kiosk raises that person."""
    with hall.rt.transaction() as session:
        holder_id = people.add(session, hall.rt.protector, id_number=ZHAO[1], name=ZHAO[0]).id
    kiosk = hall.register()
    assert _run(kiosk, card()).status == 200
    with hall.rt.transaction() as session:
        person = people.find_by_id_number(session, hall.rt.protector, ZHAO[1])
        assert person is not None and person.id == holder_id and person.proofing_level == 3
