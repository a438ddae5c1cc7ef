"""A served app (in-process) with a registered hall kiosk, and the kiosk simulator driving it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from idp.app import create_app
from idp.kiosk import devices
from idp.kiosk.simulator import Card, Kiosk
from idp.runtime import Runtime
from idp.settings import Settings
from tests.kit import liveness_frames as kit

ISSUER = "http://127.0.0.1:8000"
# 赵磊 is in the emulated population registry; 陈静 is not (a valid number nobody registered).
ZHAO = ("赵磊", "32010219750111006X")
CHEN = ("陈静", "510107198806060050")


@dataclass
class Hall:
    client: TestClient
    rt: Runtime
    settings: Settings

    def register(self, hall: str = "city") -> Kiosk:
        with self.rt.transaction() as session:
            made = devices.register(session, self.settings, hall=hall, name=f"kiosk in {hall}")
        return Kiosk(self.client, made.client_id, made.private_key_pem, hall)


def card(chip: str = "obama_1.jpg", who: tuple[str, str] = ZHAO, **dates: str) -> Card:
    return Card(
        who[0],
        who[1],
        dates.get("valid_from", "2020-01-01"),
        dates.get("valid_until", "2040-01-01"),
        kit.frame(chip),
    )


@pytest.fixture
def hall(rt: Runtime, settings: Settings) -> Iterator[Hall]:
    with TestClient(create_app(settings), base_url=ISSUER, follow_redirects=False) as client:
        yield Hall(client, rt, settings)
