"""Every provider call lands in the audit trail (the adapters mask personal data before we see it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.base import AuditHook
from idp import audit
from idp.logs import get_logger
from idp.runtime import Runtime

log = get_logger("yiwang.providers")


def audit_hook(current_runtime: Callable[[], Runtime | None]) -> AuditHook:
    def on_call(provider: str, operation: str, outcome: str, detail: dict[str, Any]) -> None:
        log.info("provider call", provider=provider, operation=operation, outcome=outcome, **detail)
        runtime = current_runtime()
        if runtime is None:
            return
        with runtime.transaction() as session:
            audit.record(
                session,
                audit.Event(
                    action=f"provider.{operation}",
                    subject=provider,
                    outcome=outcome,
                    actor="yiwang",
                    channel="provider",
                    detail=detail,
                ),
            )

    return on_call
