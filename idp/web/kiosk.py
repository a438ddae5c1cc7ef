"""Pages on a shared device (a kiosk client, `shared_device`): the frame they are drawn in — the idle countdown,
the finish button, the number pad — and the headers that keep them out of every cache and history."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from idp.oauth.clients import Client
from idp.settings import Settings

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def frame(settings: Settings, action: str, fields: dict[str, str]) -> dict[str, Any]:
    """The kiosk frame: finishing (the button, or the idle countdown running out) posts `fields` to `action`."""
    return {"idle": settings.kiosk_idle_timeout, "finish": {"action": action, "fields": fields}}


def journey_frame(
    settings: Settings, client: Client | None, action: str, fields: dict[str, str]
) -> dict[str, Any] | None:
    """The frame for a journey page of a shared-device client, else None. Finishing posts the journey's cancel
    (the same form as its cancel button): the flow is cancelled, its sign-in ended, the screen left."""
    if client is None or not client.shared_device:
        return None
    return frame(settings, action, fields)


def private(response: Response, kiosk: object = True) -> Response:
    """A shared screen's page: never stored, never shown again from history."""
    if kiosk:
        response.headers.update(NO_STORE)
    return response
