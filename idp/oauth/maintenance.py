"""Removing what has expired: codes, flows, revocation entries, exchange lineage, used assertions, OTP challenges,
sessions, CIBA requests and device grants, kept signed copies, rate counters. Safe to run at any time, on any node
(cron or `yiwang db purge`)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from idp.db import utcnow
from idp.oauth.ciba_models import CibaRequest
from idp.oauth.device_models import DeviceGrant
from idp.oauth.models import (
    AuthFlow,
    AuthorizationCode,
    DPoPProofSeen,
    ExchangedToken,
    LoginSession,
    OtpChallenge,
    PushedRequest,
    RateCounter,
    RefreshToken,
    RevokedAccessToken,
    UsedAssertion,
)
from signing.models import SignedCopy


def purge(session: Session) -> dict[str, int]:
    now = utcnow()
    day_ago = now - timedelta(days=1)
    statements = {
        "codes": delete(AuthorizationCode).where(AuthorizationCode.expires_at < now),
        "flows": delete(AuthFlow).where(AuthFlow.expires_at < now),
        "revoked_jtis": delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now),
        "exchanged_tokens": delete(ExchangedToken).where(ExchangedToken.expires_at < now),
        "used_assertions": delete(UsedAssertion).where(UsedAssertion.expires_at < now),
        "otp_challenges": delete(OtpChallenge).where(OtpChallenge.expires_at < day_ago),
        "sessions": delete(LoginSession).where(LoginSession.expires_at < day_ago),
        "refresh_tokens": delete(RefreshToken).where(RefreshToken.expires_at < now),
        "pushed_requests": delete(PushedRequest).where(PushedRequest.expires_at < now),
        "dpop_proofs": delete(DPoPProofSeen).where(DPoPProofSeen.expires_at < now),
        # A day's grace: a late poll still hears `expired_token` rather than `invalid_grant`.
        "ciba_requests": delete(CibaRequest).where(CibaRequest.expires_at < day_ago),
        "device_grants": delete(DeviceGrant).where(DeviceGrant.expires_at < day_ago),
        "signed_copies": delete(SignedCopy).where(SignedCopy.kept_until < now),
        "rate_counters": delete(RateCounter).where(RateCounter.window_start < int(time.time()) - 2 * 86400),
    }
    return {name: int(getattr(session.execute(stmt), "rowcount", 0) or 0) for name, stmt in statements.items()}
