"""Two real `yiwang serve` nodes sharing one PostgreSQL schema and one Redis database, as behind a balancer.

Nothing else is shared: each node has its own data directory, the master key reaches both through the
environment (as a secret store would hand it out), and both announce the same issuer. A test drives one
"browser" (one cookie jar) across both nodes, request by request, so anything a node keeps only in its own
memory shows up as a refusal or a limit that does not add up.

One pair per module (starting a node is slow); the schema and the Redis database are emptied afterwards.
PostgreSQL comes from YIWANG_TEST_POSTGRES_URL, Redis from YIWANG_TEST_REDIS_URL: database 7 of it, which no
other test uses and which bench/cluster.py never picks (it takes an empty one among 8-15, so a database of ours
that happened to be empty for a moment would be shared with a benchmark's logins); without either the tests
skip saying why (CI fails instead).
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.cluster.walk import Rp, add_client
from tests.conftest import IN_CI, POSTGRES_URL, postgres_or_skip
from tests.kit.served import Served, free_port, yiwang_server

REDIS_URL = os.environ.get("YIWANG_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = 7

# Short enough that a test can watch a rotation spread; the default (60 s) is the production bound.
KEY_REFRESH_S = 2


def redis_url_or_skip() -> str:
    """The test Redis, database REDIS_DB, emptied."""
    import redis

    parts = urlsplit(REDIS_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", parts.query, ""))
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {parts.netloc}: {exc}"
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the Redis tests)")
        pytest.skip(reason)
    return url


@dataclass(frozen=True)
class Cluster:
    a: Served
    b: Served
    issuer: str
    database_url: str
    redis_url: str
    settings: dict[str, str]

    @property
    def nodes(self) -> tuple[Served, Served]:
        return self.a, self.b

    def sql(self, statement: str, **params: object) -> list[tuple[object, ...]]:
        """A statement on the cluster's database (what an operator's psql would see)."""
        engine = create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()


def _schema_url(schema: str) -> str:
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres_or_skip()
    redis_url = redis_url_or_skip()
    schema = f"cl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    root = tmp_path_factory.mktemp("cluster")
    port_a = free_port()
    issuer = f"http://127.0.0.1:{port_a}"
    shared = {
        "YIWANG_DATABASE_URL": _schema_url(schema),
        "YIWANG_REDIS_URL": redis_url,
        "YIWANG_ISSUER": issuer,
        "YIWANG_MASTER_KEY_SOURCE": "env",
        "YIWANG_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "YIWANG_SIGNING_KEY_REFRESH_S": str(KEY_REFRESH_S),
        "YIWANG_AUDIT_SEAL_INTERVAL_S": "0",
        "YIWANG_ACCESS_LOG": "false",
        # One code a day per number and device (each test signs in with numbers of its own): a second send is
        # refused by the day's budget even when the two sends straddle a minute's boundary.
        "YIWANG_SMS_PER_PHONE_PER_DAY": "1",
    }
    try:
        with ExitStack() as stack:
            nodes = []
            # One after the other: A's first start creates the schema and the keys, which B then finds.
            for name, port in (("a", port_a), ("b", free_port())):
                home = root / name
                home.mkdir()
                nodes.append(stack.enter_context(yiwang_server(home, shared, port=port)))
            yield Cluster(nodes[0], nodes[1], issuer, shared["YIWANG_DATABASE_URL"], redis_url, shared)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        import redis

        redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="module")
def rp(cluster: Cluster) -> Rp:
    """A department's web client (each test signs in with phone numbers of its own)."""
    return add_client(cluster.a)


@pytest.fixture(scope="module")
def machine(cluster: Cluster) -> Rp:
    """A back end with a secret and the `seal` scope (client_credentials)."""
    made = cluster.b.yiwang(
        "client", "add", "--name", "签章服务", "--grant", "client_credentials", "--scope", "seal", "--json"
    )
    return Rp(made["client_id"], made["client_secret"])


@pytest.fixture
def browser(cluster: Cluster) -> Iterator[httpx.Client]:
    """One person's browser: one cookie jar, whichever node answers (cookies do not depend on the port)."""
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        yield client
