"""The browser's identity for CSRF and flow binding: a random `yw_b` cookie, and tokens keyed on it.

Every form carries `csrf = HMAC(key, purpose | context | browser)`; a form posted from another site (no
cookie, or a different one) or for another flow fails the check.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from idp.errors import InvalidInput
from keys.protector import Protector

COOKIE = "yw_b"


def client_address(request: Request) -> str:
    """The address the trusted proxies vouch for (uvicorn resolved their headers), for rate limits."""
    return request.client.host if request.client else "unknown"


def browser_id(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and 20 <= len(value) <= 64 else None


def ensure_browser(request: Request) -> str:
    """The browser id, minting one if the request has none (the caller must set it with `set_browser`)."""
    existing = browser_id(request)
    if existing:
        return existing
    minted: str = request.state.__dict__.setdefault("new_browser_id", secrets.token_urlsafe(24))
    return minted


def set_browser(request: Request, response: Response, secure: bool) -> Response:
    minted = request.state.__dict__.get("new_browser_id")
    if minted:
        response.set_cookie(COOKIE, minted, httponly=True, secure=secure, samesite="lax", max_age=365 * 86400)
    return response


def csrf_token(protector: Protector, purpose: str, context: str, browser: str) -> str:
    return protector.index("csrf", f"{purpose}|{context}|{browser}")


def check_csrf(protector: Protector, request: Request, submitted: str | None, purpose: str, context: str) -> None:
    browser = browser_id(request)
    expected = csrf_token(protector, purpose, context, browser) if browser else ""
    if not browser or not submitted or not hmac.compare_digest(expected, submitted):
        raise InvalidInput(
            "表单已过期或并非来自本站，请重试。The form has expired or did not come from this site; please try again."
        )
