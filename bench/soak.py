"""Soak: N complete logins and M token grants across a 2-node cluster, no lost session, memory per node.

    uv run python -m bench.soak [--logins 10000] [--grants 100000] [--nodes 2] [--workers 1] [--clients 8]
        [--json bench/results/soak-<UTC time>.json]

The issue asks for 10,000 logins and 100,000 grants; on a shared 2-core machine that is hours, so a measured run
there is smaller (say --logins 1000 --grants 10000) and says so. Grants are half refresh_token rotations of the
login's tokens and half client_credentials (bench.load). Nothing is broken on purpose; what is checked:
- every operation ok (clean failures and lost ones counted and listed; lost must be 0);
- every completed login left its session (login_sessions rows = completed logins) and its person;
- RSS of each node (master and workers) sampled every 10 s: start, end, peak, the curve in the JSON.
The cluster stops itself after --lifetime seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import Cluster, stop_on_signals
from bench.load import Load, Setup

RESULTS = Path(__file__).resolve().parent / "results"


def sessions_and_persons(cluster: Cluster) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(cluster.database_url.replace("+psycopg", "")) as conn:
        sessions = conn.execute("SELECT count(*) FROM login_sessions").fetchone()
        persons = conn.execute("SELECT count(*) FROM persons").fetchone()
    return int(sessions[0]) if sessions else -1, int(persons[0]) if persons else -1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logins", type=int, default=10_000)
    ap.add_argument("--grants", type=int, default=100_000, help="half refresh, half client_credentials")
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--lifetime", type=float, default=6 * 3600)
    ap.add_argument("--max-seconds", type=float, default=None, help="stop the load then, and say it stopped early")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    stop_on_signals()
    started = datetime.now(UTC)
    refresh, cc = args.grants // 2, args.grants - args.grants // 2
    with Cluster(nodes=args.nodes, workers=args.workers, lifetime=args.lifetime) as cluster:
        setup = Setup.register(cluster)
        curve: list[dict[str, Any]] = []
        done = threading.Event()
        t0 = time.monotonic()

        def sample() -> None:
            while True:
                curve.append(
                    {
                        "t": round(time.monotonic() - t0, 1),
                        **{f"n{n.index}": round(cluster.rss_mb(n.index), 1) for n in cluster.members},
                    }
                )
                if done.wait(10):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Logins first in the mix, so that refreshes have tokens to rotate; each kind stops at its count.
        weights = {"login": args.logins, "refresh": refresh, "cc": cc, "seal": 0}
        limits = {"login": args.logins, "refresh": refresh, "cc": cc, "seal": 0}
        load = Load(cluster, setup, clients=args.clients, mix=weights, limits=limits, prefix="150").start()
        last, early = 0, False
        while load._thread is not None and load._thread.is_alive():
            load._thread.join(timeout=30)
            if args.max_seconds and time.monotonic() - t0 > args.max_seconds and load._thread.is_alive():
                early = True
                load.stop()
            tried = load.tally.tried()
            if tried - last >= 1000 or not load._thread.is_alive():
                print(f"{time.monotonic() - t0:7.0f} s  {tried} done  {load.tally.total('ok')} ok", flush=True)
                last = tried
        tally = load.tally
        wall = time.monotonic() - t0
        done.set()
        sampler.join()
        curve.append(
            {"t": round(wall, 1), **{f"n{n.index}": round(cluster.rss_mb(n.index), 1) for n in cluster.members}}
        )
        sessions, persons = sessions_and_persons(cluster)
    ok_logins = tally.outcomes["login"]["ok"]
    nodes = [f"n{i}" for i in range(args.nodes)]
    result = {
        "run": {"started": started.isoformat(), "argv": sys.argv[1:], "wall_s": round(wall, 1), "stopped_early": early},
        "asked": {"logins": args.logins, "refresh": refresh, "cc": cc},
        "by_kind": {k: dict(c) for k, c in tally.outcomes.items() if sum(c.values())},
        "reasons": dict(tally.reasons.most_common(12)),
        "lost": tally.total("lost"),
        "login_sessions": sessions,
        "persons": persons,
        "lost_sessions": ok_logins - sessions,
        "rss_mb": {n: {"start": curve[0][n], "end": curve[-1][n], "peak": max(c[n] for c in curve)} for n in nodes},
        "rss_curve": curve,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rss_curve"}, indent=2, ensure_ascii=False))
    out = args.json or RESULTS / f"soak-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written {out}")
    return 1 if result["lost"] or result["lost_sessions"] else 0


if __name__ == "__main__":
    sys.exit(main())
