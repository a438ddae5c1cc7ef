"""The app's sequencer: every few seconds, seal what is waiting (one node at a time, see `sequencer`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select

from idp.audit import sequencer
from idp.audit.events import AuditUnsealed
from idp.db import read_only
from idp.logs import get_logger

if TYPE_CHECKING:
    from idp.runtime import Runtime

log = get_logger("yiwang.audit")


def seal_round(runtime: Runtime) -> int:
    """Seal everything waiting, batch by batch; stop at once if another node holds the sequencer lock."""
    with read_only(runtime.engine) as conn:
        if conn.execute(select(AuditUnsealed.event_id).limit(1)).first() is None:
            return 0  # nothing waits: don't take SQLite's write lock (or a PostgreSQL connection) for nothing
    total = 0
    while True:
        with runtime.transaction() as session:
            result = sequencer.seal(session, runtime.master, runtime.settings.issuer, wait=False)
        if result.head is None:
            return total
        total += result.sealed


async def run(current_runtime: Callable[[], Runtime | None], interval: float) -> None:
    """Until cancelled. A failed round is logged and retried next time: events wait safely in the queue."""
    while True:
        await asyncio.sleep(interval)
        runtime = current_runtime()
        if runtime is None:
            continue
        try:
            sealed = await asyncio.to_thread(seal_round, runtime)
        except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the loop
            log.error("audit sealing failed", error=type(exc).__name__)
            continue
        if sealed:
            log.info("audit sealed", events=sealed)
