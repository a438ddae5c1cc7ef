"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: database reachable, schema current).

Redis, where configured, is reported but does not decide readiness: every node shares it, so a Redis outage
marked as not ready would leave the balancer no node at all, while a node without it still serves what needs
no shared limit (token validation, discovery, JWKS, pages) and refuses the rest with a clear 503 (fail closed,
idp/oauth/redis_link.py). The operator sees `"redis": "unreachable"` here and in the node's log.
"""

from __future__ import annotations

import redis
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from idp.oauth import redis_link
from idp.runtime import check_database
from idp.web.deps import get_runtime

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str]:
    runtime = get_runtime(request)
    revision = await run_in_threadpool(check_database, runtime.engine)
    ready = {"status": "ready", "database": runtime.engine.dialect.name, "schema": revision}
    if runtime.settings.redis_url:
        ready["redis"] = await run_in_threadpool(redis_state, runtime.settings.redis_url)
    return ready


# Well inside a balancer's check interval (HAProxy here: every second), so that a hung Redis slows no check
# into a timeout that would take every node out at once.
REDIS_PING_S = 0.25


def redis_state(url: str) -> str:
    """Redis as the readiness answer reports it: "ok", or "unreachable" (no answer within REDIS_PING_S)."""
    try:
        with redis_link.connect(url, REDIS_PING_S) as client:
            client.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return "unreachable"
    return "ok"
