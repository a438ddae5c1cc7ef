"""Card-and-face attempts are counted per card number and per kiosk (and for the day) before any provider or
face work; the refusal says when to try again and changes nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from idp.app import create_app
from idp.kiosk.simulator import Kiosk
from idp.runtime import Runtime
from idp.settings import Settings
from tests.kiosk.conftest import ISSUER, ZHAO, Hall, card

OTHER, THIRD = ("李娜", "31010419900718002X"), ("王芳", "440305197809300035")


def _blank() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 100, 90)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def strict(rt: Runtime, settings: Settings) -> Iterator[Hall]:
    tight = settings.model_copy(update={"proofing_per_person_per_hour": 1, "kiosk_attempts_per_hour": 1})
    with TestClient(create_app(tight), base_url=ISSUER, follow_redirects=False) as client:
        yield Hall(client, rt, tight)


def _attempt(kiosk: Kiosk, who: tuple[str, str]) -> tuple[int, str]:
    issued = kiosk.challenge()
    answer = kiosk.identify(issued.body["challenge_id"], card(chip="obama_240p.jpg", who=who), [_blank()] * 3)
    return answer.status, answer.body["reason"]


def test_attempts_are_limited_per_card_and_per_kiosk(strict: Hall) -> None:
    kiosk = strict.register()
    assert _attempt(kiosk, ZHAO) == (400, "liveness_failed")  # counted, then judged
    assert _attempt(kiosk, ZHAO) == (429, "too_many_attempts")  # the same card again within the hour
    other = strict.register()
    assert _attempt(other, ZHAO) == (429, "too_many_attempts")  # per card, whichever kiosk reads it
    assert _attempt(other, OTHER) == (400, "liveness_failed")
    assert _attempt(other, THIRD) == (429, "too_many_attempts")  # this kiosk's hour
