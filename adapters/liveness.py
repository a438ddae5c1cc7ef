"""Active liveness: a randomised challenge (blink, turn left, turn right) checked over a short run of frames.

Pure functions over 68-point landmarks (face_recognition groups); no image work here.

- Eye aspect ratio (Soukupová & Čech 2016): EAR = (|p2−p6| + |p3−p5|) / (2·|p1−p4|) over the 6 eye points in
  order. A blink is ≥ `min_frames` consecutive frontal frames whose mean EAR (both eyes) is under `EAR_CLOSED`
  (0.25) *and* under `BLINK_RATIO` (0.75) × this person's open-eye EAR (the 75th percentile over the frontal
  frames). The relative rule is needed: open eyes measured 0.18-0.39 on our test photos (0.18 for a broad
  smile), so 0.25 alone would call some open eyes closed.
- Head yaw: horizontal offset of the nose tip (nose_bridge's last point, landmark 30) from the midpoint of the
  two eye centres, divided by the distance between the eye centres. About 0 for a frontal face. Frames are as
  the camera captured them (not mirrored): a person turning to *their* left moves the nose towards the image's
  right, so yaw > +`YAW_TURN` is `turn_left` and yaw < −`YAW_TURN` is `turn_right`.
- The challenge passes when the distinct actions observed, in order, are exactly the challenge: a replayed
  recording of another order fails, and so does a still photo (no action at all).

This resists photos and replays of a different challenge; it does not resist a live-rendered deepfake or a
mask. Check separately that the frames show the person being verified (face match on one of the frames).
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from adapters.base import Point

__all__ = [
    "ACTIONS",
    "EAR_CLOSED",
    "YAW_TURN",
    "eye_aspect_ratio",
    "head_yaw",
    "frame_state",
    "open_eye_ear",
    "observed_actions",
    "new_challenge",
    "check_challenge",
    "LivenessResult",
]

ACTIONS = ("blink", "turn_left", "turn_right")
EAR_CLOSED = 0.25
BLINK_RATIO = 0.75
YAW_TURN = 0.2  # frontal photos measured |yaw| ≤ 0.04; a clear three-quarter view 0.26
MIN_FRAMES = 2
MAX_MISSING_SHARE = 0.2

Landmarks = Mapping[str, Sequence[Point]]


def _dist(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _centre(points: Sequence[Point]) -> Point:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def eye_aspect_ratio(points: Sequence[Point]) -> float:
    """EAR of one eye from its 6 landmarks p1..p6 (corner, two upper, corner, two lower)."""
    if len(points) != 6:
        raise ValueError("an eye has 6 landmarks")
    p1, p2, p3, p4, p5, p6 = points
    width = _dist(p1, p4)
    if width == 0:
        raise ValueError("degenerate eye: both corners at one point")
    return (_dist(p2, p6) + _dist(p3, p5)) / (2.0 * width)


def head_yaw(landmarks: Landmarks) -> float:
    """Nose-tip offset from the eye midpoint, in units of the distance between the eye centres."""
    left, right = _centre(landmarks["left_eye"]), _centre(landmarks["right_eye"])
    span = _dist(left, right)
    if span == 0:
        raise ValueError("degenerate face: both eyes at one point")
    nose_tip = landmarks["nose_bridge"][-1]
    return (nose_tip[0] - (left[0] + right[0]) / 2) / span


def _mean_ear(landmarks: Landmarks) -> float:
    return (eye_aspect_ratio(landmarks["left_eye"]) + eye_aspect_ratio(landmarks["right_eye"])) / 2


def open_eye_ear(frames: Sequence[Landmarks | None]) -> float:
    """This person's open-eye EAR: the 75th percentile over the frontal frames (EAR_CLOSED / BLINK_RATIO if none)."""
    ears = sorted(_mean_ear(f) for f in frames if f is not None and abs(head_yaw(f)) <= YAW_TURN)
    if not ears:
        return EAR_CLOSED / BLINK_RATIO
    return ears[min(len(ears) - 1, (3 * len(ears)) // 4)]


def frame_state(landmarks: Landmarks, open_ear: float | None = None) -> str:
    """`left`, `right` (head turned), `closed` (frontal, eyes shut) or `open` (frontal, eyes open)."""
    yaw = head_yaw(landmarks)
    if yaw > YAW_TURN:
        return "left"
    if yaw < -YAW_TURN:
        return "right"
    limit = EAR_CLOSED if open_ear is None else min(EAR_CLOSED, BLINK_RATIO * open_ear)
    return "closed" if _mean_ear(landmarks) < limit else "open"


_ACTION_OF = {"closed": "blink", "left": "turn_left", "right": "turn_right"}


def observed_actions(frames: Sequence[Landmarks | None], min_frames: int = MIN_FRAMES) -> list[str]:
    """The actions seen, in order: runs of ≥ `min_frames` equal non-open states. Frames without a face are
    skipped (they neither break nor extend a run)."""
    actions: list[str] = []
    run_state, run_len = "open", 0
    baseline = open_eye_ear(frames)
    for lm in [f for f in frames if f is not None] + [None]:
        state = frame_state(lm, baseline) if lm is not None else "end"
        if state == run_state:
            run_len += 1
            continue
        if run_state in _ACTION_OF and run_len >= min_frames:
            actions.append(_ACTION_OF[run_state])
        run_state, run_len = state, 1
    return actions


def new_challenge(rng: random.Random | None = None, actions: Sequence[str] = ACTIONS) -> list[str]:
    """The actions in a random order (a CSPRNG unless `rng` is given, e.g. seeded in tests)."""
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown actions: {', '.join(sorted(unknown))}")
    order = list(actions)
    (rng or secrets.SystemRandom()).shuffle(order)
    return order


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    reason: str
    observed: list[str] = field(default_factory=list)
    frames: int = 0
    missing: int = 0


def check_challenge(
    challenge: Sequence[str], frames: Sequence[Landmarks | None], min_frames: int = MIN_FRAMES
) -> LivenessResult:
    """Did the frames perform exactly `challenge`, in order? `frames[i]` is None where no single face was found."""
    total, missing = len(frames), sum(1 for f in frames if f is None)
    if not challenge:
        return LivenessResult(False, "empty challenge", [], total, missing)
    if total == 0 or missing > MAX_MISSING_SHARE * total:
        return LivenessResult(False, "face not visible in enough frames", [], total, missing)
    try:
        observed = observed_actions(frames, min_frames)
    except (KeyError, ValueError) as exc:
        return LivenessResult(False, f"unusable landmarks: {exc}", [], total, missing)
    if observed == list(challenge):
        return LivenessResult(True, "challenge performed", observed, total, missing)
    return LivenessResult(
        False, f"expected {' → '.join(challenge)}, saw {' → '.join(observed) or 'nothing'}", observed, total, missing
    )
