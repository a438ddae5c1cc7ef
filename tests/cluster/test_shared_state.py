"""Shared state is really shared: two `yiwang serve` nodes, one database, one Redis, requests alternating.

Each test sends one request to node A and the next to node B (or the order it names), so anything one node
keeps only in its own memory shows up as a limit that does not add up, a replay that is not noticed, or a
sign-in that cannot finish. The bounds a node may lag behind (`README.md`, "Running several nodes"):

- revocations, refresh-token families, OTP lockouts, SMS budgets, seal caps, CSC SADs, sessions and flows:
  none — each is read from the database or Redis in the request that depends on it;
- a signing-key rotation or retirement: `YIWANG_SIGNING_KEY_REFRESH_S` (60 s; 2 s here), the interval at which
  a node re-reads its signing keys (a token signed by a key a node has not loaded yet makes it reload at once).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.cluster.conftest import Cluster
from tests.cluster.walk import Login, Rp, bearer, outbox_code, sign_in
from tests.kit.dpop import proof
from tests.kit.served import Served, free_port, yiwang_server
from tests.kit.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_login_started_on_one_node_finishes_on_the_other_and_sso_holds_across(
    cluster: Cluster, browser: httpx.Client, rp: Rp
) -> None:
    a, b = cluster.nodes
    tokens = sign_in(browser, rp, [a, b], "13900000001")
    assert tokens["token_type"].lower() == "bearer"
    for node in (a, b):
        info = httpx.get(f"{node.base}/userinfo", headers=bearer(tokens["access_token"]))
        assert info.status_code == 200, info.text

    # Single sign-on: the session made on A (its cookie) lets B answer the next authorization without a login.
    again = Login(browser, rp)
    first = again.authorize(b, prompt="")
    assert first.status_code in (302, 303)
    assert not first.headers["location"].startswith("/login"), "B did not know the session A opened"
    query = again.follow([a, b], first)
    second = again.exchange(a, query["code"])
    sub = httpx.get(f"{b.base}/userinfo", headers=bearer(second["access_token"])).json()["sub"]
    assert sub == httpx.get(f"{a.base}/userinfo", headers=bearer(tokens["access_token"])).json()["sub"]


def _refresh(node: Served, rp: Rp, token: str) -> httpx.Response:
    return httpx.post(f"{node.base}/token", data={"grant_type": "refresh_token", "refresh_token": token}, auth=rp.auth)


def test_refresh_token_reuse_on_another_node_revokes_the_family(
    cluster: Cluster, browser: httpx.Client, rp: Rp
) -> None:
    a, b = cluster.nodes
    old = sign_in(browser, rp, [b, a], "13900000002")["refresh_token"]
    rotated = _refresh(a, rp, old)
    assert rotated.status_code == 200, rotated.text

    replay = _refresh(b, rp, old)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The replay on B ended the whole family, the token A had just rotated to included.
    after = _refresh(a, rp, rotated.json()["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


def test_an_access_token_revoked_on_one_node_is_refused_by_the_other_at_once(
    cluster: Cluster, browser: httpx.Client, rp: Rp
) -> None:
    a, b = cluster.nodes
    tokens = sign_in(browser, rp, [a, b], "13900000003")
    access = tokens["access_token"]
    for node in (a, b):
        assert httpx.get(f"{node.base}/userinfo", headers=bearer(access)).status_code == 200
        seen = httpx.post(f"{node.base}/introspect", data={"token": access}, auth=rp.auth).json()
        assert seen["active"] is True

    revoked = httpx.post(f"{a.base}/revoke", data={"token": access, "token_type_hint": "access_token"}, auth=rp.auth)
    assert revoked.status_code == 200
    # The bound is zero: B reads the deny-list in the request itself, no cache in between.
    assert httpx.get(f"{b.base}/userinfo", headers=bearer(access)).status_code == 401
    assert httpx.post(f"{b.base}/introspect", data={"token": access}, auth=rp.auth).json() == {"active": False}


def test_sms_budgets_and_otp_lockouts_add_up_across_nodes(cluster: Cluster, browser: httpx.Client, rp: Rp) -> None:
    a, b = cluster.nodes
    phone = "13900000004"
    # Sends: this device's budget for a number is one a day here. Sent through A, the next, asked of B in
    # another sign-in, is refused: the count lives in Redis, not in A.
    first = Login(browser, rp)
    first.start(a, b)
    assert first.send(a, phone).status_code == 200
    second = Login(browser, rp)
    second.start(b, a)
    refused = second.send(b, phone)
    assert refused.status_code == 429 and "发送过于频繁" in refused.text, refused.text

    # Wrong codes, alternately on A and B, count against one lockout (five tries).
    code = outbox_code(a, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [first.submit((a, b)[i % 2], phone, wrong) for i in range(5)]
    assert [r.status_code for r in answers] == [400, 400, 400, 400, 429]
    for left, answer in zip((4, 3, 2, 1), answers, strict=False):
        assert f"还可尝试 {left} 次" in answer.text  # each node counts the other's failures
    # Locked on both nodes: even the right code, and a new send, are refused.
    for node in (b, a):
        third = Login(browser, rp)
        third.start(node, node)
        locked = third.send(node, phone)
        assert locked.status_code == 429


USCC = "91110000600037341L"
SIGN_HASH = {"hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.10045.4.3.2"}


def _machine_token(node: Served, machine: Rp) -> str:
    got = httpx.post(
        f"{node.base}/token", data={"grant_type": "client_credentials", "scope": "seal"}, auth=machine.auth
    )
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


def _csc(node: Served, token: str, endpoint: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{node.base}/csc/v2/{endpoint}", json=body, headers=bearer(token), timeout=60)


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_csc_sads_are_single_use_and_a_seals_daily_cap_is_one_across_nodes(cluster: Cluster, machine: Rp) -> None:
    a, b = cluster.nodes
    a.yiwang("org", "add", "--uscc", USCC, "--name", "某某市财政局", "--kind", "department", "--json")
    seal = b.yiwang(
        "seal", "create", "--org", USCC, "--type", "official", "--client", machine.client_id, "--daily-cap", "3",
        "--json",
    )["id"]  # fmt: skip
    tokens = {node.base: _machine_token(node, machine) for node in (a, b)}

    def authorize(node: Served, document: bytes) -> dict[str, Any]:
        digest = _b64_sha256(document)
        got = _csc(node, tokens[node.base], "credentials/authorize",
                   {"credentialID": seal, "numSignatures": 1, "hashes": [digest]})  # fmt: skip
        assert got.status_code == 200, got.text
        return {"credentialID": seal, "SAD": got.json()["SAD"], "hashes": [digest], **SIGN_HASH}

    def sign(node: Served, body: dict[str, Any]) -> httpx.Response:
        return _csc(node, tokens[node.base], "signatures/signHash", body)

    # A SAD authorised on B and used on A is spent for B too.
    once = authorize(b, b"document one")
    assert sign(a, once).status_code == 200
    replay = sign(b, once)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_request"

    # The cap (3 a day) counts A's and B's signatures together: one more on each node, then none.
    assert sign(b, authorize(a, b"document two")).status_code == 200
    assert sign(a, authorize(b, b"document three")).status_code == 200
    over = sign(b, authorize(a, b"document four"))
    assert over.status_code == 403 and "daily cap" in over.json()["error_description"], over.text
    assert sign(a, authorize(b, b"document five")).status_code == 403


def _kids(node: Served) -> list[str]:
    return [k["kid"] for k in httpx.get(f"{node.base}/jwks").json()["keys"]]


def _kid_of(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def test_a_signing_key_rotation_and_retirement_reach_every_node(cluster: Cluster, machine: Rp) -> None:
    a, b = cluster.nodes
    before = _machine_token(a, machine)
    old = _kid_of(before)
    assert _kids(a) == _kids(b) == [old]

    rotated = b.cli("keys", "rotate-signing")
    assert rotated.returncode == 0, rotated.stderr
    # Within the refresh interval every node publishes the new key first, the old one still, and signs with the new.
    wait_until(lambda: len(_kids(a)) == len(_kids(b)) == 2, 60, "both nodes publishing the new key", interval=0.2)
    new = _kids(a)[0]
    assert new != old and _kids(b) == [new, old]
    wait_until(
        lambda: all(_kid_of(_machine_token(n, machine)) == new for n in (a, b)), 60, "both signing anew", interval=0.2
    )
    for signer, checker in ((a, b), (b, a)):
        token = _machine_token(signer, machine)
        assert httpx.post(f"{checker.base}/introspect", data={"token": token}, auth=machine.auth).json()["active"]
    # Tokens the retired key signed still verify while they may live.
    assert httpx.post(f"{b.base}/introspect", data={"token": before}, auth=machine.auth).json()["active"]

    # Retirement ends: as if `max_token_lifetime_s` had passed since the rotation.
    cluster.sql(
        "UPDATE signing_keys SET retired_at = retired_at - make_interval(secs => :s) WHERE kid = :kid",
        s=int(cluster.settings.get("YIWANG_MAX_TOKEN_LIFETIME_S", "86400")) + 1,
        kid=old,
    )
    wait_until(
        lambda: _kids(a) == _kids(b) == [new], 60, "both nodes no longer publishing the retired key", interval=0.2
    )


@contextmanager
def throwaway_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free loopback port (the shared one must stay up for others)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _pings(url), 30, "the throwaway Redis answering", interval=0.1)
        yield url, proc
    finally:
        proc.kill()
        proc.wait()


def _pings(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.ConnectionError:
        return False


def test_with_redis_down_the_limits_fail_closed_with_a_clear_503(
    cluster: Cluster, browser: httpx.Client, rp: Rp, tmp_path: Path
) -> None:
    a = cluster.a
    made = a.yiwang(
        "client", "add", "--name", "DPoP 机器", "--grant", "client_credentials", "--scope", "seal", "--dpop", "--json"
    )
    machine = Rp(made["client_id"], made["client_secret"])
    phone = "13900000008"
    with (
        throwaway_redis() as (url, redis_proc),
        yiwang_server(tmp_path, cluster.settings | {"YIWANG_REDIS_URL": url}) as c,
    ):
        waiting = Login(browser, rp)
        waiting.start(c, c)
        assert waiting.send(c, phone).status_code == 200  # Redis up: counted and sent
        key = ECKey.generate_key("P-256")
        nonce = httpx.post(
            f"{c.base}/token",
            data={"grant_type": "client_credentials", "scope": "seal"},
            auth=machine.auth,
            headers={"DPoP": proof(key, "POST", f"{cluster.issuer}/token")},
        ).headers["dpop-nonce"]

        redis_proc.kill()
        redis_proc.wait()

        # An SMS send needs its budgets counted: refused with a page saying so, and nothing sent.
        other = Login(browser, rp)
        other.start(c, c)
        sent = other.send(c, "13900000009")
        assert sent.status_code == 503, sent.text
        assert "Security checks are unavailable" in sent.text and "<html" in sent.text
        assert sent.headers["retry-after"]
        outbox = httpx.get(f"{c.base}/sandbox/sms/outbox", params={"phone": "+8613900000009"}).json()
        assert outbox["messages"] == []

        # The token endpoint's DPoP replay check lives in Redis: refused in RFC 6749 form, not let through.
        token = httpx.post(
            f"{c.base}/token",
            data={"grant_type": "client_credentials", "scope": "seal"},
            auth=machine.auth,
            headers={"DPoP": proof(key, "POST", f"{cluster.issuer}/token", nonce=nonce)},
        )
        assert token.status_code == 503, token.text
        assert token.json()["error"] == "temporarily_unavailable"
        assert "Security checks are unavailable" in token.json()["error_description"]

        # Code checks count their failures in the database, so they stay limited without Redis.
        code = outbox_code(c, phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [waiting.submit(c, phone, wrong) for _ in range(5)]
        assert [r.status_code for r in answers] == [400, 400, 400, 400, 429]
