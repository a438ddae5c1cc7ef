"""Liveness: EAR, head yaw, randomised challenges, and challenge checking over landmark sequences.

The sequences are synthesised (a blink cannot be made from a still photo), some of them from the real
landmarks of a photo with the eyelids and nose tip moved. Real photos are used only for what they show:
open eyes, a frontal or a three-quarter face, and yaw changing sign when the image is mirrored.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from adapters import liveness as lv
from adapters.base import FaceLandmarks

Point = tuple[float, float]


def synthetic(ear: float = 0.3, yaw: float = 0.0, scale: float = 100.0) -> FaceLandmarks:
    """A face whose eyes have exactly this EAR and whose nose sits `yaw` eye-distances off centre."""
    cx, cy, w = 300.0, 300.0, 0.3 * scale
    h = ear * w / 2

    def eye(ex: float) -> list[Point]:
        return [(ex - w / 2, cy), (ex - w / 6, cy - h), (ex + w / 6, cy - h), (ex + w / 2, cy),
                (ex + w / 6, cy + h), (ex - w / 6, cy + h)]  # fmt: skip

    nose_x = cx + yaw * scale
    return {
        "left_eye": eye(cx - scale / 2),
        "right_eye": eye(cx + scale / 2),
        "nose_bridge": [(cx, cy + 0.15 * scale * i) for i in range(3)] + [(nose_x, cy + 0.6 * scale)],
    }


def perform(actions: list[str], open_ear: float = 0.3, hold: int = 3) -> list[FaceLandmarks | None]:
    frames = [synthetic(open_ear)] * hold
    for action in actions:
        if action == "blink":
            frames += [synthetic(0.08)] * hold
        else:
            frames += [synthetic(open_ear, 0.35 if action == "turn_left" else -0.35)] * hold
        frames += [synthetic(open_ear)] * hold
    return list(frames)


def test_eye_aspect_ratio() -> None:
    assert lv.eye_aspect_ratio(synthetic(0.3)["left_eye"]) == pytest.approx(0.3)
    assert lv.eye_aspect_ratio(synthetic(0.05)["right_eye"]) == pytest.approx(0.05)
    # (|p2−p6| + |p3−p5|) / (2|p1−p4|) with p1..p6 = a 4-wide eye, 1 and 2 open:
    assert lv.eye_aspect_ratio([(0, 0), (1, -0.5), (3, -1), (4, 0), (3, 1), (1, 0.5)]) == pytest.approx(3 / 8)
    with pytest.raises(ValueError):
        lv.eye_aspect_ratio([(0, 0)] * 6)
    with pytest.raises(ValueError):
        lv.eye_aspect_ratio([(0, 0)] * 5)


def test_head_yaw_is_scale_free() -> None:
    assert lv.head_yaw(synthetic(yaw=0.0)) == pytest.approx(0.0)
    assert lv.head_yaw(synthetic(yaw=0.3, scale=40)) == pytest.approx(0.3)
    assert lv.head_yaw(synthetic(yaw=-0.25, scale=400)) == pytest.approx(-0.25)
    assert lv.frame_state(synthetic(yaw=0.3)) == "left" and lv.frame_state(synthetic(yaw=-0.3)) == "right"


def test_new_challenge_is_a_random_order_of_every_action() -> None:
    seen = {tuple(lv.new_challenge(random.Random(seed))) for seed in range(200)}
    assert len(seen) == 6  # every order of the three actions occurs
    assert all(sorted(c) == sorted(lv.ACTIONS) for c in seen)
    assert lv.new_challenge(random.Random(7)) == lv.new_challenge(random.Random(7))
    assert sorted(lv.new_challenge()) == sorted(lv.ACTIONS)  # default: the system CSPRNG
    assert sorted(lv.new_challenge(actions=["blink", "turn_left"])) == ["blink", "turn_left"]
    with pytest.raises(ValueError):
        lv.new_challenge(actions=["smile"])


@pytest.mark.parametrize("seed", range(6))
def test_performed_challenge_passes(seed: int) -> None:
    challenge = lv.new_challenge(random.Random(seed))
    result = lv.check_challenge(challenge, perform(challenge))
    assert result.passed, result.reason
    assert result.observed == challenge


def test_replay_of_another_order_fails() -> None:
    result = lv.check_challenge(["blink", "turn_left", "turn_right"], perform(["turn_left", "blink", "turn_right"]))
    assert not result.passed
    assert result.observed == ["turn_left", "blink", "turn_right"]
    assert "expected blink → turn_left → turn_right" in result.reason


def test_still_photo_fails() -> None:
    result = lv.check_challenge(["blink", "turn_left"], [synthetic()] * 30)
    assert not result.passed and result.observed == []


def test_single_frame_glitch_is_not_an_action() -> None:
    frames = perform(["turn_right"])
    frames.insert(2, synthetic(0.05))  # one closed frame: noise, not a blink
    frames.insert(2, synthetic(0.3, 0.4))  # one turned frame: noise, not a turn
    assert lv.check_challenge(["turn_right"], frames).passed


def test_missing_frames_are_tolerated_up_to_a_share() -> None:
    frames = perform(["blink", "turn_left"])
    frames[4] = None  # inside the blink: skipped, the run goes on
    assert lv.check_challenge(["blink", "turn_left"], frames).passed
    mostly_missing: list[FaceLandmarks | None] = [None] * 20 + perform(["blink", "turn_left"])
    result = lv.check_challenge(["blink", "turn_left"], mostly_missing)
    assert not result.passed and "not visible" in result.reason
    assert not lv.check_challenge([], perform([])).passed


def test_narrow_open_eyes_are_not_a_blink_but_their_closing_is() -> None:
    """Open eyes at EAR 0.18 (measured on a smiling face) stay 'open'; closing them still counts as a blink."""
    narrow = perform(["turn_left"], open_ear=0.18)
    assert lv.check_challenge(["turn_left"], narrow).passed
    blink = [synthetic(0.18)] * 5 + [synthetic(0.07)] * 3 + [synthetic(0.18)] * 5
    assert lv.check_challenge(["blink"], blink).passed


# -- real photos ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matcher():  # type: ignore[no-untyped-def]
    from adapters.face import DlibFaceMatcher

    return DlibFaceMatcher()


def _mirrored(image: bytes) -> bytes:
    out = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(image)).convert("RGB")).save(out, format="PNG")
    return out.getvalue()


def test_real_frontal_photo_reads_as_open_and_frontal(matcher, grace_hopper: bytes) -> None:  # type: ignore[no-untyped-def]
    lm = matcher.landmarks(grace_hopper)
    assert len(lm["left_eye"]) == len(lm["right_eye"]) == 6
    assert abs(lv.head_yaw(lm)) < 0.1
    assert lv.frame_state(lm) == "open"
    mirrored = matcher.landmarks(_mirrored(grace_hopper))
    assert abs(lv.head_yaw(lm) + lv.head_yaw(mirrored)) < 0.1  # mirroring flips the sign


def test_challenge_from_real_landmarks_with_moved_lids_and_nose(matcher, grace_hopper: bytes) -> None:  # type: ignore[no-untyped-def]
    base = matcher.landmarks(grace_hopper)

    def closed(lm: FaceLandmarks) -> FaceLandmarks:
        out = dict(lm)
        for eye in ("left_eye", "right_eye"):
            pts = lm[eye]
            mid = (pts[0][1] + pts[3][1]) / 2
            out[eye] = [pts[0], (pts[1][0], mid - 0.5), (pts[2][0], mid - 0.5), pts[3],
                        (pts[4][0], mid + 0.5), (pts[5][0], mid + 0.5)]  # fmt: skip
        return out

    def turned(lm: FaceLandmarks, yaw: float) -> FaceLandmarks:
        span = abs(sum(p[0] for p in lm["right_eye"]) - sum(p[0] for p in lm["left_eye"])) / 6
        *rest, tip = lm["nose_bridge"]
        return {**lm, "nose_bridge": [*rest, (tip[0] + yaw * span, tip[1])]}

    frames = [base] * 3 + [turned(base, -0.4)] * 3 + [base] * 3 + [closed(base)] * 3 + [base] * 3
    assert lv.check_challenge(["turn_right", "blink"], frames).passed
    assert not lv.check_challenge(["blink", "turn_right"], frames).passed


def test_three_quarter_view_reads_as_turned(matcher, shared_faces: Path) -> None:  # type: ignore[no-untyped-def]
    image = (shared_faces / "obama_2.jpg").read_bytes()
    assert lv.frame_state(matcher.landmarks(image)) == "right"
    assert lv.frame_state(matcher.landmarks(_mirrored(image))) == "left"
