"""The UserInfo endpoint (OIDC Core §5.3): claims for the token's scopes, as far as consent still holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idp.oauth import acr, consent, subjects, tokens
from idp.oauth.claims import person_claims
from idp.oauth.signer import InvalidToken
from idp.records.models import Person

if TYPE_CHECKING:
    from idp.oauth.provider import OAuthResponse, Provider


def _error(status: int, error: str, description: str) -> OAuthResponse:
    from idp.oauth.provider import OAuthResponse

    challenge = f'Bearer error="{error}", error_description="{description}"'
    return OAuthResponse(status, {"error": error, "error_description": description}, [("WWW-Authenticate", challenge)])


def userinfo(provider: Provider, token: str) -> OAuthResponse:
    from idp.oauth.provider import OAuthResponse

    if not token:
        # RFC 6750 §3.1: a request without any authentication gets the challenge without an error code.
        return OAuthResponse(401, {}, [("WWW-Authenticate", 'Bearer realm="userinfo"')])
    with provider.runtime.transaction() as session:
        try:
            claims = tokens.verify_access_token(provider.signer, session, token, provider.settings.issuer)
        except InvalidToken as exc:
            return _error(401, "invalid_token", str(exc))
        granted = set(str(claims.get("scope", "")).split())
        if "openid" not in granted:
            return _error(403, "insufficient_scope", "the token was not issued with the openid scope")
        client = provider.clients.get(claims["client_id"])
        person_id = subjects.person_for(session, client, claims["sub"]) if client else None
        person = session.get(Person, person_id) if person_id else None
        if client is None or person is None:
            return _error(401, "invalid_token", "the token's subject is unknown")
        granted &= consent.granted_scopes(session, person.id, client.client_id) | {"openid"}
        level = acr.level(str(claims.get("acr", ""))) or 1
        body = {"sub": claims["sub"], **person_claims(session, provider.runtime.protector, person, granted, level)}
    return OAuthResponse(200, body)
