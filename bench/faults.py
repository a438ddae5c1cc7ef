"""The fault harness: a 2-node cluster under load, broken on purpose, checked after each fault.

    uv run python -m bench.faults [--phases baseline,provider-slow,provider-fail,node-kill,node-drain]
        [--db-faults] [--clients 8] [--hold 6] [--lifetime 1500] [--json bench/results/faults.json]

Loopback only (bench.cluster: nodes, HAProxy, a database and a Redis db number of its own) and bounded: the
cluster stops itself after --lifetime seconds whatever happens. For each phase, under a steady mix of complete
logins, refresh and client_credentials grants and CSC seal requests (bench.load):

  baseline         no fault (what the others are compared with)
  provider-slow    the SMS emulator answers 2 s late (under the adapter's 5 s read timeout)
  provider-fail    the SMS emulator answers 503 to everything (the adapter's breaker opens)
  node-kill        node 0 SIGKILLed with its workers, started again after --hold s
  node-drain       node 1 SIGTERMed (uvicorn finishes what it has), started again after --hold s
  postgres-restart `pg_ctlcluster <ver> main restart` (only with --db-faults: it stops every database on the
                   machine for a moment)
  redis-restart    `redis-cli shutdown nosave`, --hold s down, `redis-server` started again as .ci/run does
                   (only with --db-faults, same reason)

After each phase: the load is stopped (in-flight operations end within their timeout), every login that did
not complete is tried again from the start with the same phone, and then
- counts: tried, ok, clean (a 4xx or 503 with an explanation), cut (a 502 from the balancer: the node died with
  it in flight), lost (a 500, no answer within 30 s, a wrong success) — lost must be 0;
- no half-written record (SQL on the cluster's database, and the sandbox SMS outbox): a person without their
  verified phone, a refresh token without the consent it was granted under, a CSC signature without its audit
  event or its count in the seal's daily usage, an SMS the service said it sent that never left, or one that
  left more often than the service said;
- `yiwang audit verify`;
- what each node's /readyz answered during the phase (200 / 503 / refused) and what HAProxy thought of it;
- the longest time no operation completed (service gap) and the time from the fault's end until every node was
  ready again and a grant through the balancer succeeded (recovery).
A table is printed and everything is written as JSON (bench/results/faults-<UTC time>.json unless --json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import Cluster, stop_on_signals
from bench.load import Load, Setup
from bench.oidc_bench import PREFIXES

RESULTS = Path(__file__).resolve().parent / "results"
SAFE = ["baseline", "provider-slow", "provider-fail", "node-kill", "node-drain"]
SHARED = ["postgres-restart", "redis-restart"]


# --- watching readiness --------------------------------------------------------------------------------------------


class Watch:
    """Each node's /readyz and HAProxy's view of it, every 0.25 s, for one phase."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.readyz: list[Counter[str]] = [Counter() for _ in cluster.members]
        self.balancer: dict[str, Counter[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=1.0) as http:
            while not self._stop.is_set():
                for node in self.cluster.members:
                    try:
                        status = str(http.get(f"{node.base}/readyz").status_code)
                    except httpx.TimeoutException:
                        status = "timeout"
                    except httpx.TransportError:
                        status = "refused"
                    self.readyz[node.index][status] += 1
                for name, state in self.cluster.balancer_view().items():
                    self.balancer.setdefault(name, Counter())[state.split()[0]] += 1
                self._stop.wait(0.25)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def report(self) -> dict[str, Any]:
        return {
            "readyz": {f"n{i}": dict(c) for i, c in enumerate(self.readyz)},
            "balancer": {name: dict(c) for name, c in self.balancer.items()},
        }


# --- the faults ----------------------------------------------------------------------------------------------------


def _pg_cluster() -> tuple[str, str]:
    line = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.split()
    return line[0], line[1]


def _redis_up() -> None:
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
         "--save", "", "--appendonly", "no"],
        check=True, capture_output=True,
    )  # fmt: skip


