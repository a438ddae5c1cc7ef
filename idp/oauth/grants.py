"""Authlib grants with our storage: authorization code (+PKCE S256, +OpenID), refresh token (rotation with
reuse detection), client credentials. Each grant's storage hooks are small; the protocol is Authlib's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from sqlalchemy import update

from idp import audit
from idp.db import utcnow
from idp.oauth import tokens
from idp.oauth.issuing import Issuer
from idp.oauth.models import AuthorizationCode, RefreshToken

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def unverified_claims(jwt_text: str) -> dict[str, Any]:
    """Claims of a JWT *we just signed* (to learn its jti and exp without re-verifying)."""
    payload = jwt_text.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@dataclass(frozen=True)
class CodeRecord:
    """An authorization code, claimed for exchange (Authlib's AuthorizationCodeMixin)."""

    code_hash: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    user: tokens.AuthUser

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.user.auth_time

    def get_acr(self) -> str:
        return self.user.acr

    def get_amr(self) -> list[str]:
        return list(self.user.amr)


@dataclass(frozen=True)
class RefreshRecord:
    token_hash: str
    family_id: str
    client_id: str
    scope: str
    user: tokens.AuthUser
    expires_at: float

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False


class _ProviderGrant:
    server: Any

    @property
    def provider(self) -> Issuer:
        return self.server.provider  # type: ignore[no-any-return]


class AuthorizationCodeGrant(_ProviderGrant, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43

    def generate_token(
        self,
        user: Any = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """OIDC Core §11: a refresh token outlives the sign-in session, so an OpenID request gets one only with
        the `offline_access` scope the person consented to (plain OAuth requests: as the client is registered)."""
        granted = set((scope or "").split())
        if "openid" in granted and "offline_access" not in granted:
            include_refresh_token = False
        token: dict[str, Any] = super().generate_token(user, scope, grant_type, expires_in, include_refresh_token)
        return token

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: tokens.AuthUser = request.user
        data = request.payload.data
        p = self.provider
        with p.unit(request) as session:
            session.add(
                AuthorizationCode(
                    code_hash=token_hash(code),
                    client_id=request.client.client_id,
                    person_id=user.person_id,
                    redirect_uri=data.get("redirect_uri"),
                    scope=request.client.get_allowed_scope(data.get("scope", "")),
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    acr=user.acr,
                    amr=list(user.amr),
                    auth_time=user.auth_time,
                    sid=user.sid or "",
                    expires_at=utcnow() + timedelta(seconds=p.settings.code_ttl),
                    dpop_jkt=data.get("dpop_jkt"),
                )
            )

    def query_authorization_code(self, code: str, client: Any) -> CodeRecord | None:
        p = self.provider
        digest = token_hash(code)
        with p.unit(self.request) as session:
            row = session.get(AuthorizationCode, digest)
            if row is None or row.client_id != client.client_id:
                return None
            if row.used_at is not None:
                # RFC 6749 §4.1.2: a code used twice is stolen; revoke what it was exchanged for.
                p.revoke_issued(session, jti=row.issued_jti, family=row.issued_family)
                audit.record(
                    session,
                    audit.Event(
                        action="oauth.code_replay",
                        subject=row.person_id,
                        outcome="refused",
                        channel="oauth",
                        client=row.client_id,
                    ),
                )
                return None
            if row.expires_at <= utcnow():
                return None
            check_dpop_binding(self.request, row.dpop_jkt, "authorization code")
            # Claim it atomically: of two concurrent exchanges only one may proceed.
            claimed = session.execute(
                update(AuthorizationCode)
                .where(AuthorizationCode.code_hash == digest, AuthorizationCode.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            user = tokens.AuthUser(row.person_id, row.acr, tuple(row.amr), row.auth_time, row.sid or None)
            return CodeRecord(
                digest,
                row.client_id,
                row.redirect_uri,
                row.scope,
                row.nonce,
                row.code_challenge,
                row.code_challenge_method,
                user,
            )

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Kept (marked used) until it expires, so that a replay is recognised and answered."""

    def authenticate_user(self, authorization_code: CodeRecord) -> tokens.AuthUser:
        return authorization_code.user


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE (RFC 7636), S256 only; required for public clients. A verifier without a challenge is refused
    by Authlib (RFC 9700 §4.8)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        request = grant.request
        challenge = request.payload.data.get("code_challenge")
        method = request.payload.data.get("code_challenge_method")
        if request.client.is_public and not challenge:
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDCodeExtension(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: Issuer) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False

    def generate_user_info(self, user: tokens.AuthUser, scope: str) -> dict[str, Any]:
        return {}

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        """OIDC Core §2: the ID token, signed with our preloaded key (never re-parsed per request)."""
        p = self.provider
        code: CodeRecord = request.authorization_code
        user = code.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": p.settings.issuer,
            "sub": p.subject_of(request.client, user.person_id),
            "aud": request.client.client_id,
            "exp": now + p.settings.id_token_ttl,
            "iat": now,
            "auth_time": user.auth_time,
            "acr": user.acr,
            "amr": list(user.amr),
        }
        if user.sid:
            claims["sid"] = user.sid
        if code.nonce:
            claims["nonce"] = code.nonce
        access_token = token.get("access_token")
        if access_token:
            claims["at_hash"] = create_half_hash(access_token, p.signer.alg).decode()
        return p.signer.sign(claims)


class RefreshTokenGrant(_ProviderGrant, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        p = self.provider
        digest = token_hash(refresh_token)
        with p.unit(self.request) as session:
            row = session.get(RefreshToken, digest)
            if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
                return None
            # Judge the request before claiming the token: a wrong client or a wider scope must not use up
            # (and so later revoke, as a replay) the owner's refresh token (RFC 6749 §6, RFC 9700 §4.14).
            client = self.request.client
            if client is None or client.client_id != row.client_id:
                return None
            asked = set(str(self.request.payload.scope or "").split())
            if asked and not asked <= set(row.scope.split()):
                raise InvalidScopeError()
            check_dpop_binding(self.request, row.dpop_jkt, "refresh token")
            claimed = session.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == digest, RefreshToken.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                # Reuse of a rotated token: whoever holds the family is not to be trusted (RFC 9700 §4.14).
                p.revoke_family(session, row.family_id)
                audit.record(
                    session,
                    audit.Event(
                        action="oauth.refresh_reuse",
                        subject=row.person_id,
                        outcome="refused",
                        channel="oauth",
                        client=row.client_id,
                    ),
                )
                return None
            user = tokens.AuthUser(row.person_id, row.acr, tuple(row.amr), row.auth_time, row.sid)
            return RefreshRecord(digest, row.family_id, row.client_id, row.scope, user, row.expires_at.timestamp())

    def authenticate_user(self, refresh_token: RefreshRecord) -> tokens.AuthUser:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
        """Already marked used when it was claimed."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        check_dpop_binding(self.request, None, "client")


def check_dpop_binding(request: Any, bound_jkt: str | None, what: str) -> None:
    """RFC 9449: a client registered with dpop_bound_access_tokens must send a proof (§5.2); a code bound by
    dpop_jkt (§10) or a public client's bound refresh token (§5) only with a proof of that key. Judged before
    the code or token is claimed, so a refusal uses nothing up."""
    proof = getattr(request, "dpop", None)
    client = request.client
    if proof is None and client is not None and getattr(client, "dpop_bound_access_tokens", False):
        raise InvalidRequestError("this client must send a DPoP proof with every token request")
    if bound_jkt is not None and (proof is None or proof.jkt != bound_jkt):
        raise InvalidGrantError(f"the {what} is bound to another DPoP key")


def new_family_id() -> str:
    return secrets.token_urlsafe(16)


def refresh_row(
    token: str,
    family_id: str,
    client_id: str,
    user: tokens.AuthUser,
    scope: str,
    ttl: int,
    access_jti: str | None,
    dpop_jkt: str | None = None,
) -> RefreshToken:
    return RefreshToken(
        token_hash=token_hash(token),
        family_id=family_id,
        client_id=client_id,
        person_id=user.person_id,
        scope=scope,
        acr=user.acr,
        amr=list(user.amr),
        auth_time=user.auth_time,
        sid=user.sid,
        access_jti=access_jti,
        expires_at=utcnow() + timedelta(seconds=ttl),
        dpop_jkt=dpop_jkt,
    )
