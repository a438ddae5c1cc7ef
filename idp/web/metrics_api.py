"""`GET /metrics` for Prometheus, behind an operator bearer token (`yiwang operator create prometheus`;
Prometheus sends it with `authorization: {credentials: ...}`): the figures say how busy the city is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp import metrics
from idp.web.operator_first import authenticate

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    await run_in_threadpool(authenticate, request)
    body = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
