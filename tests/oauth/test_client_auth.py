"""Client authentication: secrets hashed, basic/post, private_key_jwt with jti replay protection."""

from __future__ import annotations

import time
import uuid

from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from idp.oauth.models import OAuthClient
from tests.oauth.conftest import ISSUER, Bench, forge


def _cc(bench: Bench, **kwargs: object) -> object:
    return bench.register(name="服务", redirect_uris=[], grant_types=["client_credentials"], scopes=["seal"], **kwargs)


def test_secret_is_stored_only_hashed(bench: Bench) -> None:
    with bench.rt.transaction() as session:
        row = session.scalar(select(OAuthClient).where(OAuthClient.client_id == bench.rp.client_id))
    assert row is not None and bench.rp.client_secret
    assert row.secret_hash and bench.rp.client_secret not in row.secret_hash


def test_client_secret_basic_and_post(bench: Bench) -> None:
    basic = _cc(bench)
    ok = bench.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "seal"},
        auth=(basic.client_id, basic.client_secret),
    )  # type: ignore[attr-defined]
    assert ok.status_code == 200 and ok.json()["scope"] == "seal"
    post = _cc(bench, auth_method="client_secret_post")
    ok = bench.client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": post.client_id,  # type: ignore[attr-defined]
            "client_secret": post.client_secret,  # type: ignore[attr-defined]
        },
    )
    assert ok.status_code == 200
    # The method is bound to the client: basic credentials for a post client are refused.
    wrong = bench.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(post.client_id, post.client_secret)
    )  # type: ignore[attr-defined]
    assert wrong.status_code == 401


def test_wrong_secret_is_refused(bench: Bench) -> None:
    svc = _cc(bench)
    response = bench.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(svc.client_id, "not-the-secret")
    )  # type: ignore[attr-defined]
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_public_client_cannot_use_client_credentials(bench: Bench) -> None:
    public = bench.register(auth_method="none")
    response = bench.client.post("/token", data={"grant_type": "client_credentials", "client_id": public.client_id})
    assert response.status_code in (400, 401)


def _assertion(key: ECKey, client_id: str, jti: str | None = None, aud: str = f"{ISSUER}/token") -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": jti or str(uuid.uuid4()),
    }
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])


def _pkjwt_client(bench: Bench) -> tuple[ECKey, str]:
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": "k1"})
    jwks = {"keys": [{**key.as_dict(private=False), "kid": "k1", "alg": "ES256"}]}
    made = bench.register(
        name="密钥客户端",
        redirect_uris=[],
        grant_types=["client_credentials"],
        scopes=["seal"],
        auth_method="private_key_jwt",
        jwks=jwks,
    )
    return key, made.client_id


def _token_with(bench: Bench, client_id: str, assertion: str) -> str:
    """'ok', or the RFC 6749 error code (invalid_client comes as 400 without an Authorization header)."""
    response = bench.client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    return "ok" if response.status_code == 200 else str(response.json()["error"])


def test_private_key_jwt_works_once_and_a_replay_is_refused(bench: Bench) -> None:
    key, client_id = _pkjwt_client(bench)
    assertion = _assertion(key, client_id)
    assert _token_with(bench, client_id, assertion) == "ok"
    assert _token_with(bench, client_id, assertion) == "invalid_client"  # same jti again
    assert _token_with(bench, client_id, _assertion(key, client_id)) == "ok"  # a fresh one is fine


def test_private_key_jwt_wrong_key_or_audience_is_refused(bench: Bench) -> None:
    key, client_id = _pkjwt_client(bench)
    stranger = ECKey.generate_key("P-256", private=True, parameters={"kid": "k1"})
    assert _token_with(bench, client_id, _assertion(stranger, client_id)) == "invalid_client"
    assert _token_with(bench, client_id, _assertion(key, client_id, aud="https://elsewhere/token")) == "invalid_client"


def test_private_key_jwt_hs256_with_public_key_is_refused(bench: Bench) -> None:
    """Algorithm confusion: an HMAC 'signed' with the client's public key material must not pass."""
    key, client_id = _pkjwt_client(bench)
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{ISSUER}/token", "iat": now, "exp": now + 60}
    for header, secret in (
        ({"alg": "HS256", "kid": "k1"}, key.as_pem(private=False)),
        ({"alg": "none"}, None),
    ):
        forged = forge(header, {**claims, "jti": str(uuid.uuid4())}, secret)
        assert _token_with(bench, client_id, forged) == "invalid_client"


def test_registering_a_private_key_is_refused(bench: Bench) -> None:
    import pytest

    from idp.errors import InvalidInput

    key = ECKey.generate_key("P-256", private=True)
    with pytest.raises(InvalidInput, match="private key"):
        bench.register(
            name="x",
            redirect_uris=[],
            grant_types=["client_credentials"],
            auth_method="private_key_jwt",
            jwks={"keys": [key.as_dict(private=True)]},
        )


def test_private_key_jwt_that_lives_too_long_is_refused(bench: Bench) -> None:
    """A long-lived assertion would have to be remembered for ever to stop its replay: capped at 10 minutes."""
    key, client_id = _pkjwt_client(bench)
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{ISSUER}/token",
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])
    assert _token_with(bench, client_id, assertion) == "invalid_client"
