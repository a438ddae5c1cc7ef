"""Relying parties (admin, client_manager): list, register, edit, rotate the secret, disable, delete; and the
hall kiosks (idp/kiosk), listed with revoke. A front end to `idp.oauth.clients` and `idp.kiosk.devices`, the
same calls as `yiwang client` / `yiwang kiosk` and `/admin/v1/clients`.

A new or rotated secret is on the response to that POST only (no-store) and nowhere else: only its hash is
kept. Rotating, deleting and revoking a kiosk ask again for the second factor. Every action and every refused
attempt is audited with the staff member as actor; a refused form changes nothing and shows why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp import audit
from idp.errors import InvalidInput, YiwangError
from idp.kiosk import devices
from idp.oauth import acr, clients
from idp.oauth.models import OAuthClient
from idp.oauth.provider import Provider
from idp.oauth.scopes import SCOPES
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.console.signin import CLIENT_ID as CONSOLE_CLIENT
from idp.web.console.text import console_messages
from idp.web.deps import get_provider
from idp.web.i18n import pick_language

router = APIRouter(prefix="/console/clients", tags=["console"])
ProviderDep = Annotated[Provider, Depends(get_provider)]
MANAGERS = ("admin", "client_manager")
BACK = "/console/clients"
ClientId = Annotated[str, Form(max_length=64)]
T = TypeVar("T")
# What the console registers; the kiosk grant is `yiwang kiosk register`'s alone (its key pair).
CONSOLE_GRANTS = tuple(g for g in clients.GRANTS if g != clients.KIOSK_GRANT)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _jwks(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("the JWKS is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the JWKS is not a JSON object")
    return data


def _acr(value: str) -> str | None:
    return value or None


def _run(provider: Provider, staff: Staff, action: str, subject: str, work: Callable[[Session], T]) -> T:
    """One transaction; if refused, nothing of it stays and the refusal is audited with the staff member."""
    refusal = audit.Event(action=action, subject=subject, actor=staff.person_id, channel="console")
    return provider.runtime.run(work, refusal=refusal)


def _listing(provider: Provider) -> dict[str, Any]:
    with provider.runtime.reading() as session:
        kiosks = devices.list_kiosks(session)
        kiosk_ids = {k.client_id for k in kiosks}
        rows = [c for c in clients.list_clients(session) if c["client_id"] not in kiosk_ids]
    return {"clients": rows, "kiosks": kiosks}


def _form_context(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "grants": CONSOLE_GRANTS,
        "scopes": list(SCOPES),
        "levels": acr.LEVELS,
        "methods": clients.AUTH_METHODS,
        "values": values,
    }


def _t(request: Request) -> dict[str, str]:
    return console_messages(pick_language(request))


def _list_page(request: Request, provider: Provider, staff: Staff, status: int = 200, **ctx: Any) -> Response:
    reauth = request.query_params.get("reauth") == "done"
    context = {**_listing(provider), "reauth_done": reauth, **ctx}
    return guard.page(request, staff, "console_clients.html", context, status)


def _detail(provider: Provider, client_id: str) -> dict[str, Any] | None:
    with provider.runtime.reading() as session:
        row = session.get(OAuthClient, client_id[:64])
        if row is None or devices.device(session, row.client_id) is not None:
            return None
        return clients.describe(row)


def _client_page(
    request: Request, provider: Provider, staff: Staff, client_id: str, status: int = 200, **ctx: Any
) -> Response:
    shown = _detail(provider, client_id)
    if shown is None:
        return _list_page(request, provider, staff, 404, error=_t(request)["clients_none"])
    values = {**shown, "redirect_text": "\n".join(shown["redirect_uris"]),
              "logout_text": "\n".join(shown["post_logout_redirect_uris"])}  # fmt: skip
    context = {**_form_context(values), "client": shown, "protected": shown["client_id"] == CONSOLE_CLIENT, **ctx}
    return guard.page(request, staff, "console_client.html", context, status)


def _refused(request: Request, exc: YiwangError) -> str:
    return _t(request)["clients_refused"].format(reason=exc.detail)


def _not_console_client(client_id: str) -> None:
    if client_id == CONSOLE_CLIENT:
        # Disabling or changing it here could lock every staff member out of the console.
        raise InvalidInput("the console's own sign-in client cannot be changed from the console")


@router.get("")
async def clients_page(
    request: Request, provider: ProviderDep, staff: Annotated[Staff, Depends(guard.guard(*MANAGERS))]
) -> Response:
    return await run_in_threadpool(_list_page, request, provider, staff)


@router.get("/new")
async def new_page(request: Request, staff: Annotated[Staff, Depends(guard.guard(*MANAGERS))]) -> Response:
    values = {"grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "profile", "phone"],
              "auth_method": "client_secret_basic", "default_acr": None}  # fmt: skip
    return guard.page(request, staff, "console_client_new.html", _form_context(values))


@router.post("/new")
async def register(
    request: Request,
    provider: ProviderDep,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True))],
    name: Annotated[str, Form(max_length=200)] = "",
    redirect_uris: Annotated[str, Form(max_length=20_000)] = "",
    grant_types: Annotated[list[str] | None, Form(max_length=8)] = None,
    scopes: Annotated[list[str] | None, Form(max_length=20)] = None,
    default_acr: Annotated[str, Form(max_length=64)] = "",
    auth_method: Annotated[str, Form(max_length=32)] = "client_secret_basic",
    jwks: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    grants = grant_types or []

    def work() -> Response:
        try:
            if clients.KIOSK_GRANT in grants:
                raise InvalidInput("kiosks are registered with `yiwang kiosk register` (their key pair)")
            made = _run(provider, staff, "client.add", "-", lambda s: clients.create_client(
                s, name=name, redirect_uris=_lines(redirect_uris), grant_types=grants or None, scopes=scopes or None,
                default_acr=_acr(default_acr), auth_method=auth_method, jwks=_jwks(jwks), actor=staff.person_id,
                channel="console"))  # fmt: skip
        except YiwangError as exc:
            values = {"name": name, "redirect_text": redirect_uris, "grant_types": grants, "scopes": scopes or [],
                      "default_acr": default_acr, "auth_method": auth_method, "jwks_text": jwks}  # fmt: skip
            ctx = {**_form_context(values), "error": _refused(request, exc)}
            return guard.page(request, staff, "console_client_new.html", ctx, exc.status)
        context = {"client_id": made.client_id, "secret": made.client_secret, "registered": True}
        return guard.page(request, staff, "console_client_secret.html", context, 201)

    return await run_in_threadpool(work)


@router.get("/{client_id}")
async def client_page(
    request: Request, provider: ProviderDep, client_id: str, staff: Annotated[Staff, Depends(guard.guard(*MANAGERS))]
) -> Response:
    return await run_in_threadpool(_client_page, request, provider, staff, client_id)


@router.post("/{client_id}/edit")
async def edit(
    request: Request,
    provider: ProviderDep,
    client_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True))],
    name: Annotated[str, Form(max_length=200)] = "",
    redirect_uris: Annotated[str, Form(max_length=20_000)] = "",
    grant_types: Annotated[list[str] | None, Form(max_length=8)] = None,
    scopes: Annotated[list[str] | None, Form(max_length=20)] = None,
    default_acr: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    changes = {"name": name, "redirect_uris": _lines(redirect_uris), "grant_types": grant_types or [],
               "scopes": scopes or [], "default_acr": _acr(default_acr)}  # fmt: skip

    def work() -> Response:
        if _detail(provider, client_id) is None:
            return _list_page(request, provider, staff, 404, error=_t(request)["clients_none"])
        try:
            _not_console_client(client_id)
            _run(provider, staff, "client.update", client_id, lambda s: clients.update_client(
                s, client_id, changes, actor=staff.person_id, channel="console"))  # fmt: skip
        except YiwangError as exc:
            return _client_page(request, provider, staff, client_id, exc.status, error=_refused(request, exc))
        provider.clients.forget(client_id)
        return _client_page(request, provider, staff, client_id, notice=_t(request)["clients_saved"])

    return await run_in_threadpool(work)


@router.post("/{client_id}/rotate")
async def rotate(
    request: Request,
    provider: ProviderDep,
    client_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True, fresh=BACK))],
) -> Response:
    def work() -> Response:
        if _detail(provider, client_id) is None:
            return _list_page(request, provider, staff, 404, error=_t(request)["clients_none"])
        try:
            secret = _run(provider, staff, "client.rotate_secret", client_id, lambda s: clients.rotate_secret(
                s, client_id, actor=staff.person_id, channel="console"))  # fmt: skip
        except YiwangError as exc:
            return _client_page(request, provider, staff, client_id, exc.status, error=_refused(request, exc))
        provider.clients.forget(client_id)
        return guard.page(request, staff, "console_client_secret.html", {"client_id": client_id, "secret": secret})

    return await run_in_threadpool(work)


def _switch(request: Request, provider: Provider, staff: Staff, client_id: str, disabled: bool) -> Response:
    if _detail(provider, client_id) is None:
        return _list_page(request, provider, staff, 404, error=_t(request)["clients_none"])
    action = "client.disable" if disabled else "client.enable"
    try:
        _not_console_client(client_id)
        _run(provider, staff, action, client_id, lambda s: clients.set_disabled(
            s, client_id, disabled, actor=staff.person_id, channel="console"))  # fmt: skip
    except YiwangError as exc:
        return _client_page(request, provider, staff, client_id, exc.status, error=_refused(request, exc))
    provider.clients.forget(client_id)
    notice = _t(request)["clients_disabled" if disabled else "clients_enabled"]
    return _client_page(request, provider, staff, client_id, notice=notice)


@router.post("/{client_id}/disable")
async def disable(
    request: Request,
    provider: ProviderDep,
    client_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True))],
) -> Response:
    return await run_in_threadpool(_switch, request, provider, staff, client_id, True)


@router.post("/{client_id}/enable")
async def enable(
    request: Request,
    provider: ProviderDep,
    client_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True))],
) -> Response:
    return await run_in_threadpool(_switch, request, provider, staff, client_id, False)


@router.post("/{client_id}/delete")
async def delete(
    request: Request,
    provider: ProviderDep,
    client_id: str,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True, fresh=BACK))],
) -> Response:
    def work() -> Response:
        if _detail(provider, client_id) is None:
            return _list_page(request, provider, staff, 404, error=_t(request)["clients_none"])
        try:
            _not_console_client(client_id)
            _run(provider, staff, "client.remove", client_id, lambda s: clients.remove_client(
                s, client_id, actor=staff.person_id, channel="console"))  # fmt: skip
        except YiwangError as exc:
            return _client_page(request, provider, staff, client_id, exc.status, error=_refused(request, exc))
        provider.clients.forget(client_id)
        return _list_page(request, provider, staff, notice=_t(request)["clients_deleted"])

    return await run_in_threadpool(work)


@router.post("/kiosks/revoke")
async def revoke_kiosk(
    request: Request,
    provider: ProviderDep,
    staff: Annotated[Staff, Depends(guard.guard(*MANAGERS, post=True, fresh=BACK))],
    client_id: ClientId = "",
) -> Response:
    def work() -> Response:
        try:
            _run(provider, staff, "kiosk.revoke", client_id or "-", lambda s: devices.revoke(
                s, client_id, actor=staff.person_id, channel="console"))  # fmt: skip
        except YiwangError as exc:
            return _list_page(request, provider, staff, exc.status, error=_refused(request, exc))
        return _list_page(request, provider, staff, notice=_t(request)["kiosks_revoked"])

    return await run_in_threadpool(work)
