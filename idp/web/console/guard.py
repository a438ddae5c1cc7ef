"""Who is at the console, and what they may do: FastAPI dependencies every console route declares.

- `current_staff`: a live console session (cookie, idle and absolute timeouts) of a person who holds a staff
  role now (roles are read on every request, so a revoked role stops working at once);
- `guard(*roles, post=..., fresh=...)`: the page's roles, for a POST also the console CSRF token, and for a
  dangerous action a second factor proven within `console_reauth_s` (else the staff member is asked again);
- `page(...)`: renders a console page and renews the idle stamp of the session cookie.

Refusals are exceptions (`Interrupt`) rendered by `install`'s handler, so a route runs only once every check
has passed and a refused request reaches no business code at all.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Request
from starlette.responses import RedirectResponse, Response

from idp.authn import passkeys
from idp.db import utcnow
from idp.records import people
from idp.records.models import Person
from idp.runtime import Runtime
from idp.staff import console_sessions, roles
from idp.web.console.text import console_messages
from idp.web.deps import get_runtime
from idp.web.i18n import pick_language
from idp.web.pages import render


@dataclass(frozen=True)
class Staff:
    person_id: str
    session_key: str  # the console session row's key (hash of the cookie value)
    roles: tuple[roles.Held, ...]
    name: str  # masked
    csrf: str
    cookie: str  # the cookie to send back: the same session, a fresh idle stamp

    def has(self, *wanted: str) -> bool:
        return any(r.role in wanted for r in self.roles)

    def counter_halls(self) -> set[str] | None:
        """Halls this staff member may record checks for; None: any hall."""
        halls = [r.hall for r in self.roles if r.role == "counter"]
        return None if None in halls else {h for h in halls if h}


class Interrupt(Exception):
    """A console request stopped before its route ran; `respond` says what the person sees."""

    status = 400

    def respond(self, request: Request) -> Response:
        raise NotImplementedError


class SignInNeeded(Interrupt):
    status = 401

    def respond(self, request: Request) -> Response:
        if request.method == "GET" and request.url.path == "/console":
            return _plain(request, "console_signin.html", {}, 200)
        if request.method == "GET":
            return RedirectResponse("/console", 303)
        return _plain(
            request, "console_message.html", {"title": "console_signed_out_title", "body": "console_signed_out"}, 401
        )


class NotStaff(Interrupt):
    status = 403

    def respond(self, request: Request) -> Response:
        return _plain(
            request, "console_message.html", {"title": "console_not_staff_title", "body": "console_not_staff"}, 403
        )


class Forbidden(Interrupt):
    status = 403

    def __init__(self, staff: Staff) -> None:
        super().__init__("forbidden")
        self.staff = staff

    def respond(self, request: Request) -> Response:
        ctx = {"title": "console_forbidden_title", "body": "console_forbidden"}
        return page(request, self.staff, "console_message.html", ctx, 403)


class BadCsrf(Interrupt):
    def __init__(self, staff: Staff) -> None:
        super().__init__("csrf")
        self.staff = staff

    def respond(self, request: Request) -> Response:
        t = console_messages(pick_language(request))
        return page(
            request, self.staff, "console_message.html", {"title": "error_title", "text": t["csrf_expired"]}, 400
        )


class ReauthNeeded(Interrupt):
    status = 401

    def __init__(self, staff: Staff, back: str) -> None:
        super().__init__("reauth")
        self.staff, self.back = staff, back

    def respond(self, request: Request) -> Response:
        return reauth_page(request, self.staff, self.back, None, 401)


def install(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Interrupt)
        return exc.respond(request)

    app.add_exception_handler(Interrupt, handle)


def https(request: Request) -> bool:
    return bool(request.app.state.settings.issuer.startswith("https://"))


def csrf_for(runtime: Runtime, session_key: str) -> str:
    # Bound to the console session: a form from another session, or from another site, does not carry it.
    return runtime.protector.index("csrf", f"console|{session_key}")


def current_staff(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Staff:
    settings = request.app.state.settings
    raw = request.cookies.get(console_sessions.cookie_name(https(request)))
    value = console_sessions.unstamp(runtime.protector, raw, settings.console_idle_s)
    if value is None:
        raise SignInNeeded("no console session")
    with runtime.reading() as session:
        row = console_sessions.load(session, value)
        person = session.get(Person, row.person_id) if row is not None else None
        if row is None or person is None:
            raise SignInNeeded("no console session")
        held = tuple(roles.held(session, person))
        if not held:
            raise NotStaff("no staff role")
        view = people.view(session, runtime.protector, person)
        key, factor_at = row.id_hash, row.factor_at
    request.state.console_factor_at = factor_at
    return Staff(
        person_id=person.id,
        session_key=key,
        roles=held,
        name=view.name or view.phone or "-",
        csrf=csrf_for(runtime, key),
        cookie=console_sessions.stamp(runtime.protector, value),
    )


StaffDep = Annotated[Staff, Depends(current_staff)]


def guard(*allowed: str, post: bool = False, fresh: str | None = None) -> Callable[..., Staff]:
    """The dependency for a console route: one of `allowed` roles; for a POST the CSRF token; with `fresh`
    (the page to come back to) a second factor proven within `console_reauth_s`, else asked again."""

    def check(request: Request, staff: StaffDep, csrf: Annotated[str, Form(max_length=128)] = "") -> Staff:
        if not staff.has(*allowed):
            raise Forbidden(staff)
        if post and not (csrf and hmac.compare_digest(csrf, staff.csrf)):
            raise BadCsrf(staff)
        if fresh is not None:
            window = timedelta(seconds=request.app.state.settings.console_reauth_s)
            if utcnow() - request.state.console_factor_at > window:
                raise ReauthNeeded(staff, fresh)
        return staff

    def check_get(request: Request, staff: StaffDep) -> Staff:
        if not staff.has(*allowed):
            raise Forbidden(staff)
        return staff

    return check if post else check_get


def set_cookie(request: Request, response: Response, value: str) -> Response:
    response.set_cookie(
        console_sessions.cookie_name(https(request)),
        value,
        httponly=True,
        secure=https(request),
        samesite="strict",
        path="/",
    )
    return response


def _plain(request: Request, name: str, context: dict[str, Any], status: int) -> Response:
    t = console_messages(pick_language(request))
    response = render(request, name, {"t": t, "staff": None, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def page(request: Request, staff: Staff, name: str, context: dict[str, Any], status: int = 200) -> Response:
    t = console_messages(pick_language(request))
    response = render(request, name, {"t": t, "staff": staff, "csrf": staff.csrf, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return set_cookie(request, response, staff.cookie)


def redirect(request: Request, staff: Staff, to: str) -> Response:
    return set_cookie(request, RedirectResponse(to, 303), staff.cookie)


def local_back(back: str) -> str:
    """Where to go after a confirmation: a console page, never another site."""
    return back if back.startswith("/console") and "//" not in back and "\\" not in back else "/console"


def reauth_page(request: Request, staff: Staff, back: str, error: str | None, status: int) -> Response:
    """Asking for the second factor again: an authenticator code, or one of the staff member's passkeys."""
    t = console_messages(pick_language(request))
    runtime: Runtime = request.app.state.runtime
    with runtime.reading() as session:
        passkey = passkeys.has_passkey(session, staff.person_id)
    minutes = max(1, request.app.state.settings.console_reauth_s // 60)
    context = {"back": back, "minutes": minutes, "error": t[error] if error else None, "passkey": passkey}
    return page(request, staff, "console_reauth.html", context, status)
