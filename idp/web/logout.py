"""The end-session endpoint: confirm, end the SSO session, tell the clients, go back only where allowed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from idp import audit
from idp.oauth import id_token_hint, logout, sessions, signout
from idp.oauth.provider import Provider
from idp.oauth.responses import add_params
from idp.web.authorize import error_page
from idp.web.browser import check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_provider
from idp.web.pages import render

router = APIRouter(tags=["logout"])
ProviderDep = Annotated[Provider, Depends(get_provider)]


def _target(provider: Provider, params: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(client_id, verified post-logout URI or None, error) from the request parameters."""
    hint = params.get("id_token_hint")
    claims = id_token_hint.claims(provider, hint) if hint else None
    if hint and claims is None:
        return None, None, "id_token_hint is not an ID token issued here"
    client_id = params.get("client_id") or None
    if claims is not None:
        hinted = id_token_hint.audience(claims)[0]
        if client_id and client_id != hinted:
            return None, None, "client_id does not match the id_token_hint"
        client_id = hinted
    uri = params.get("post_logout_redirect_uri")
    if uri:
        client = provider.clients.get(client_id) if client_id else None
        if client is None or uri not in client.post_logout_redirect_uris:
            return client_id, None, "post_logout_redirect_uri is not registered for this application"
    return client_id, uri, None


def _end(request: Request, provider: Provider, uri: str | None, state: str | None) -> Response:
    targets: signout.Targets = []
    with provider.runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        if login is not None:
            targets = signout.targets(provider, session, login.person_id, login.sid, sessions.end(session, login))
            audit.record(
                session,
                audit.Event(
                    action="logout",
                    subject=login.person_id,
                    actor=login.person_id,
                    channel="web",
                    detail={"notified": len(targets)},
                ),
            )
    task = BackgroundTask(logout.notify, targets) if targets else None
    if uri:
        response: Response = RedirectResponse(add_params(uri, {"state": state}) if state else uri, 303)
        response.background = task
    else:
        response = render(request, "logged_out.html", {"signed_in": False})
        response.background = task
    response.delete_cookie(sessions.COOKIE)
    return response


def _rp_request(request: Request, provider: Provider, params: dict[str, str]) -> Response:
    """A relying party's logout request (RP-Initiated Logout §2), by GET or POST alike."""
    client_id, uri, error = _target(provider, params)
    if error:
        return error_page(request, error)
    # An RP that proves which session it means (id_token_hint with the current sid) needs no confirmation.
    hint_claims = (
        id_token_hint.claims(provider, params.get("id_token_hint", "")) if params.get("id_token_hint") else None
    )
    with provider.runtime.transaction() as session:
        login = sessions.load(session, request.cookies.get(sessions.COOKIE))
        current_sid = login.sid if login else None
    if hint_claims is not None and current_sid and hint_claims.get("sid") == current_sid:
        return _end(request, provider, uri, params.get("state"))
    browser = ensure_browser(request)
    csrf = csrf_token(provider.runtime.protector, "logout", "-", browser)
    page = render(
        request,
        "logout.html",
        {
            "csrf": csrf,
            "client_id": client_id or "",
            "uri": uri or "",
            "state": params.get("state", ""),
        },
    )
    return set_browser(request, page, provider.settings.issuer.startswith("https"))


@router.get("/logout")
async def logout_page(request: Request, provider: ProviderDep) -> Response:
    params = dict(request.query_params)
    return await run_in_threadpool(_rp_request, request, provider, params)


# The confirmation form's fields and their longest accepted values.
_CONFIRMATION = {"csrf": 128, "client_id": 64, "uri": 1000, "state": 500}


@router.post("/logout")
async def logout_submit(request: Request, provider: ProviderDep) -> Response:
    """Either the person's confirmation (our form: CSRF-checked) or a relying party's POST (treated as its GET).

    RP-Initiated Logout §2 has the OP support POST as well as GET; a relying party's form carries
    `id_token_hint`, `post_logout_redirect_uri`, `state`..., never our `csrf` field, so that field tells the two
    apart. Only the confirmation ends a session without a matching id_token_hint, and it needs the CSRF token.
    """
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}

    def work() -> Response:
        if "csrf" not in fields:
            return _rp_request(request, provider, fields)
        if any(len(fields.get(name, "")) > limit for name, limit in _CONFIRMATION.items()):
            return error_page(request, "the logout form is not valid")
        check_csrf(provider.runtime.protector, request, fields["csrf"], "logout", "-")
        # Re-check the target: the form's hidden fields are the client's word, not ours.
        _, verified, error = _target(
            provider, {"client_id": fields.get("client_id", ""), "post_logout_redirect_uri": fields.get("uri", "")}
        )
        if error:
            return error_page(request, error)
        return _end(request, provider, verified, fields.get("state") or None)

    return await run_in_threadpool(work)
