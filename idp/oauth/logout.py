"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout tokens
(OpenID Connect Back-Channel Logout 1.0 §2.4)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

from idp.logs import get_logger
from idp.oauth.signer import InvalidToken
from idp.oauth.tokens import new_jti

if TYPE_CHECKING:
    from idp.oauth.provider import Provider

EVENT = "http://schemas.openid.net/event/backchannel-logout"
log = get_logger("yiwang.logout")


def id_token_hint_claims(provider: Provider, hint: str) -> dict[str, Any] | None:
    """The claims of an ID token we issued (expired is fine: it only names the session and the client)."""
    try:
        # typ JWT: our ID tokens' type; an access token (at+jwt) or a logout token of ours is no hint.
        claims = provider.signer.verify(hint, typ="JWT")
    except InvalidToken:
        return None
    if claims.get("iss") != provider.settings.issuer or "sub" not in claims:
        return None
    return claims


def logout_token(provider: Provider, client_id: str, sub: str, sid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": provider.settings.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": new_jti(),
        "sub": sub,
        "sid": sid,
        "events": {EVENT: {}},
    }
    return provider.signer.sign(claims, typ="logout+jwt")


async def notify(targets: list[tuple[str, str]]) -> None:
    """POST each logout token to its client; bounded time, failures logged, never retried forever."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        for uri, token in targets:
            try:
                response = await client.post(uri, data={"logout_token": token})
                log.info("back-channel logout", uri=uri, status=response.status_code)
            except httpx.HTTPError as exc:
                log.warning("back-channel logout failed", uri=uri, error=type(exc).__name__)
