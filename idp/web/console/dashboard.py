"""The dashboard (admin, auditor): sign-ins per hour, by first factor and by level, failures and lockouts over
the last 24 hours, counted from the audit trail (`idp.staff.activity`) and drawn as inline SVG
(`idp.web.console.charts`), each chart followed by its numbers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from idp.db import utcnow
from idp.runtime import Runtime
from idp.staff import activity
from idp.web.console import charts, guard
from idp.web.console.guard import Staff
from idp.web.console.text import console_messages
from idp.web.deps import get_runtime
from idp.web.i18n import pick_language

router = APIRouter(prefix="/console/dashboard", tags=["console"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ROLES = ("admin", "auditor")
HOURS = 24


def _listed(counts: list[tuple[str, int]]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in counts)


def figures(runtime: Runtime, t: dict[str, str]) -> dict[str, Any]:
    with runtime.reading() as session:
        seen = activity.sign_ins(session, utcnow(), HOURS)
    hours = [h.strftime("%H") for h in seen.hours]
    per_hour = list(zip(hours, seen.logins, seen.failures, seen.lockouts, strict=True))
    methods = sorted(seen.methods.items(), key=lambda kv: (-kv[1], kv[0]))
    levels = sorted(seen.levels.items())
    return {
        "seen": seen,
        "per_hour": per_hour,
        "methods": methods,
        "levels": levels,
        "reasons": sorted(seen.reasons.items(), key=lambda kv: (-kv[1], kv[0])),
        "totals": {"logins": sum(seen.logins), "failures": sum(seen.failures), "lockouts": sum(seen.lockouts)},
        "charts": {
            "logins": charts.bar_chart(t["dash_logins_per_hour"], t["dash_logins_desc"].format(
                n=sum(seen.logins), hours=HOURS), list(zip(hours, seen.logins, strict=True)), label_every=3),
            "failures": charts.bar_chart(t["dash_failures_per_hour"], t["dash_failures_desc"].format(
                n=sum(seen.failures), locked=sum(seen.lockouts), hours=HOURS),
                list(zip(hours, seen.failures, strict=True)), label_every=3, colour="#5d4037"),
            "methods": charts.hbar_chart(t["dash_by_method"], _listed(methods), methods),
            "levels": charts.hbar_chart(t["dash_by_level"], _listed(levels),
                                       [(k.removeprefix("urn:yiwang:"), v) for k, v in levels],
                                       colour="#2e7d32"),
        },
    }  # fmt: skip


@router.get("")
async def dashboard_page(
    request: Request, runtime: RuntimeDep, staff: Annotated[Staff, Depends(guard.guard(*ROLES))]
) -> Response:
    t = console_messages(pick_language(request))
    shown = await run_in_threadpool(figures, runtime, t)
    return guard.page(request, staff, "console_dashboard.html", {**shown, "hours": HOURS})
