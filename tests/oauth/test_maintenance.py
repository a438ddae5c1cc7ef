"""`db purge` removes what expired and keeps what is still live."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from idp.db import utcnow
from idp.oauth.maintenance import purge
from idp.oauth.models import AuthFlow, ExchangedToken, RevokedAccessToken
from idp.runtime import Runtime


def test_purge_removes_only_expired_rows(rt: Runtime) -> None:
    now = utcnow()
    with rt.transaction() as session:
        session.add(AuthFlow(id="old", params={}, client_id="c", expires_at=now - timedelta(minutes=1)))
        session.add(AuthFlow(id="live", params={}, client_id="c", expires_at=now + timedelta(minutes=5)))
        session.add(RevokedAccessToken(jti="gone", expires_at=now - timedelta(seconds=1)))
        session.add(RevokedAccessToken(jti="kept", expires_at=now + timedelta(minutes=5)))
        session.add(ExchangedToken(jti="old-child", parent_jti="p", expires_at=now - timedelta(seconds=1)))
        session.add(ExchangedToken(jti="live-child", parent_jti="p", expires_at=now + timedelta(minutes=5)))
    removed = rt.run(purge)
    assert removed["flows"] == 1 and removed["revoked_jtis"] == 1 and removed["exchanged_tokens"] == 1
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AuthFlow)) == 1
        assert session.get(RevokedAccessToken, "kept") is not None
