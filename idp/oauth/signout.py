"""Ending SSO sessions and what hangs off them: the tokens issued under a session, and the back-channel logout
tokens its clients are owed (OpenID Connect Back-Channel Logout 1.0 §2.5). One way for `/logout`, the account
centre's "sign this device out" and closing an account."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth import logout, sessions, tokens
from idp.oauth.models import AuthorizationCode, LoginSession, RefreshToken, SessionClient

if TYPE_CHECKING:
    from idp.oauth.provider import Provider

Targets = list[tuple[str, str]]
"""(back-channel logout URI, logout token) pairs, to send once the transaction has committed (`logout.notify`)."""


def targets(provider: Provider, session: Session, person_id: str, sid: str, client_ids: list[str]) -> Targets:
    """Logout tokens for the clients of one session that registered a back-channel logout URI."""
    found: Targets = []
    for client_id in client_ids:
        client = provider.clients.get(client_id)
        if client is not None and client.backchannel_logout_uri:
            sub = provider.subject_of(client, person_id, session=session)
            found.append((client.backchannel_logout_uri, logout.logout_token(provider, client_id, sub, sid)))
    return found


def deny_until(provider: Provider) -> int:
    """How long a denied access token must stay on the deny-list: until any issued now has expired."""
    return int(time.time()) + provider.settings.access_token_ttl


def revoke_session_tokens(session: Session, sid: str, until: int) -> int:
    """Revoke the refresh tokens issued under one SSO session and deny the access tokens we can name."""
    count = 0
    now = utcnow()
    for row in session.scalars(select(RefreshToken).where(RefreshToken.sid == sid)):
        if row.revoked_at is None:
            row.revoked_at = now
            count += 1
        if row.access_jti:
            tokens.revoke_jti(session, row.access_jti, until)
    for jti in session.scalars(
        select(AuthorizationCode.issued_jti).where(
            AuthorizationCode.sid == sid, AuthorizationCode.issued_jti.is_not(None)
        )
    ):
        tokens.revoke_jti(session, str(jti), until)
        count += 1
    return count


def end_one(provider: Provider, session: Session, row: LoginSession) -> Targets:
    """End one session and revoke its tokens; returns the logout tokens its clients are owed."""
    client_ids = sessions.end(session, row)
    revoke_session_tokens(session, row.sid, deny_until(provider))
    return targets(provider, session, row.person_id, row.sid, client_ids)


def end_all(provider: Provider, session: Session, person_id: str) -> Targets:
    """End every live session of a person and revoke all their tokens (closing the account, "sign out all")."""
    found: Targets = []
    for sid in sessions.end_all_for(session, person_id):
        client_ids = list(session.scalars(select(SessionClient.client_id).where(SessionClient.sid == sid)))
        found += targets(provider, session, person_id, sid, client_ids)
    tokens.revoke_all_for(session, person_id, deny_until(provider))
    return found
