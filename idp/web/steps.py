"""Turning the engine's outcomes into browser responses: a redirect, the same page with a field error, or a
readable error page. Messages are formatted in the page's language; times are Beijing time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.authn.outcome import Invalid, Outcome, Redirect, Refused, Result, Shown, Step
from idp.oauth import sessions
from idp.web.i18n import messages, pick_language
from idp.web.pages import render

BEIJING = timezone(timedelta(hours=8), "CST")
STEP_PATHS = {
    "login": "/login",
    "totp": "/login/totp",
    "stepup": "/stepup",
    "consent": "/consent",
    "device": "/device/confirm",
}


def duration(seconds: float, t: dict[str, str]) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 90:
        return t["seconds"].format(n=seconds)
    if seconds < 90 * 60:
        return t["minutes"].format(n=(seconds + 59) // 60)
    return t["hours"].format(n=(seconds + 3599) // 3600)


def describe(invalid: Invalid | Refused, lang: str) -> str:
    """The message of an outcome in `lang`; a lockout's time as Beijing wall-clock time and as "in N minutes"."""
    t = messages(lang)
    params = dict(invalid.params) if isinstance(invalid, Invalid) else {}
    until = params.pop("until", None)
    if isinstance(until, datetime):
        params["until"] = until.astimezone(BEIJING).strftime("%H:%M")
        params["wait"] = duration((until - datetime.now(UTC)).total_seconds(), t)
    elif "seconds" in params:
        params.setdefault("wait", duration(float(params["seconds"]), t))
    template = t.get(invalid.message, invalid.message)
    return template.format(**params)


def step_location(step: Step) -> str:
    return f"{STEP_PATHS[step.name]}?flow={step.flow_id}"


def respond(
    request: Request,
    result: Result | Outcome,
    again: Callable[[Invalid | Shown], Response] | None = None,
    kiosk: Callable[[], dict[str, Any] | None] | None = None,
) -> Response:
    """`again` renders the page the person is on, with a form error or new facts; `kiosk` gives the shared-screen
    frame (idp/web/kiosk.py) of an error page reached during a journey."""
    outcome, cookie = (result.outcome, result.cookie) if isinstance(result, Result) else (result, None)
    lasting = not isinstance(result, Result) or result.lasting
    response: Response
    if isinstance(outcome, Step):
        response = RedirectResponse(step_location(outcome), 303)
    elif isinstance(outcome, Redirect):
        response = RedirectResponse(outcome.location, 302)
        if outcome.end_session:
            response.delete_cookie(sessions.COOKIE)
            cookie = None  # a sign-in that ended with its journey leaves nothing behind
    elif isinstance(outcome, (Invalid, Shown)) and again is not None:
        response = again(outcome)
    else:
        message = outcome if isinstance(outcome, (Invalid, Refused)) else Refused("authorize_failed")
        status = message.status
        frame = kiosk() if kiosk is not None else None
        response = render(
            request, "error.html", {"detail": describe(message, pick_language(request)), "kiosk": frame}, status
        )
        if frame:
            response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    if cookie is not None:
        settings = request.app.state.settings
        response.set_cookie(
            sessions.COOKIE,
            cookie,
            httponly=True,
            samesite="lax",
            secure=settings.issuer.startswith("https"),
            # On a shared device a session cookie (no Max-Age/Expires): closing the browser forgets it too.
            max_age=settings.session_ttl if lasting else None,
        )
    return response
