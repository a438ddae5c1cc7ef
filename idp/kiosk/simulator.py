"""A kiosk simulator: plays the ID-card reader and the camera against the real kiosk HTTP API.

Frames are built from photos (real images through the whole face pipeline on the server; nothing is replaced;
the tests' liveness kit, tests/kit/liveness_frames.py, builds its frames here too): per liveness state,

- `open`: the frontal photo, at camera size (640 px, JPEG);
- `closed`: the frontal photo with both eye openings painted over in the skin colour below each eye and a lash
  line drawn across (the eye landmarks come from the same face model the server uses);
- `right` / `left`: a three-quarter photo of the same person turned to their right, and its mirror image
  (a single frontal photo can't be turned convincingly: a warp strong enough to read as a turn no longer
  matches the face, measured at distance 0.50 against the 0.50 threshold).

Each action is held two frames between open frames, in the challenge's order. `printed_still` is the attack a
kiosk must refuse: the same photo held up to the camera for every frame.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from adapters.face import DlibFaceMatcher

STATE_OF = {"blink": "closed", "turn_left": "left", "turn_right": "right"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRINTED_FRAMES = 7


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def fit(data: bytes, side: int = 640) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    if max(image.size) > side:
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return image


def camera_frame(data: bytes) -> bytes:
    return _jpeg(fit(data))


def chip_photo(data: bytes) -> bytes:
    """A photo as the reader hands it over after decoding the chip's: a small JPEG (a camera-sized one here,
    so that the sandbox's photos keep enough detail for the face model)."""
    return _jpeg(fit(data))


def close_eyes(data: bytes, matcher: DlibFaceMatcher | None = None) -> bytes:
    """The same face with its eyes shut: each eye opening covered in the colour of the skin under it."""
    image = fit(data)
    landmarks = (matcher or DlibFaceMatcher()).landmarks(_jpeg(image))
    draw = ImageDraw.Draw(image)
    for eye in ("left_eye", "right_eye"):
        pts = landmarks[eye]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        cx, cy, w, h = sum(xs) / 6, sum(ys) / 6, max(xs) - min(xs), max(ys) - min(ys)
        below = image.crop((int(cx - w / 2), int(cy + 1.2 * h + 3), int(cx + w / 2), int(cy + 2.2 * h + 3)))
        skin = below.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        fill = tuple(int(c or 0) for c in skin) if isinstance(skin, tuple) else (int(skin or 0),) * 3
        draw.polygon([(cx + (x - cx) * 1.3, cy + (y - cy) * 2.1) for x, y in pts], fill=fill)
        lid = [pts[0], ((pts[1][0] + pts[5][0]) / 2, cy + h * 0.3), ((pts[2][0] + pts[4][0]) / 2, cy + h * 0.3), pts[3]]
        draw.line(lid, fill=(35, 25, 25), width=max(2, int(h * 0.6)))
    return _jpeg(image.filter(ImageFilter.GaussianBlur(0.6)))


def states(frontal: bytes, turned_right: bytes, matcher: DlibFaceMatcher | None = None) -> dict[str, bytes]:
    """One frame per liveness state for the person in the photos."""
    turned = fit(turned_right)
    return {
        "open": camera_frame(frontal),
        "closed": close_eyes(frontal, matcher),
        "right": _jpeg(turned),
        "left": _jpeg(ImageOps.mirror(turned)),
    }


def sequence(challenge: Sequence[str], by_state: dict[str, bytes], hold: int = 2) -> list[bytes]:
    """Frames performing `challenge`: open, then each action held `hold` frames and back to open."""
    out = [by_state["open"]]
    for action in challenge:
        out += [by_state[STATE_OF[action]]] * hold + [by_state["open"]]
    return out


def printed_still(photo: bytes, count: int = PRINTED_FRAMES) -> list[bytes]:
    """A printed photo held up to the camera: the same still in every frame."""
    return [camera_frame(photo)] * count


@dataclass(frozen=True)
class Card:
    name: str
    number: str
    valid_from: str
    valid_until: str
    chip_photo: bytes
    authority: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.status == 200 and "access_token" in self.body


class Kiosk:
    """A kiosk's software: its client id and private key, talking to the service at `base_url`."""

    def __init__(self, http: httpx.Client, client_id: str, private_key_pem: bytes, hall: str) -> None:
        self.http, self.client_id, self.hall = http, client_id, hall
        self.key = ECKey.import_key(private_key_pem)
        self._issuer: str | None = None

    @property
    def issuer(self) -> str:
        if self._issuer is None:
            meta = self.http.get("/.well-known/openid-configuration")
            meta.raise_for_status()
            self._issuer = str(meta.json()["issuer"])
        return self._issuer

    def assertion(self) -> str:
        """RFC 7523 §3: a fresh, short-lived, single-use client assertion for the authorization server."""
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 60,
        }
        return jwt.encode({"alg": "ES256", "kid": self.key.thumbprint()}, claims, self.key, algorithms=["ES256"])

    def _auth(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
            "hall": self.hall,
        }

    def challenge(self) -> Outcome:
        answer = self.http.post("/kiosk/v1/challenge", data=self._auth())
        return Outcome(answer.status_code, answer.json())

    def identify(self, challenge_id: str, card: Card, frames: Sequence[bytes]) -> Outcome:
        data = {
            **self._auth(),
            "challenge_id": challenge_id,
            "card_name": card.name,
            "card_number": card.number,
            "valid_from": card.valid_from,
            "valid_until": card.valid_until,
        }
        if card.authority:
            data["issuing_authority"] = card.authority
        files = [("chip_photo", ("chip.jpg", card.chip_photo, "image/jpeg"))]
        files += [("frame", (f"frame{i:02d}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)]
        answer = self.http.post("/kiosk/v1/identify", data=data, files=files)
        return Outcome(answer.status_code, answer.json())

    def run(self, card: Card, frontal: bytes, turned_right: bytes | None, printed: bool = False) -> Outcome:
        """Read the card, take a challenge, film the citizen performing it (or a printed still), send it."""
        issued = self.challenge()
        if issued.status != 200:
            return issued
        actions = list(issued.body["actions"])
        if printed or turned_right is None:
            frames = printed_still(frontal)
        else:
            frames = sequence(actions, states(frontal, turned_right))
        return self.identify(str(issued.body["challenge_id"]), card, frames)
