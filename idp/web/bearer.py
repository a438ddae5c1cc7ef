"""Protecting our own APIs with our access tokens (RFC 6750): a FastAPI dependency per required scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from idp.errors import YiwangError
from idp.oauth import sender, subjects, tokens
from idp.oauth.provider import Provider
from idp.oauth.signer import InvalidToken
from idp.oauth.tokens import AccessToken
from idp.web.deps import get_provider

__all__ = ["AccessToken", "BearerError", "require_token"]


class BearerError(YiwangError):
    """RFC 6750 §3: 401 invalid_token / 403 insufficient_scope, with a WWW-Authenticate challenge."""

    def __init__(
        self, status: int, error: str, detail: str, challenge: str | None = None, extra: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.error = status, error.replace("_", "-"), error, error
        self._challenge, self.extra_headers = challenge, extra or {}

    @property
    def challenge(self) -> str:
        return self._challenge or f'Bearer error="{self.error}", error_description="{self.detail}"'


def _verify(provider: Provider, token: str, scope: str) -> AccessToken:
    with provider.runtime.transaction() as session:
        try:
            claims = tokens.verify_access_token(provider.signer, session, token, provider.settings.issuer)
        except InvalidToken as exc:
            raise BearerError(401, "invalid_token", f"the access token is not valid: {exc}") from None
        granted = frozenset(str(claims.get("scope", "")).split())
        if scope and scope not in granted:
            raise BearerError(403, "insufficient_scope", f"the token lacks the scope {scope!r}")
        client = provider.clients.get(claims["client_id"])
        person_id = None
        if client is not None and claims["sub"] != claims["client_id"]:
            person_id = subjects.person_for(session, client, claims["sub"])
    return AccessToken(
        client_id=claims["client_id"],
        sub=claims["sub"],
        person_id=person_id,
        scope=granted,
        acr=claims.get("acr"),
        auth_time=claims.get("auth_time"),
        jti=claims["jti"],
        exp=int(claims["exp"]),
        claims=claims,
    )


def require_token(scope: str = "") -> Callable[..., Any]:
    """`Depends(require_token("seal"))`: the verified access token, or a 401/403 with a Bearer challenge."""

    async def dependency(request: Request, provider: Provider = Depends(get_provider)) -> AccessToken:
        header = request.headers.get("authorization", "")
        kind, _, value = header.partition(" ")
        if kind.lower() not in ("bearer", "dpop") or not value.strip():
            # RFC 6750 §3.1: no credentials at all → a challenge without an error code (the body still says why).
            raise BearerError(
                401, "invalid_token", "a bearer access token is required", challenge=sender.ANONYMOUS_CHALLENGE
            )
        # RFC 9449 §7: a DPoP-bound token only with the DPoP scheme and a proof of its key.
        url = provider.settings.issuer + request.url.path
        try:
            token = await run_in_threadpool(
                sender.presented_token, provider, header, request.headers, request.method, url
            )
        except sender.TokenRefused as exc:
            extra = dict(exc.headers[1:])
            raise BearerError(exc.status, exc.error, exc.description, exc.challenge, extra) from None
        return await run_in_threadpool(_verify, provider, token, scope)

    return dependency
