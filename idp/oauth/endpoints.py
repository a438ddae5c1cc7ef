"""Revocation (RFC 7009) and introspection (RFC 7662) over our two token kinds: JWT access tokens and
opaque refresh tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.oauth import tokens
from idp.oauth.grants import ALL_AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS, token_hash
from idp.oauth.issuing import Issuer
from idp.oauth.models import RefreshToken
from idp.oauth.signer import InvalidToken


@dataclass(frozen=True)
class FoundToken:
    kind: str  # access_token | refresh_token
    client_id: str
    claims: dict[str, Any]
    expired: bool
    revoked: bool
    family_id: str | None = None

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def is_expired(self) -> bool:
        return self.expired

    def is_revoked(self) -> bool:
        return self.revoked


def find_token(provider: Issuer, token_string: str, hint: str | None) -> FoundToken | None:
    """The token, whatever the hint says: RFC 7009 §2.1 and RFC 7662 §2.1 have the server extend its search
    to every token type when the hint is wrong, and the two kinds tell themselves apart (a JWT has two dots,
    an opaque refresh token none)."""
    if token_string.count(".") == 2:
        try:
            with provider.runtime.transaction() as session:
                claims = tokens.verify_access_token(
                    provider.signer, session, token_string, provider.settings.issuer, check_expiry=False
                )
        except InvalidToken as exc:
            revoked = str(exc) == "revoked"
            if not revoked:
                return None
            claims = provider.signer.verify(token_string, typ=tokens.AT_TYP)
            return FoundToken("access_token", claims["client_id"], claims, False, True)
        return FoundToken("access_token", claims["client_id"], claims, int(claims["exp"]) <= time.time(), False)
    with provider.runtime.transaction() as session:
        row = session.get(RefreshToken, token_hash(token_string))
        if row is None:
            return None
        claims = {
            "scope": row.scope,
            "client_id": row.client_id,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()),
            "acr": row.acr,
            "auth_time": row.auth_time,
            "person_id": row.person_id,
        }
        return FoundToken(
            "refresh_token",
            row.client_id,
            claims,
            row.expires_at.timestamp() <= time.time(),
            row.revoked_at is not None or row.used_at is not None,
            row.family_id,
        )


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> FoundToken | None:
        return find_token(self.server.provider, token_string, token_type_hint)

    def revoke_token(self, token: FoundToken, request: Any) -> None:
        provider: Issuer = self.server.provider
        with provider.runtime.transaction() as session:
            if token.kind == "refresh_token" and token.family_id:
                provider.revoke_family(session, token.family_id)
            else:
                tokens.revoke_jti(session, token.claims["jti"], int(token.claims["exp"]))


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> FoundToken | None:
        return find_token(self.server.provider, token_string, token_type_hint)

    def check_permission(self, token: FoundToken, client: Any, request: Any) -> bool:
        """The client the token was issued to, or a resource server named in its audience."""
        aud = token.claims.get("aud", [])
        audiences = [aud] if isinstance(aud, str) else list(aud)
        return token.client_id == client.client_id or client.client_id in audiences

    def introspect_token(self, token: FoundToken) -> dict[str, Any]:
        provider: Issuer = self.server.provider
        claims = {k: v for k, v in token.claims.items() if k != "person_id"}
        if token.kind == "refresh_token":
            client = provider.clients.get(token.client_id)
            if client is not None:
                with provider.runtime.transaction() as session:
                    claims["sub"] = provider.subject_of(client, token.claims["person_id"], session=session)
        claims.update({"active": True, "token_type": "Bearer" if token.kind == "access_token" else token.kind})
        if token.kind == "access_token" and isinstance(claims.get("cnf"), dict) and "jkt" in claims["cnf"]:
            claims["token_type"] = "DPoP"  # RFC 9449 §6.2: the binding, as `cnf.jkt` (already among the claims)
        claims.setdefault("iss", provider.settings.issuer)
        return claims
