"""Real person by live face, end to end: frames from the liveness test kit (tests/kit/liveness_frames.py) go
through the real face step — header checks, landmarks, liveness, encodings, the registry photo over the
emulator's wire protocol — to a loa:3 session; and each face-distance check of the loa:3 decision has a case
that passes liveness and must still be refused without it.

Needs the shared photos (../shared/testdata/faces): skipped with the reason on a clean clone, failed in CI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters import liveness
from adapters.face import DlibFaceMatcher
from idp.oauth.acr import LOA3
from idp.proofing import face as face_step
from idp.proofing.models import FaceTemplate
from idp.records import people
from tests.kit import liveness_frames as kit
from tests.oauth.conftest import REDIRECT, Bench, form_value, query_of
from tests.oauth.test_codes import claims_of
from tests.proofing.test_stepup import _level, _to_stepup

# 赵磊 in the emulators' seeded population; the test registers a photo of the person in the shared photos.
ZHAO = {"name": "赵磊", "id_number": "32010219750111006X", "phone": "13800138006"}
CHALLENGE = ["turn_left", "blink", "turn_right"]


@pytest.fixture(scope="module")
def matcher() -> DlibFaceMatcher:
    return DlibFaceMatcher()


def _registry_photo(name: str) -> Callable[[], bytes]:
    return lambda: kit.photo(name)


def test_live_face_reaches_loa3_end_to_end(bench: Bench) -> None:
    bench.client.app.state.sandbox.photos[ZHAO["id_number"]] = kit.photo("obama_240p.jpg")  # type: ignore[attr-defined]
    flow, csrf = _to_stepup(bench, LOA3, ZHAO["phone"])
    claimed = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHAO["name"], "id_number": ZHAO["id_number"]}
    )
    assert claimed.status_code == 200 and _level(bench, ZHAO["phone"]) == 1
    csrf = form_value(claimed.text, "csrf")
    bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": csrf, "agree": "yes"})
    issued = bench.client.post("/stepup/face/challenge", json={"flow": flow, "csrf": csrf})
    challenge = [step["action"] for step in issued.json()["challenge"]]
    assert sorted(challenge) == sorted(liveness.ACTIONS)
    frames = kit.as_json_frames(kit.sequence(challenge))
    answer = bench.client.post("/stepup/face", json={"flow": flow, "csrf": csrf, "frames": frames})
    assert answer.status_code == 200, answer.text
    # Consent was given while signing in: the answer leads straight back to the client with a code.
    back = answer.json()["redirect"]
    assert back.startswith(REDIRECT)
    claims = claims_of(bench.exchange(query_of(back)["code"]).json()["id_token"])
    assert claims["acr"] == LOA3 and "face" in claims["amr"] and "mfa" in claims["amr"]
    assert _level(bench, ZHAO["phone"]) == 3
    with bench.rt.transaction() as session:
        person = people.find_by_id_number(session, bench.rt.protector, ZHAO["id_number"])
        assert person is not None and (person.id_proof, person.id_proof_source) == (3, "face")
        template = session.get(FaceTemplate, person.id)
        assert template is not None and len(template.template_ct) > 128 * 8  # encrypted, not raw


def test_the_kit_sequence_passes_with_the_right_person(matcher: DlibFaceMatcher) -> None:
    decision = face_step.decide(matcher, CHALLENGE, kit.sequence(CHALLENGE), _registry_photo("obama_240p.jpg"))
    assert decision.result == "passed" and decision.probe is not None


def test_someone_elses_registry_photo_is_refused(matcher: DlibFaceMatcher) -> None:
    """Liveness passes and one face did it all, but it is not the face the registry holds for the number:
    fails if the probe-against-registry distance check is removed."""
    decision = face_step.decide(matcher, CHALLENGE, kit.sequence(CHALLENGE), _registry_photo("biden_1.jpg"))
    assert decision.result == "mismatch"


def test_a_spliced_sequence_is_refused(matcher: DlibFaceMatcher) -> None:
    """One person performs the challenge; another person's photo, held up once, is the most frontal frame and
    matches the registry photo: fails if the frames-against-probe distance check is removed."""
    frames = kit.sequence(CHALLENGE)
    frames[0] = kit.frame("biden_1.jpg")  # yaw 0.015: more frontal than any frame of the performer
    decision = face_step.decide(matcher, CHALLENGE, frames, _registry_photo("biden_2.jpg"))
    assert decision.result == "spliced"


def test_a_huge_frame_is_refused_before_any_decoding(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from PIL import Image, ImageFile

    out = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(out, format="PNG")
    huge = out.getvalue()

    def no_decoding(self: object) -> None:
        raise AssertionError("a frame was decoded")

    flow, csrf = _to_stepup(bench, LOA3, ZHAO["phone"])
    claimed = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHAO["name"], "id_number": ZHAO["id_number"]}
    )
    bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": form_value(claimed.text, "csrf"),
                                                    "agree": "yes"})  # fmt: skip
    bench.client.get(f"/stepup/face?flow={flow}")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    answer = bench.client.post(
        "/stepup/face", json={"flow": flow, "csrf": csrf, "frames": kit.as_json_frames([huge] * face_step.MAX_FRAMES)}
    )
    assert answer.status_code == 400 and "retry" in answer.json()
    with bench.rt.transaction() as session:
        assert session.scalar(select(FaceTemplate)) is None


def test_face_flows_per_person_per_day_are_bounded(bench: Bench) -> None:
    from idp.proofing import limits

    flow, csrf = _to_stepup(bench, LOA3, ZHAO["phone"])
    claimed = bench.client.post(
        "/stepup/registry", data={"flow": flow, "csrf": csrf, "name": ZHAO["name"], "id_number": ZHAO["id_number"]}
    )
    bench.client.post("/stepup/face/consent", data={"flow": flow, "csrf": form_value(claimed.text, "csrf"),
                                                    "agree": "yes"})  # fmt: skip
    csrf = form_value(claimed.text, "csrf")
    bench.rt.settings.sms_per_phone_per_minute = 5  # the same person signs in again below
    budget = limits.Limits().face_flows_per_person_day
    # Each challenge is one face flow; a journey allows three tries, so the day's budget spans journeys.
    issued = []
    for _ in range(budget):
        issued.append(bench.client.post("/stepup/face/challenge", json={"flow": flow, "csrf": csrf}))
        bench.client.post("/stepup/face", json={"flow": flow, "csrf": csrf, "frames": ["AA=="]})
        if len(issued) % 3 == 0:  # a journey allows three tries: a new sign-in, same person
            bench.client.cookies.delete("yw_session")
            flow, csrf = _to_stepup(bench, LOA3, ZHAO["phone"])
    assert all(p.status_code == 200 for p in issued), [p.text for p in issued]
    refused = bench.client.post("/stepup/face/challenge", json={"flow": flow, "csrf": csrf})
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_missing_photos_skip_with_the_reason_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kit, "SHARED_FACES", tmp_path / "nowhere")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/testdata/faces is missing"):
        kit.faces_dir()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide them"):
        kit.faces_dir()
