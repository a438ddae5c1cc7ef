"""The app's side of signing's routes (`signing.web.host.WebHost`): the signing context per runtime, access
tokens, the SSO session, client names, pages and CSRF, all from the identity provider."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from idp.errors import NotFound
from idp.oauth import clients, sessions
from idp.signing_wiring import open_signing
from idp.web.bearer import require_token
from idp.web.browser import check_csrf, csrf_token, ensure_browser, set_browser
from idp.web.deps import get_provider, get_runtime
from idp.web.pages import render
from signing.context import SigningContext
from signing.web.host import Caller, Login


class IdpSigningHost:
    def signing(self, request: Request) -> SigningContext:
        """Built on first use for the current runtime (keys unsealed once, see `signing.context`)."""
        runtime = get_runtime(request)
        state = request.app.state
        built: tuple[Any, SigningContext] | None = getattr(state, "signing", None)
        if built is None or built[0] is not runtime:
            with state.runtime_lock:
                built = getattr(state, "signing", None)
                if built is None or built[0] is not runtime:
                    built = (runtime, open_signing(runtime))
                    state.signing = built
        return built[1]

    async def caller(self, request: Request, scope: str) -> Caller:
        token = await require_token(scope)(request, get_provider(request))
        return Caller(client_id=token.client_id, person_id=token.person_id, acr=token.acr, auth_time=token.auth_time)

    def login(self, request: Request, session: Session) -> Login | None:
        user = sessions.load(session, request.cookies.get(sessions.COOKIE))
        return None if user is None else Login(person_id=user.person_id, acr=user.acr, auth_time=user.auth_time)

    def client_name(self, session: Session, client_id: str) -> str:
        try:
            return clients.get_row(session, client_id).name
        except NotFound:
            return client_id

    def render(self, request: Request, template: str, context: dict[str, Any]) -> Response:
        return render(request, template, context)

    def csrf_token(self, request: Request, purpose: str, context: str) -> str:
        return csrf_token(get_runtime(request).protector, purpose, context, ensure_browser(request))

    def check_csrf(self, request: Request, submitted: str, purpose: str, context: str) -> None:
        check_csrf(get_runtime(request).protector, request, submitted, purpose, context)

    def finish(self, request: Request, response: Response) -> Response:
        return set_browser(request, response, get_runtime(request).settings.issuer.startswith("https"))
