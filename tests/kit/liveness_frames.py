"""Liveness test kit: camera-frame sequences built from the shared test photos that perform a challenge.

The frames are real images that go through the whole face pipeline (decode, detect, 68-point landmarks,
encodings); nothing below the HTTP request is replaced. They are made by the kiosk simulator
(`idp/kiosk/simulator.py`), which builds them for a real kiosk the same way. Per state:

- `open`: the frontal photo (obama_1, yaw −0.02);
- `left` / `right`: obama_2 is a three-quarter view (yaw −0.26, the person's right), mirrored for the left;
- `closed`: the frontal photo with both eye openings painted over in the skin colour below the eye and a
  lash line drawn across (EAR 0.24 → 0.09, measured; still the same person at distance 0.23).

Each action is held for two frames (liveness.MIN_FRAMES) between open frames, in the challenge's order.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest

from idp.kiosk import simulator

SHARED_FACES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces"


def faces_dir() -> Path:
    """The shared photos; a clear skip on a developer's clean clone, a failure in CI (CI=true) where they must be."""
    if (SHARED_FACES / "obama_1.jpg").is_file():
        return SHARED_FACES
    message = f"no shared face photos at {SHARED_FACES}: ../shared/testdata/faces is missing (a fresh clone)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}; CI must provide them, so this fails instead of skipping")
    pytest.skip(message)


def photo(name: str) -> bytes:
    return (faces_dir() / name).read_bytes()


def frame(name: str) -> bytes:
    """A shared photo as a camera frame would come (640 px, JPEG)."""
    return simulator.camera_frame(photo(name))


@cache
def states(frontal: str = "obama_1.jpg", three_quarter: str = "obama_2.jpg") -> dict[str, bytes]:
    """One frame per state, for the person in the shared photos (three_quarter turned to their right)."""
    return simulator.states(photo(frontal), photo(three_quarter))


def sequence(challenge: Sequence[str], frames: dict[str, bytes] | None = None, hold: int = 2) -> list[bytes]:
    """Frames performing `challenge`: open, then each action held `hold` frames and back to open."""
    return simulator.sequence(challenge, frames or states(), hold)


def as_json_frames(frames: Sequence[bytes]) -> list[str]:
    return ["data:image/jpeg;base64," + base64.b64encode(f).decode() for f in frames]
