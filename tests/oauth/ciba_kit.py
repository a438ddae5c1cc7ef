"""Helpers for the CIBA tests: a CIBA client, the backchannel request, the citizen's approval over HTTP."""

from __future__ import annotations

import re
from typing import Any

from httpx import Response

from idp.oauth.clients import CIBA_GRANT, NewClient
from tests.oauth.conftest import PHONE, Bench, form_value

LINK = re.compile(r"/ciba/([A-Za-z0-9_-]{20,64})")


def ciba_client(bench: Bench, mode: str = "poll", endpoint: str | None = None, **extra: Any) -> NewClient:
    return bench.register(
        name=extra.pop("name", "12345 市民热线"),
        redirect_uris=[],
        grant_types=[CIBA_GRANT],
        scopes=["openid", "profile", "phone"],
        backchannel_token_delivery_mode=mode,
        backchannel_client_notification_endpoint=endpoint,
        **extra,
    )


def bc_authorize(bench: Bench, rp: NewClient, **params: str) -> Response:
    data = {"scope": "openid profile", "login_hint": PHONE, "binding_message": "工单 4711"}
    data.update(params)
    data = {k: v for k, v in data.items() if v is not None}
    assert rp.client_secret
    return bench.client.post("/bc-authorize", data=data, auth=(rp.client_id, rp.client_secret))


def poll(bench: Bench, rp: NewClient, auth_req_id: str) -> Response:
    assert rp.client_secret
    return bench.client.post(
        "/token",
        data={"grant_type": CIBA_GRANT, "auth_req_id": auth_req_id},
        auth=(rp.client_id, rp.client_secret),
    )


def sms_texts(bench: Bench, phone: str = PHONE) -> list[str]:
    messages = bench.client.get("/sandbox/sms/outbox", params={"phone": phone}).json()["messages"]
    return [str(m["text"]) for m in messages]


def link_from_outbox(bench: Bench, phone: str = PHONE) -> str:
    for text in sms_texts(bench, phone):
        found = LINK.search(text)
        if found:
            return found.group(1)
    raise AssertionError("no CIBA link in the outbox")


def sign_in_for(bench: Bench, link: str, phone: str = PHONE) -> Response:
    """From the approval page through the engine's sign-in back to the approval page."""
    page = bench.client.get(f"/ciba/{link}")
    assert page.status_code == 200, page.text
    started = bench.client.post(f"/ciba/{link}/sign-in", data={"csrf": form_value(page.text, "csrf")})
    assert started.status_code == 303 and started.headers["location"].startswith("/login"), started.text
    response = bench.sign_in(started.headers["location"], phone)
    while response.status_code in (302, 303):
        response = bench.client.get(response.headers["location"])
    return response


def decide(bench: Bench, link: str, decision: str) -> Response:
    page = bench.client.get(f"/ciba/{link}")
    return bench.client.post(f"/ciba/{link}/decide", data={"csrf": form_value(page.text, "csrf"), "decision": decision})


def register_person(bench: Bench, phone: str = PHONE) -> None:
    """A person registers (a first sign-in with this phone), then signs out of this browser."""
    bench.code_flow(phone=phone)
    bench.client.cookies.clear()
