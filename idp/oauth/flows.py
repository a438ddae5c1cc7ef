"""Pending authorization requests, kept in the database while the person logs in and consents.

A flow is bound to the browser that started it (a hash of its browser cookie), so a flow id leaked
from one browser can't be completed in another.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.errors import InvalidInput
from idp.oauth.models import AuthFlow
from keys.protector import Protector

_BROWSER = "_browser"


def _browser_hash(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()


def start(session: Session, params: dict[str, str], client_id: str, browser: str, ttl: int) -> AuthFlow:
    flow = AuthFlow(
        id=secrets.token_urlsafe(24),
        params={**params, _BROWSER: _browser_hash(browser)},
        client_id=client_id,
        pending_factors=[],
        expires_at=utcnow() + timedelta(seconds=ttl),
    )
    session.add(flow)
    session.flush()
    return flow


def get(session: Session, flow_id: str | None, browser: str | None, *, lock: bool = False) -> AuthFlow:
    """The live flow bound to this browser; `lock` holds its row until the transaction ends (PostgreSQL), so two
    submissions of one journey are judged one after the other."""
    flow = session.get(AuthFlow, flow_id, with_for_update=lock) if flow_id and len(flow_id) <= 64 else None
    if flow is None or flow.expires_at <= utcnow():
        raise InvalidInput(
            "登录请求已过期，请返回应用重新开始。This sign-in request has expired; go back to the application and start again."
        )
    if not browser or flow.params.get(_BROWSER) != _browser_hash(browser):
        raise InvalidInput(
            "该登录请求来自另一个浏览器，请重新开始。This sign-in request belongs to another browser; please start again."
        )
    return flow


def seal(protector: Protector, flow_id: str, purpose: str, text: str) -> str:
    """Personal data a flow must carry between steps (a name, an account), encrypted and bound to the flow."""
    return base64.b64encode(protector.encrypt("auth_flows", purpose, flow_id, text)).decode()


def unseal(protector: Protector, flow: AuthFlow, purpose: str, sealed: str) -> str:
    return protector.decrypt("auth_flows", purpose, flow.id, base64.b64decode(sealed))


def request_params(flow: AuthFlow) -> dict[str, str]:
    return {k: v for k, v in flow.params.items() if k != _BROWSER}


def finish(session: Session, flow: AuthFlow) -> None:
    session.delete(flow)
