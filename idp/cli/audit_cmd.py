"""`yiwang audit ...`: verify the hash chain, show the latest events."""

from __future__ import annotations

from typing import Annotated

import typer

from idp import audit
from idp.cli.common import JsonOpt, console, emit, fail, runtime

app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Exit 0 on an intact chain; otherwise 1, naming the first altered or missing record."""
    with runtime() as rt, rt.transaction() as session:
        report = audit.verify(session)
    if not report.intact:
        fail(f"audit chain broken: {report.problem}")
    console.print(f"audit chain intact: {report.checked} records")


@app.command("tail")
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=10000, help="How many events.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The last N events, oldest first."""
    with runtime() as rt, rt.transaction() as session:
        rows = audit.tail(session, n)
        for row in rows:
            if as_json:
                emit(audit.as_dict(row), True)
            else:
                console.print(
                    f"{row.seq:>6} {row.at:%Y-%m-%d %H:%M:%S} {row.outcome:<8} {row.action:<18} "
                    f"{row.subject} by {row.actor} via {row.channel}",
                    markup=False,
                    highlight=False,
                )
