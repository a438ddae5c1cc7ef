"""Tables of the OAuth 2.0 / OpenID Connect provider.

Secrets, codes and refresh tokens are stored only as SHA-256 hashes: they are random with ≥256 bits of
entropy, so a fast hash suffices and a database leak yields nothing usable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, new_id, utcnow


class OAuthClient(Base):
    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_method: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sector: Mapped[str | None] = mapped_column(String(255))
    subject_type: Mapped[str] = mapped_column(String(16), default="pairwise")
    default_acr: Mapped[str | None] = mapped_column(String(64))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(1000))
    # A kiosk or other screen many people use: no lasting SSO session, an idle timeout (idp.oauth.device).
    shared_device: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # CIBA (idp/oauth/ciba.py): poll or ping, and where a ping goes.
    backchannel_token_delivery_mode: Mapped[str | None] = mapped_column(String(8))
    backchannel_client_notification_endpoint: Mapped[str | None] = mapped_column(String(1000))
    # Token exchange (idp/oauth/exchange.py): the audiences and scopes this client may exchange a token for.
    exchange_audiences: Mapped[list[str]] = mapped_column(JSON, default=list)
    exchange_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # RFC 9126 §6: the client may pass authorization requests only by PAR.
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # RFC 9449 §5.2: the client always uses DPoP; token requests without a proof are refused.
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set while an operator has disabled the client: every endpoint treats it as unknown (clients.ClientCache).
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthorizationCode(Base):
    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[int] = mapped_column(Integer)
    sid: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the code was exchanged for, so that a replayed code can revoke it (RFC 6749 §4.1.2).
    issued_jti: Mapped[str | None] = mapped_column(String(64))
    issued_family: Mapped[str | None] = mapped_column(String(64))
    # RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (dpop_jkt, or a proof at PAR).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """One link of a rotation family. Presenting a used link revokes the whole family."""

    __tablename__ = "oauth_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[int] = mapped_column(Integer)
    sid: Mapped[str | None] = mapped_column(String(64))
    access_jti: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # RFC 9449 §5: a public client's refresh token is bound to its DPoP key (thumbprint).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))


class RevokedAccessToken(Base):
    """JWT access tokens are self-contained; revocation is a deny-list kept until the token expires."""

    __tablename__ = "oauth_revoked_jtis"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ExchangedToken(Base):
    """An access token issued by token exchange (RFC 8693) and the token it came from, so that revoking a token
    also revokes every token exchanged from it, along the whole chain."""

    __tablename__ = "oauth_exchanged_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_jti: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UsedAssertion(Base):
    """private_key_jwt assertions seen, remembered until they expire (replay protection, RFC 7523 §3)."""

    __tablename__ = "oauth_used_assertions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Consent(Base):
    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_oauth_consents_person_client"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginSession(Base):
    """The SSO session behind the session cookie (the cookie holds a random id, stored here hashed)."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SessionClient(Base):
    """Which clients a session signed in to: the audience of back-channel logout."""

    __tablename__ = "login_session_clients"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), primary_key=True)


class PairwiseSubject(Base):
    """sub → person, per sector, so userinfo and introspection can resolve a pairwise sub."""

    __tablename__ = "pairwise_subjects"

    sector: Mapped[str] = mapped_column(String(255), primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)


class AuthFlow(Base):
    """A pending authorization request while the person logs in and consents (shared by all workers)."""

    __tablename__ = "auth_flows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    params: Mapped[dict[str, str]] = mapped_column(JSON)
    client_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str | None] = mapped_column(String(36))
    otp_id: Mapped[str | None] = mapped_column(String(36))
    pending_factors: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OtpChallenge(Base):
    __tablename__ = "otp_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    phone_bidx: Mapped[str] = mapped_column(String(64), index=True)
    phone_ct: Mapped[bytes] = mapped_column(LargeBinary)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Lockout(Base):
    """Failed-verification lockout with exponential backoff, by a keyed subject (phone index)."""

    __tablename__ = "lockouts"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateCounter(Base):
    """Fixed-window counters for rate limits when Redis is not configured."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TotpFactor(Base):
    __tablename__ = "totp_factors"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    secret_ct: Mapped[bytes] = mapped_column(LargeBinary)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_counter: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TotpPending(Base):
    """A TOTP secret being enrolled: it replaces nothing until the person proves it with a correct code."""

    __tablename__ = "totp_pending"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    secret_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TotpRecoveryCode(Base):
    """A one-time recovery code for the TOTP step, stored only as a keyed hash (see `idp.oauth.recovery`)."""

    __tablename__ = "totp_recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Pushed authorization requests (RFC 9126) and DPoP (RFC 9449) --------------------------------------------


class PushedRequest(Base):
    """An authorization request pushed to /par, until its request_uri is used once or expires."""

    __tablename__ = "oauth_pushed_requests"

    # SHA-256 of the random part of the request_uri: a database leak names no usable request_uri.
    ref_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    params: Mapped[dict[str, str]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DPoPProofSeen(Base):
    """DPoP proofs seen (by target URI and jti), kept while they could still be accepted (RFC 9449 §11.1)."""

    __tablename__ = "oauth_dpop_proofs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
