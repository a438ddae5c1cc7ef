"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: database reachable, schema current)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

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
    return {"status": "ready", "database": runtime.engine.dialect.name, "schema": revision}
