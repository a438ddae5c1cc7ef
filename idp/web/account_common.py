"""What every account-centre page shares: who is signed in (the SSO session cookie), the page frame (menu,
sign-out, CSRF tokens, no caching of personal data), and the readable signed-out answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idp.oauth import sessions
from idp.oauth.models import LoginSession
from idp.oauth.provider import Provider
from idp.web.account_text import account_messages
from idp.web.browser import csrf_token, ensure_browser, set_browser
from idp.web.i18n import pick_language
from idp.web.pages import render

BEIJING = timezone(timedelta(hours=8))  # China has one time zone and no daylight saving


def beijing(value: datetime) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


# The menu: (path, message key). The passkeys page is its own module (idp/web/passkeys.py).
NAV = (
    ("/account", "nav_overview"),
    ("/account/consents", "nav_apps"),
    ("/account/sessions", "nav_sessions"),
    ("/account/history", "nav_history"),
    ("/account/signatures", "nav_signatures"),
    ("/account/face", "nav_face"),
    ("/account/totp", "nav_totp"),
    ("/account/passkeys", "nav_passkeys"),
    ("/account/data", "nav_data"),
    ("/account/close", "nav_close"),
)


def current_login(request: Request, provider: Provider) -> LoginSession | None:
    """The live SSO session of this browser, detached (read only), or None."""
    with provider.runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        if login is not None:
            session.expunge(login)
        return login


def no_store(response: Response) -> Response:
    # Personal data, QR secrets, recovery codes: never kept by a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def page(request: Request, provider: Provider, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """An account page: the account strings, the menu, the account and sign-out CSRF tokens, no-store."""
    browser = ensure_browser(request)
    protector = provider.runtime.protector
    base = {
        "t": account_messages(pick_language(request)),
        "nav": NAV,
        "here": request.url.path,
        "csrf": csrf_token(protector, "account", "-", browser),
        "logout_csrf": csrf_token(protector, "logout", "-", browser),
    }
    response = render(request, name, {**base, **context}, status_code=status)
    return no_store(set_browser(request, response, provider.settings.issuer.startswith("https")))


def signed_out(request: Request, status: int = 401) -> Response:
    """Not signed in: a readable page that offers sign-in (and comes back to the account centre)."""
    t = account_messages(pick_language(request))
    context = {"t": t, "asked": status == 401}  # a page of the account was asked for: say why it is not shown
    return no_store(render(request, "account_signed_out.html", context, status_code=status))
