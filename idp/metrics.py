"""Prometheus metrics: what an operator watches — sign-ins, SMS, providers, grants, signatures, the database
pool and request latency.

Most figures are read off the audit trail as it commits (`count_committed`), so a metric counts exactly the
facts the trail keeps: a sign-in whose transaction rolled back is in neither. Token grants (not audited: the
hot path) and request latency are counted where they happen.

Metric objects are declarations, like loggers: module-level and process-wide, as prometheus_client expects.
Under `yiwang serve --workers N` every worker writes its values into files under PROMETHEUS_MULTIPROC_DIR
(`use_directory`, called by the parent before it starts workers) and a scrape merges them, whichever worker
answers it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from idp.audit.events import Event, committed_events
from idp.oauth import acr
from idp.settings import metrics_directory, share_metrics_directory

CONTENT_TYPE = CONTENT_TYPE_LATEST

LOGINS = Counter(
    "yiwang_logins_total",
    "Completed sign-ins, by first factor, channel and level reached",
    ["method", "channel", "acr"],
)
STEP_UPS = Counter("yiwang_step_ups_total", "Sessions raised to a higher level", ["channel", "acr"])
LOGIN_FAILURES = Counter(
    "yiwang_login_failures_total", "Refused sign-in steps (reason=locked: tried while locked out)", ["method", "reason"]
)
PROOFING = Counter("yiwang_proofing_total", "Identity-proofing steps", ["step", "outcome"])
PROVIDER_CALLS = Counter(
    "yiwang_provider_calls_total",
    "Calls to external providers (SMS, UnionPay, Alipay...)",
    ["provider", "operation", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "yiwang_provider_latency_seconds",
    "Provider call latency, retries included",
    ["provider", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
CIRCUIT = Gauge(
    "yiwang_provider_circuit_state",
    "Circuit breaker after the provider's latest call: 0 closed, 1 half-open, 2 open",
    ["provider"],
    multiprocess_mode="livemostrecent",
)
GRANTS = Counter(
    "yiwang_token_grants_total", "Token endpoint answers, by grant type and outcome", ["grant_type", "outcome"]
)
SIGNATURES = Counter("yiwang_signatures_total", "Signatures made, by kind and seal", ["kind", "seal"])
DB_CONNECTIONS = Gauge(
    "yiwang_db_connections_in_use", "Database connections checked out of the pool", multiprocess_mode="livesum"
)
REQUESTS = Histogram(
    "yiwang_http_request_duration_seconds",
    "HTTP request latency, by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_CIRCUIT_STATES = {"closed": 0, "half-open": 1, "open": 2}
_SIGNING_ACTIONS = {"seal.sign": "seal", "sign.sign": "citizen", "csc.sign_hash": "csc"}


def count_event(event: Event) -> None:
    """The metrics one committed audit event stands for."""
    action, detail = event.action, event.detail
    if action == "login":
        LOGINS.labels(acr.methods_label(detail.get("amr")), event.channel, str(detail.get("acr", ""))).inc()
    elif action == "login.step_up":
        STEP_UPS.labels(event.channel, str(detail.get("acr", ""))).inc()
    elif action.startswith("login.") and event.outcome != "success":
        LOGIN_FAILURES.labels(action.removeprefix("login."), str(detail.get("reason", event.outcome))).inc()
    elif action.startswith("proofing."):
        PROOFING.labels(action.removeprefix("proofing."), event.outcome).inc()
    elif action.startswith("provider."):
        provider, operation = event.subject, action.removeprefix("provider.")
        PROVIDER_CALLS.labels(provider, operation, event.outcome).inc()
        if isinstance(detail.get("latency_ms"), int | float):
            PROVIDER_LATENCY.labels(provider, operation).observe(detail["latency_ms"] / 1000)
        if detail.get("circuit") in _CIRCUIT_STATES:
            CIRCUIT.labels(provider).set(_CIRCUIT_STATES[detail["circuit"]])
    elif action in _SIGNING_ACTIONS and event.outcome == "success":
        kind = _SIGNING_ACTIONS[action]
        SIGNATURES.labels(kind, event.subject if kind == "seal" else "").inc()


@sa_event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for event in committed_events(session):
        count_event(event)


def count_grant(grant_type: str | None, status: int, body: object) -> None:
    outcome = "issued" if status == 200 else str(body.get("error", status)) if isinstance(body, dict) else str(status)
    GRANTS.labels(grant_type or "missing", outcome).inc()


def watch_pool(engine: Engine) -> None:
    """Connections in use, kept as checkouts and checkins happen (so every worker's share is its own)."""
    sa_event.listen(engine, "checkout", lambda *_: DB_CONNECTIONS.inc())
    sa_event.listen(engine, "checkin", lambda *_: DB_CONNECTIONS.dec())


def use_directory(directory: Path) -> None:
    """Before workers start: they write their values under `directory`, emptied of an earlier run's files."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    share_metrics_directory(directory)


def process_exiting() -> None:
    """A worker stopping: its live gauges leave the merged view (counters stay: they are history). A worker
    killed outright can't say so; its last values stay until the node restarts and empties the directory."""
    if metrics_directory():
        prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """The text a scrape gets: this process's metrics, or all workers' when they share a directory."""
    if metrics_directory():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
