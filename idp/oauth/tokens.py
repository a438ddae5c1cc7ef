"""Access tokens (RFC 9068 JWT profile), ID tokens, and their verification and revocation.

Access tokens are self-contained: issuing one writes nothing. Revocation adds the `jti` to a deny-list
kept until the token would have expired anyway.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth.models import AuthorizationCode, ExchangedToken, RefreshToken, RevokedAccessToken
from idp.oauth.signer import InvalidToken, TokenSigner

AT_TYP = "at+jwt"


@dataclass(frozen=True)
class AuthUser:
    """The authenticated person as Authlib's grants carry it (`request.user`): who, how, when."""

    person_id: str
    acr: str
    amr: tuple[str, ...]
    auth_time: int
    sid: str | None

    def get_user_id(self) -> str:
        return self.person_id


@dataclass(frozen=True)
class AccessToken:
    """A verified access token."""

    client_id: str
    sub: str
    person_id: str | None
    scope: frozenset[str]
    acr: str | None
    auth_time: int | None
    jti: str
    exp: int
    claims: dict[str, Any]


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def access_token_claims(
    *,
    issuer: str,
    client_id: str,
    sub: str,
    scope: str,
    ttl: int,
    aud: str | list[str] | None = None,
    acr: str | None = None,
    amr: list[str] | None = None,
    auth_time: int | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": sub,
        "aud": aud or client_id,
        "exp": now + ttl,
        "iat": now,
        "jti": new_jti(),
        "client_id": client_id,
        "scope": scope,
    }
    if acr:
        claims["acr"] = acr
    if amr:
        claims["amr"] = amr
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if sid:
        claims["sid"] = sid
    return claims


def revoke_jti(session: Session, jti: str, exp: int) -> None:
    """Deny an access token until `exp`, and every token exchanged from it (RFC 8693), however far down."""
    pending = [(jti, exp)]
    while pending:
        current, until = pending.pop()
        if session.get(RevokedAccessToken, current) is None:
            try:
                with session.begin_nested():
                    session.add(RevokedAccessToken(jti=current, expires_at=datetime.fromtimestamp(until, UTC)))
            except IntegrityError:
                pass
        children = session.execute(
            select(ExchangedToken.jti, ExchangedToken.expires_at).where(ExchangedToken.parent_jti == current)
        )
        pending.extend(
            (child, int(expires.timestamp()))
            for child, expires in children
            if session.get(RevokedAccessToken, child) is None
        )


def verify_access_token(
    signer: TokenSigner, session: Session, token: str, issuer: str, *, check_expiry: bool = True
) -> dict[str, Any]:
    """Claims of a valid, unrevoked access token we issued; InvalidToken otherwise."""
    claims = signer.verify(token, typ=AT_TYP)
    if claims.get("iss") != issuer:
        raise InvalidToken("wrong issuer")
    for name in ("sub", "client_id", "jti", "exp", "iat"):
        if name not in claims:
            raise InvalidToken(f"missing {name}")
    if check_expiry and int(claims["exp"]) <= int(time.time()):
        raise InvalidToken("expired")
    if session.scalar(select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == claims["jti"])):
        raise InvalidToken("revoked")
    return claims


def revoke_all_for(session: Session, person_id: str, deny_until: int) -> int:
    """Revoke every refresh token of a person and deny every access token we can still name (those issued
    from an authorization code or a refresh), until `deny_until`. Returns how many tokens were ended."""
    now, count = utcnow(), 0
    for row in session.scalars(select(RefreshToken).where(RefreshToken.person_id == person_id)):
        if row.revoked_at is None:
            row.revoked_at = now
            count += 1
        if row.access_jti:
            revoke_jti(session, row.access_jti, deny_until)
    for jti in session.scalars(
        select(AuthorizationCode.issued_jti).where(
            AuthorizationCode.person_id == person_id, AuthorizationCode.issued_jti.is_not(None)
        )
    ):
        revoke_jti(session, str(jti), deny_until)
        count += 1
    return count