def fault(name: str, cluster: Cluster, hold: float) -> Callable[[], None]:
    """Start the fault named; return what ends it."""
    if name == "baseline":
        return lambda: None
    if name == "provider-slow":
        cluster.set_provider_faults({"outbox": {"delay_s": 2.0}})
        return lambda: cluster.set_provider_faults({})
    if name == "provider-fail":
        cluster.set_provider_faults({"outbox": {"always_status": 503}})
        return lambda: cluster.set_provider_faults({})
    if name == "node-kill":
        cluster.kill(0)
        return lambda: cluster.start(0, wait=False)
    if name == "node-drain":
        cluster.drain(1)
        return lambda: cluster.start(1, wait=False)
    if name == "postgres-restart":
        version, pg = _pg_cluster()
        subprocess.run(["pg_ctlcluster", version, pg, "restart"], check=True)
        return lambda: None
    if name == "redis-restart":
        subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
        return _redis_up
    raise SystemExit(f"unknown phase {name!r}; known: {', '.join(SAFE + SHARED)}")


def recovered(cluster: Cluster, setup: Setup, limit: float = 180) -> float:
    """Seconds until every node answers /readyz 200, HAProxy has them all UP, and a grant and a complete login
    through it succeed (a login needs the SMS provider's breaker closed again, not only the nodes up)."""
    import asyncio

    probe = Load(cluster, setup, prefix="189")  # the phases take prefixes from the start of the list
    began = time.monotonic()
    with httpx.Client(timeout=5) as http:
        while time.monotonic() - began < limit:
            with suppress(httpx.TransportError):
                ready = all(http.get(f"{n.base}/readyz").status_code == 200 for n in cluster.members)
                up = all(s.startswith("UP") for s in cluster.balancer_view().values())
                grant = http.post(
                    f"{cluster.base}/token",
                    data={"grant_type": "client_credentials"},
                    auth=(setup.cc_id, setup.cc_secret),
                )
                if ready and up and grant.status_code == 200 and asyncio.run(probe.one("login")) == "ok":
                    return time.monotonic() - began
            time.sleep(0.25)
    return float("inf")


# --- the checks ----------------------------------------------------------------------------------------------------

INTEGRITY_SQL = {
    "persons_without_verified_phone": (
        "SELECT count(*) FROM persons WHERE phone_bidx IS NULL OR phone_ct IS NULL OR NOT phone_verified"
    ),
    "refresh_tokens_without_consent": (
        "SELECT count(*) FROM oauth_refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM oauth_consents c"
        " WHERE c.person_id = r.person_id AND c.client_id = r.client_id)"
    ),
    "csc_signatures_without_audit_event": (
        "SELECT (SELECT count(*) FROM signature_records WHERE channel = 'csc')"
        " - (SELECT coalesce(sum((detail->>'signatures')::int), 0) FROM audit_events WHERE action = 'csc.sign_hash')"
    ),
    "csc_signatures_not_in_daily_usage": (
        "SELECT (SELECT count(*) FROM signature_records WHERE channel = 'csc')"
        " - (SELECT coalesce(sum(count), 0) FROM seal_usage)"
    ),
}


def integrity(cluster: Cluster, load: Load) -> dict[str, int]:
    import psycopg

    found: dict[str, int] = {}
    with psycopg.connect(cluster.database_url.replace("+psycopg", "")) as conn:
        for name, sql in INTEGRITY_SQL.items():
            row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
            found[name] = int(row[0]) if row else -1
    # SMS: what the outbox received per phone against what the service told the person it sent.
    not_sent = twice = 0
    with httpx.Client(base_url=cluster.base, timeout=10) as http:
        for phone in sorted(load.tally.sms_tried):
            got = len(http.get("/sandbox/sms/outbox", params={"phone": phone}).json().get("messages") or [])
            said = load.tally.sms_sent[phone]
            not_sent += max(0, said - got)
            twice += max(0, got - said)
    found["sms_said_sent_but_not_in_outbox"] = not_sent
    found["sms_in_outbox_more_than_said_sent"] = twice
    return found


def audit_verify(cluster: Cluster) -> dict[str, Any]:
    try:
        done = cluster.cli("audit", "verify", timeout=300)
        return {"ok": True, "said": done.stdout.strip().splitlines()[-1:]}
    except RuntimeError as exc:
        return {"ok": False, "said": str(exc)[-300:]}


def service_gap(times: list[float], start: float, end: float) -> float:
    marks = sorted([start, *[t for t in times if start <= t <= end], end])
    return max(b - a for a, b in zip(marks, marks[1:], strict=False))


# --- a phase ---------------------------------------------------------------------------------------------------


