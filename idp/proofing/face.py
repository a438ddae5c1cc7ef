"""Real person by live face: the loa:3 decision over one attempt's frames, and the limits around it.

One attempt = one single-use liveness challenge, at most `MAX_FRAMES` frames of at most `MAX_FRAME_BYTES`
each (and `adapters.face.MAX_FRAME_PIXELS` pixels, checked from the header before decoding), at most
`FACE_TRIES` attempts per sign-in flow, and `Limits.face_flows_per_person_day` challenges a day. Images are
never stored: only the probe's encrypted template, on success.

The decision, in order — each a reason to refuse:
1. liveness: the frames perform exactly the challenge (adapters/liveness.py);
2. one face did it all: frames spread over the sequence are the probe's face (a spliced video fails);
3. the probe (the most frontal frame) is the registry photo's face.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters import liveness
from adapters.base import FaceEncoding, FaceLandmarks, FaceMatcher
from adapters.errors import UnusableImage
from adapters.face import check_frames

MAX_FRAMES, MAX_FRAME_BYTES = 24, 400_000
FACE_TRIES = 3
SAMPLED_FRAMES = 4


@dataclass(frozen=True)
class FaceDecision:
    """`result`: `passed`, `too_large` (too many, too heavy or too many pixels: nothing decoded), `unusable`,
    `liveness_failed`, `spliced` (not one face throughout), `mismatch` (not the registry photo's face),
    `no_reference` (the registry holds no photo)."""

    result: str
    liveness: str
    probe: FaceEncoding | None = None

    @property
    def passed(self) -> bool:
        return self.result == "passed"


def decide(
    face: FaceMatcher,
    challenge: Sequence[str],
    frames: Sequence[bytes],
    reference: Callable[[], bytes | None],
) -> FaceDecision:
    """The loa:3 face decision. `reference()` fetches the registry photo, only once liveness has passed.
    UnusableImage from the matcher propagates (the caller asks for a retry)."""
    if len(frames) > MAX_FRAMES or any(len(f) > MAX_FRAME_BYTES for f in frames):
        return FaceDecision("too_large", f"at most {MAX_FRAMES} frames of {MAX_FRAME_BYTES} bytes")
    try:
        check_frames(frames)  # pixel dimensions from each header, before any frame is decoded
    except UnusableImage as exc:
        return FaceDecision("too_large" if exc.reason == "too_large" else "unusable", exc.message)
    landmarks: list[FaceLandmarks | None] = face.landmarks_all(frames)
    live = liveness.check_challenge(challenge, landmarks)
    if not live.passed:
        return FaceDecision("liveness_failed", live.reason)
    seen = [(f, lm) for f, lm in zip(frames, landmarks, strict=True) if lm is not None]
    # The most frontal frame of the live sequence is the probe: the face that moved is the face matched.
    best = min(seen, key=lambda pair: abs(liveness.head_yaw(pair[1])))[0]
    probe = face.encode(best)
    step = max(1, len(seen) // SAMPLED_FRAMES)
    for frame, _ in seen[::step][:SAMPLED_FRAMES]:
        if face.distance(probe, face.encode(frame)) > face.threshold:
            return FaceDecision("spliced", live.reason)
    photo = reference()
    if photo is None:
        return FaceDecision("no_reference", live.reason)
    if face.distance(probe, face.encode(photo)) > face.threshold:
        return FaceDecision("mismatch", live.reason)
    return FaceDecision("passed", live.reason, probe)
