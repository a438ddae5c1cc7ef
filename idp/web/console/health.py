"""Provider health (admin, auditor): for each external provider the circuit breaker's state in this process
(`adapters.resilience.CircuitBreaker`, live), and over the last 24 hours from the audit trail every node writes
(`idp.staff.activity.providers`): calls, failed calls, mean and 95th-percentile latency, the breaker state the
latest call reported, the latest problem. The same facts `/metrics` exports as `yiwang_provider_*`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.db import utcnow
from idp.runtime import Runtime
from idp.staff import activity
from idp.web.console import guard
from idp.web.console.guard import Staff
from idp.web.deps import get_runtime

router = APIRouter(prefix="/console/health", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ROLES = ("admin", "auditor")
WINDOW = timedelta(hours=24)


def breakers(request: Request) -> dict[str, str]:
    """This process's breakers: provider name → closed / half-open / open (HTTP adapters carry one each)."""
    adapters = getattr(request.app.state, "adapters", None)
    found: dict[str, str] = {}
    for adapter in vars(adapters).values() if adapters is not None else ():
        breaker = getattr(adapter, "breaker", None)
        if breaker is not None:
            found[str(getattr(adapter, "provider", type(adapter).__name__))] = breaker.state
    return found


@router.get("")
async def health_page(
    request: Request, runtime: RuntimeDep, staff: Annotated[Staff, Depends(guard.guard(*ROLES))]
) -> Response:
    def work() -> dict[str, Any]:
        with runtime.reading() as session:
            seen = activity.providers(session, utcnow() - WINDOW)
        live = breakers(request)
        names = sorted(set(seen) | set(live))
        rows = [{"name": n, "live": live.get(n), "seen": seen.get(n) or activity.ProviderHealth(n)} for n in names]
        return {"rows": rows}

    shown = await run_in_threadpool(work)
    return guard.page(request, staff, "console_health.html", {**shown, "beijing": activity.BEIJING})
