"""What every account-centre page shares: who is signed in (the SSO session cookie), the page frame (menu,
sign-out, CSRF tokens, no caching of personal data), and the readable signed-out answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form
from starlette.requests import Request
from starlette.responses import Response

from idp.oauth import sessions
from idp.oauth.models import LoginSession
from idp.oauth.provider import Provider
from idp.web.account_text import account_messages
from idp.web.browser import check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_provider
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


class SignedOut(Exception):
    """An account page asked for without a live SSO session: answered with the signed-out page (`install`)."""


def signed_in(request: Request, provider: Annotated[Provider, Depends(get_provider)]) -> LoginSession:
    """The dependency of an account page: the signed-in session, or the signed-out page."""
    login = current_login(request, provider)
    if login is None:
        raise SignedOut()
    return login


def signed_in_form(
    request: Request,
    provider: Annotated[Provider, Depends(get_provider)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> LoginSession:
    """The dependency of an account form: its CSRF token first (a forged post learns nothing, not even whether
    the browser is signed in), then the signed-in session."""
    check_csrf(provider.runtime.protector, request, csrf, "account", "-")
    return signed_in(request, provider)


SignedIn = Annotated[LoginSession, Depends(signed_in)]
SignedInForm = Annotated[LoginSession, Depends(signed_in_form)]


def install(app: FastAPI) -> None:
    async def answer(request: Request, exc: Exception) -> Response:
        return signed_out(request)

    app.add_exception_handler(SignedOut, answer)


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
