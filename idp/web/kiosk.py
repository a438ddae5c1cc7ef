"""Pages on a shared device (a kiosk client, `shared_device`): the frame they are drawn in — the idle countdown,
the finish button, the number pad — and the headers that keep them out of every cache and history."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idp.authn.engine import Engine
from idp.errors import InvalidInput
from idp.oauth.clients import Client
from idp.oauth.models import AuthFlow
from idp.settings import Settings
from idp.web.browser import browser_id, csrf_token

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def frame(settings: Settings, action: str, fields: dict[str, str]) -> dict[str, Any]:
    """The kiosk frame: finishing (the button, or the idle countdown running out) posts `fields` to `action`."""
    return {"idle": settings.kiosk_idle_timeout, "finish": {"action": action, "fields": fields}}


CANCEL = "/login/code"  # the journey's cancel button (idp/web/login.py): every page of a journey finishes by it


def journey_frame(
    settings: Settings, client: Client | None, action: str, fields: dict[str, str]
) -> dict[str, Any] | None:
    """The frame for a journey page of a shared-device client, else None. Finishing posts the journey's cancel
    (the same form as its cancel button): the flow is cancelled, its sign-in ended, the screen left."""
    if client is None or not client.shared_device:
        return None
    return frame(settings, action, fields)


def for_journey(engine: Engine, request: Request, flow: AuthFlow) -> dict[str, Any] | None:
    """The frame of any page of `flow` (sign-in, second factor, step-up, consent, terms, an error on the way)
    when the journey runs on a shared screen, else None. Finishing posts the sign-in page's cancel, with its
    token: the engine cancels the journey and ends the sign-in it made, wherever the person had got to."""
    csrf = csrf_token(engine.protector, "login", flow.id, request.cookies.get("yw_b", ""))
    client = engine.client_of(flow) if engine.shared_screen(flow) else None
    return journey_frame(engine.settings, client, CANCEL, {"flow": flow.id, "csrf": csrf, "decision": "cancel"})


def for_flow_id(engine: Engine, request: Request, flow_id: str) -> dict[str, Any] | None:
    """`for_journey` by the journey's id; None when there is no such journey of this browser (any more)."""
    with engine.reading() as session:
        try:
            flow = engine.journey(session, flow_id, browser_id(request))
        except InvalidInput:  # no journey (any more): no frame, the page says why on its own
            return None
    return for_journey(engine, request, flow)


def private(response: Response, kiosk: object = True) -> Response:
    """A shared screen's page: never stored, never shown again from history."""
    if kiosk:
        response.headers.update(NO_STORE)
    return response
