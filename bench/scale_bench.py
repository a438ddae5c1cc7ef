"""Logins/s and grants/s through the balancer with 1 node and with 2, and what PostgreSQL waited on meanwhile.

    uv run python -m bench.scale_bench [--configs 1x1,2x1] [--seconds 20] [--clients 8]
        [--json bench/results/scale-<UTC time>.json]

A config `NxW` is N nodes of W workers (bench.cluster, behind HAProxy, PostgreSQL and Redis). For each, the same
virtual clients (bench.load, one asyncio thread on this machine) run for --seconds each, one kind at a time:
complete logins (a new person each), then refresh_token rotations of those logins' tokens, then
client_credentials grants. Reported: completed per second, p50/p99 latency, anything not ok, and from
pg_stat_activity sampled every 0.1 s (bench.oidc_bench.PgWatch) the share of samples with a backend waiting on
a lock (wait_event_type = Lock) and the statements that waited, plus pg_stat_database's deadlocks.

On a 2-core machine shared with the load generator the nodes cannot add CPU: the question is whether a second
node costs anything (shared state through PostgreSQL/Redis, the balancer hop), not whether it doubles.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import Cluster, stop_on_signals
from bench.load import Load, Setup
from bench.oidc_bench import PgWatch, machine_idle_pct

RESULTS = Path(__file__).resolve().parent / "results"


def measure(
    cluster: Cluster, setup: Setup, kind: str, seconds: float, clients: int, pool: list[str], prefix: str
) -> dict[str, Any]:
    load = Load(cluster, setup, clients=clients, mix={kind: 1}, prefix=prefix)
    load.refresh_pool = pool
    with PgWatch(cluster.pg_admin, cluster.dbname) as pg:
        began = time.monotonic()
        load.start()
        time.sleep(seconds)
        tally = load.stop()
        wall = time.monotonic() - began
    lat = sorted(tally.latencies[kind])
    lock_samples = sum(n for key, n in pg.waits.items() if key.startswith("Lock:"))
    return {
        "kind": kind,
        "per_s": round(tally.outcomes[kind]["ok"] / wall, 1),
        "ok": tally.outcomes[kind]["ok"],
        "not_ok": {k: v for k, v in tally.outcomes[kind].items() if k != "ok"},
        "reasons": dict(tally.reasons.most_common(5)),
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
        "pg_samples": pg.samples,
        "pg_mean_active": round(pg.mean(pg.states, "active"), 2),
        "pg_lock_wait_samples": lock_samples,
        "pg_waits": dict(pg.waits.most_common(6)),
        "pg_lock_waiters": dict(pg.lock_waiters.most_common(5)),
        "deadlocks": pg.delta.get("deadlocks", 0),
        "commits": pg.delta.get("xact_commit", 0),
        "wall_s": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="1x1,2x1", help="comma-separated NxW: N nodes of W workers")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    stop_on_signals()
    started = datetime.now(UTC)
    idle = machine_idle_pct()
    print(f"machine idle before the run: {idle:.0f}% of 2 cores")
    results = []
    for config in args.configs.split(","):
        nodes, workers = (int(x) for x in config.split("x"))
        with Cluster(nodes=nodes, workers=workers, lifetime=1800) as cluster:
            setup = Setup.register(cluster)
            pool: list[str] = []
            for kind, prefix in (("login", f"13{len(results)}"), ("refresh", ""), ("cc", "")):
                row = {"config": config, **measure(cluster, setup, kind, args.seconds, args.clients, pool, prefix)}
                results.append(row)
                print(
                    f"{config:5} {kind:8} {row['per_s']:7.1f}/s  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  "
                    f"not ok {row['not_ok']}  lock-wait samples {row['pg_lock_wait_samples']}/{row['pg_samples']}"
                    f"  deadlocks {row['deadlocks']}",
                    flush=True,
                )
    out = args.json or RESULTS / f"scale-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"started": started.isoformat(), "argv": sys.argv[1:], "machine_idle_pct_before": round(idle)}
    out.write_text(json.dumps({"run": meta, "results": results}, indent=2, ensure_ascii=False))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
