"""`yiwang alerts ...`: what an operator must look at (the SMS spend cap reached or nearly reached)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from idp import alerts
from idp.cli.common import JsonOpt, console, emit, runtime

app = typer.Typer(help="Operator alerts: spending caps reached and warning thresholds passed.", no_args_is_help=True)


@app.command("list")
def list_alerts(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The most recent alerts, newest first."""
    with runtime() as rt, rt.reading() as session:
        rows: list[dict[str, Any]] = [
            {
                "raised_at": row.raised_at.isoformat(),
                "level": row.level,
                "event": row.event,
                "window_start": row.window_start,
                "detail": row.detail,
            }
            for row in alerts.recent(session, limit)
        ]
    if as_json:
        emit({"alerts": rows}, True)
        return
    if not rows:
        console.print("no alerts", markup=False, highlight=False)
    for row in rows:
        detail = " ".join(f"{k}={v}" for k, v in row["detail"].items())
        console.print(f"{row['raised_at']} {row['level']} {row['event']} {detail}", markup=False, highlight=False)
