"""How an access token is presented to our resources: `Bearer` (RFC 6750 §2.1) or `DPoP` with a proof
(RFC 9449 §7). A DPoP-bound token (`cnf.jkt`) is accepted only under the DPoP scheme with a proof of its key
and `ath` (§7.1); presented as a bearer token it is refused (§7.2: no downgrade).

`presented_token` runs before the caller's own transaction opens: a proof's jti is remembered in a write of
its own, and it must not wait on (or hold) the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idp.oauth import dpop, tokens
from idp.oauth.signer import InvalidToken

if TYPE_CHECKING:
    from idp.oauth.issuing import Issuer


# RFC 6750 §3.1: a request without credentials (or with a scheme we don't take) gets no error code.
ANONYMOUS_CHALLENGE = 'Bearer realm="yiwang"'


@dataclass
class TokenRefused(Exception):
    status: int
    error: str
    description: str
    scheme: str  # the challenge to answer with: "bearer", "dpop", or "anonymous" (no credentials came)
    nonce: str | None = None

    @property
    def challenge(self) -> str:
        if self.scheme == "dpop":
            return dpop.challenge(self.error, self.description)
        if self.scheme == "anonymous":
            return ANONYMOUS_CHALLENGE
        return 'Bearer error="{}", error_description="{}"'.format(self.error, self.description.replace('"', "'"))

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = [("WWW-Authenticate", self.challenge)]
        if self.nonce:
            headers.append((dpop.NONCE_HEADER, self.nonce))
        return headers


def presented_token(provider: Issuer, authorization: str, headers: Any, method: str, url: str) -> str:
    """The access token from `authorization`, its sender checked; TokenRefused otherwise. The token's own
    checks (expiry, revocation, scope) remain the caller's."""
    scheme, _, value = authorization.partition(" ")
    scheme, token = scheme.lower(), value.strip()
    if scheme not in ("bearer", "dpop") or not token:
        raise TokenRefused(401, "invalid_token", "an access token is required", "anonymous")
    try:
        claims = provider.signer.verify(token, typ=tokens.AT_TYP)
    except InvalidToken as exc:
        raise TokenRefused(401, "invalid_token", f"the access token is not valid: {exc}", scheme) from None
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if scheme == "bearer":
        if jkt is not None:
            raise TokenRefused(401, "invalid_token", "a DPoP-bound access token needs the DPoP scheme", "dpop")
        return token
    if jkt is None:
        raise TokenRefused(401, "invalid_token", "the access token is not DPoP-bound", "dpop")
    settings = provider.settings
    try:
        provider.dpop.check(
            headers,
            method,
            url,
            access_token=token,
            bound_jkt=str(jkt),
            require_nonce=settings.dpop_nonce_at_resources,
        )
    except dpop.NonceRequired as exc:
        raise TokenRefused(401, exc.error, str(exc), "dpop", provider.dpop.nonces.current()) from None
    except dpop.DPoPError as exc:
        raise TokenRefused(401, exc.error, str(exc), "dpop") from None
    return token