def run_phase(name: str, cluster: Cluster, setup: Setup, args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    print(f"--- {name}", flush=True)
    load = Load(cluster, setup, clients=args.clients, prefix=prefix).start()
    with Watch(cluster) as watch:
        time.sleep(args.before)
        t_fault = time.monotonic()
        heal = fault(name, cluster, args.hold)
        time.sleep(args.hold)
        heal()
        t_heal = time.monotonic()
        recover = recovered(cluster, setup)
        time.sleep(args.after)
        tally = load.stop()
        t_end = time.monotonic()
    retried, retried_ok = load.retry_failed_logins()
    result: dict[str, Any] = {
        "phase": name,
        "tried": tally.tried(),
        "ok": tally.total("ok"),
        "clean": tally.total("clean"),
        "cut": tally.total("cut"),
        "lost": tally.total("lost"),
        "by_kind": {k: dict(c) for k, c in tally.outcomes.items()},
        "reasons": dict(tally.reasons.most_common(12)),
        "logins_retried_from_start": retried,
        "logins_retried_completed": retried_ok,
        "service_gap_s": round(service_gap(tally.ok_times, t_fault, t_end), 2),
        "recover_s": round(recover, 2),
        "fault_s": round(t_heal - t_fault, 2),
        **watch.report(),
    }
    result["integrity"] = integrity(cluster, load)
    result["audit_verify"] = audit_verify(cluster)
    return result


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'phase':17} {'tried':>6} {'ok':>6} {'clean':>6} {'cut':>5} {'lost':>5} {'retry ok':>9} "
        f"{'gap s':>6} {'recover s':>9} {'readyz 503':>10} {'LB down':>8} {'records':>8} {'audit':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        readyz_503 = ",".join(n for n, c in r["readyz"].items() if "503" in c) or "-"
        down = ",".join(n for n, c in r["balancer"].items() if "DOWN" in c) or "-"
        broken = sum(v for v in r["integrity"].values())
        lines.append(
            f"{r['phase']:17} {r['tried']:>6} {r['ok']:>6} {r['clean']:>6} {r['cut']:>5} {r['lost']:>5} "
            f"{r['logins_retried_completed']:>4}/{r['logins_retried_from_start']:<4} {r['service_gap_s']:>6} "
            f"{r['recover_s']:>9} {readyz_503:>10} {down:>8} {'ok' if broken == 0 else broken:>8} "
            f"{'ok' if r['audit_verify']['ok'] else 'FAIL':>6}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Break a loopback cluster under load and check what survived.")
    ap.add_argument("--phases", default=",".join(SAFE), help=f"comma-separated, of {', '.join(SAFE + SHARED)}")
    ap.add_argument("--db-faults", action="store_true", help="also restart PostgreSQL and Redis (machine-wide!)")
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--clients", type=int, default=8, help="concurrent virtual clients")
    ap.add_argument("--before", type=float, default=4, help="seconds of load before the fault")
    ap.add_argument("--hold", type=float, default=6, help="seconds the fault lasts")
    ap.add_argument("--after", type=float, default=4, help="seconds of load after recovery")
    ap.add_argument("--lifetime", type=float, default=1500, help="the cluster stops itself after this")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    stop_on_signals()
    phases = [p for p in args.phases.split(",") if p]
    if args.db_faults:
        phases += [p for p in SHARED if p not in phases]
    started = datetime.now(UTC)
    results = []
    with Cluster(nodes=args.nodes, workers=args.workers, lifetime=args.lifetime, fault_control=True) as cluster:
        setup = Setup.register(cluster)
        for name, prefix in zip(phases, PREFIXES, strict=False):  # a phone prefix per phase: new persons each
            results.append(run_phase(name, cluster, setup, args, prefix))
            print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    out = args.json or RESULTS / f"faults-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"started": started.isoformat(), "argv": sys.argv[1:], "nodes": args.nodes, "workers": args.workers}
    out.write_text(json.dumps({"run": meta, "phases": results}, indent=2, ensure_ascii=False))
    print(f"\nwritten {out}")
    lost = sum(r["lost"] for r in results)
    broken = sum(sum(r["integrity"].values()) for r in results)
    failed_audit = sum(not r["audit_verify"]["ok"] for r in results)
    return 1 if lost or broken or failed_audit else 0


if __name__ == "__main__":
    sys.exit(main())
