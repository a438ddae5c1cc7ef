"""What the console's dashboard and provider-health pages show, counted from the audit trail.

The same events feed the Prometheus metrics (`idp.metrics.count_event`), with the same meaning: a sign-in is a
`login` event (its methods `amr`, its level `acr`); a failure is a `login.*` event whose outcome is not success;
a lockout is such a failure with reason `locked`; a provider call is a `provider.<operation>` event on subject
`<provider>` with `latency_ms` and the breaker's state (`circuit`) after the call. Unlike a process's metrics the
trail is shared by every node, so these figures are the cluster's, and they survive a restart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import AuditEvent
from idp.oauth import acr

BEIJING = timezone(timedelta(hours=8))  # the hours staff read are Beijing hours


@dataclass
class Activity:
    hours: list[datetime]  # the start of each hour of the window, Beijing time, oldest first
    logins: list[int]
    failures: list[int]
    lockouts: list[int]
    methods: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


def _hour(at: datetime) -> datetime:
    return at.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0)


def sign_ins(session: Session, now: datetime, hours: int = 24) -> Activity:
    """Sign-ins, failures and lockouts per hour over the last `hours` hours (the current one included)."""
    last = _hour(now)
    starts = [last - timedelta(hours=hours - 1 - i) for i in range(hours)]
    slot = {start: i for i, start in enumerate(starts)}
    activity = Activity(starts, [0] * hours, [0] * hours, [0] * hours)
    query = select(AuditEvent.at, AuditEvent.action, AuditEvent.outcome, AuditEvent.detail).where(
        AuditEvent.at >= starts[0], (AuditEvent.action == "login") | AuditEvent.action.startswith("login.")
    )
    for at, action, outcome, detail in session.execute(query):
        i = slot.get(_hour(at))
        if i is None:  # later than `now` (a clock ahead on another node): not in this window
            continue
        if action == "login":
            activity.logins[i] += 1
            activity.methods[acr.methods_label(detail.get("amr"))] += 1
            activity.levels[str(detail.get("acr") or "-")] += 1
        elif action != "login.step_up" and outcome != "success":
            reason = str(detail.get("reason", outcome))
            activity.failures[i] += 1
            activity.reasons[reason] += 1
            if reason == "locked":
                activity.lockouts[i] += 1
    return activity


@dataclass
class ProviderHealth:
    provider: str
    calls: int = 0
    errors: int = 0  # no usable answer: unavailable, invalid_response (a business "no" is the provider working)
    latencies: list[float] = field(default_factory=list)
    last_circuit: str | None = None
    last_at: datetime | None = None
    last_problem: str | None = None

    @property
    def mean_ms(self) -> float | None:
        return round(sum(self.latencies) / len(self.latencies), 1) if self.latencies else None

    @property
    def p95_ms(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


FAILED = ("unavailable", "invalid_response")


def providers(session: Session, since: datetime) -> dict[str, ProviderHealth]:
    """Per provider since `since`: calls, failed calls, latency, the breaker state its latest call reported."""
    query = (
        select(AuditEvent.at, AuditEvent.subject, AuditEvent.outcome, AuditEvent.detail)
        .where(AuditEvent.at >= since, AuditEvent.action.startswith("provider."))
        .order_by(AuditEvent.at)
    )
    found: dict[str, ProviderHealth] = {}
    for at, provider, outcome, detail in session.execute(query):
        health = found.setdefault(provider, ProviderHealth(provider))
        health.calls += 1
        if outcome in FAILED:
            health.errors += 1
            health.last_problem = str(detail.get("reason", outcome))
        if isinstance(detail.get("latency_ms"), int | float):
            health.latencies.append(float(detail["latency_ms"]))
        if detail.get("circuit"):
            health.last_circuit = str(detail["circuit"])
        health.last_at = at
    return found
