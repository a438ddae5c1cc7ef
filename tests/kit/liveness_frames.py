"""Liveness test kit: camera-frame sequences built from the shared test photos that perform a challenge.

The frames are real images that go through the whole face pipeline (decode, detect, 68-point landmarks,
encodings); nothing below the HTTP request is replaced. Per state:

- `open`: the frontal photo (obama_1, yaw −0.02);
- `left` / `right`: obama_2 is a three-quarter view (yaw −0.26, the person's right), mirrored for the left;
- `closed`: the frontal photo with both eye openings painted over in the skin colour below the eye and a
  lash line drawn across (EAR 0.24 → 0.09, measured; still the same person at distance 0.23).

Each action is held for two frames (liveness.MIN_FRAMES) between open frames, in the challenge's order.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from adapters.face import DlibFaceMatcher

SHARED_FACES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces"
STATE_OF = {"blink": "closed", "turn_left": "left", "turn_right": "right"}


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


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _fit(data: bytes, side: int = 640) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    if max(image.size) > side:
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return image


def frame(name: str) -> bytes:
    """A shared photo as a camera frame would come (640 px, JPEG)."""
    return _jpeg(_fit(photo(name)))


def close_eyes(data: bytes) -> bytes:
    """The same face with its eyes shut: each eye opening covered in the colour of the skin under it."""
    image = _fit(data)
    landmarks = DlibFaceMatcher().landmarks(_jpeg(image))
    draw = ImageDraw.Draw(image)
    for eye in ("left_eye", "right_eye"):
        pts = landmarks[eye]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        cx, cy, w, h = sum(xs) / 6, sum(ys) / 6, max(xs) - min(xs), max(ys) - min(ys)
        below = image.crop((int(cx - w / 2), int(cy + 1.2 * h + 3), int(cx + w / 2), int(cy + 2.2 * h + 3)))
        skin = below.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        assert isinstance(skin, tuple)
        draw.polygon([(cx + (x - cx) * 1.3, cy + (y - cy) * 2.1) for x, y in pts], fill=skin)
        lid = [pts[0], ((pts[1][0] + pts[5][0]) / 2, cy + h * 0.3), ((pts[2][0] + pts[4][0]) / 2, cy + h * 0.3), pts[3]]
        draw.line(lid, fill=(35, 25, 25), width=max(2, int(h * 0.6)))
    return _jpeg(image.filter(ImageFilter.GaussianBlur(0.6)))


@cache
def states(frontal: str = "obama_1.jpg", three_quarter: str = "obama_2.jpg") -> dict[str, bytes]:
    """One frame per state, for the person in the shared photos (three_quarter turned to their right)."""
    turned = _fit(photo(three_quarter))
    return {
        "open": _jpeg(_fit(photo(frontal))),
        "closed": close_eyes(photo(frontal)),
        "right": _jpeg(turned),
        "left": _jpeg(ImageOps.mirror(turned)),
    }


def sequence(challenge: Sequence[str], frames: dict[str, bytes] | None = None, hold: int = 2) -> list[bytes]:
    """Frames performing `challenge`: open, then each action held `hold` frames and back to open."""
    by_state = frames or states()
    out = [by_state["open"]]
    for action in challenge:
        out += [by_state[STATE_OF[action]]] * hold + [by_state["open"]]
    return out


def as_json_frames(frames: Sequence[bytes]) -> list[str]:
    return ["data:image/jpeg;base64," + base64.b64encode(f).decode() for f in frames]
