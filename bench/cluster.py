"""A cluster you can start here, without a container engine: N `yiwang serve` nodes behind HAProxy.

    uv run python -m bench.cluster up [--nodes 2] [--workers 1] [--lifetime 600]

    with Cluster(nodes=2, workers=1) as c:    # the library
        httpx.get(f"{c.base}/readyz")
        c.kill(0); c.start(0); c.drain(1)

The topology of docker/compose.yaml on loopback ports: every node runs `yiwang serve --workers W` on the same
data directory (master key, sandbox emulator state), a fresh PostgreSQL database of its own (`yiwang_bench_<pid>`,
created here and dropped at the end) and a Redis database number of its own (emptied at the end), behind HAProxy
(generated config in the cluster's temporary directory) that checks `/readyz` every second, retries a refused
connection on another node (`option redispatch`) and never replays a request a node has received.

Everything started is stopped on exit, on an exception, on Ctrl-C / SIGTERM, and when `lifetime` seconds have
passed (a watchdog), so nothing outlives a harness that forgets. Nodes run in process groups of their own: `kill`
is SIGKILL to the node and its workers (a machine dying), `drain` is SIGTERM (an operator's graceful stop).

With `fault_control=True` the nodes run `bench.cluster_node` instead: the same `yiwang serve`, whose sandbox
emulators also follow the fault file the harness writes (`set_provider_faults`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.oidc_bench import LOAD_SETTINGS  # the SMS limits lifted: every client is 127.0.0.1

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def haproxy_config(listen: int, nodes: list[int], stats: int) -> str:
    """HAProxy in front of the nodes: /readyz checked every second (2 failures out, 2 successes in), a refused
    connection retried on another node; only connection failures are retried (the default `retry-on`), so a
    request a node received is never sent twice."""
    servers = "\n".join(f"  server n{i} 127.0.0.1:{port} check" for i, port in enumerate(nodes))
    return f"""global
  maxconn 4096
defaults
  mode http
  option httplog
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  timeout queue 30s
  retries 3
  option redispatch
frontend web
  bind 127.0.0.1:{listen}
  option forwardfor
  default_backend yiwang
backend yiwang
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 2 rise 2
{servers}
frontend stats
  bind 127.0.0.1:{stats}
  stats enable
  stats uri /stats
"""


@dataclass
class Node:
    index: int
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _pg(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _redis_dbsize(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.dbsize())  # type: ignore[arg-type]
    finally:
        client.close()


@dataclass
class Cluster:
    """N nodes + HAProxy + a database and a Redis db number of their own; see the module docstring."""

    nodes: int = 2
    workers: int = 1
    lifetime: float = 900.0
    pg_admin: str = PG_ADMIN
    redis: str | None = REDIS
    redis_db: int | None = None
    fault_control: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    quiet: bool = True

    def __post_init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="yiwang-cluster-"))
        self.dbname = f"yiwang_bench_{os.getpid()}"
        self.port = free_port()
        self.stats_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.members = [Node(i, free_port(), self.dir / f"node{i}.log") for i in range(self.nodes)]
        self.faults_file = self.dir / "provider-faults.json"
        self.haproxy: subprocess.Popen[bytes] | None = None
        self._created_db = False
        self._redis_url: str | None = None
        self._stopped = threading.Event()
        self._watchdog: threading.Timer | None = None
        self.env: dict[str, str] = {}

    # --- start and stop ----------------------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.down()

    def up(self) -> None:
        self._watchdog = threading.Timer(self.lifetime, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        parts = urlsplit(self.pg_admin)
        _pg(self.pg_admin, f'CREATE DATABASE "{self.dbname}"')
        self._created_db = True
        self.database_url = f"postgresql+psycopg://{parts.netloc}/{self.dbname}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
        env |= {
            "YIWANG_DATA_DIR": str(self.dir / "var"),
            "YIWANG_DATABASE_URL": self.database_url,
            "YIWANG_ISSUER": self.base,
            "YIWANG_TRUSTED_PROXIES": "127.0.0.1",
            "YIWANG_LOG_LEVEL": "WARNING",
            "YIWANG_ACCESS_LOG": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            **LOAD_SETTINGS,
        }
        if self.redis:
            self._redis_url = f"{self.redis}/{self._pick_redis_db()}"
            env["YIWANG_REDIS_URL"] = self._redis_url
        if self.fault_control:
            env["YIWANG_BENCH_FAULTS_FILE"] = str(self.faults_file)
            self.set_provider_faults({})
        self.env = env | self.settings
        # One `yiwang init` before any node starts: schema, keys and master key made once, not raced.
        self.cli("init", timeout=600)
        for node in self.members:
            self.start(node.index, wait=False)
        for node in self.members:
            self.wait_ready(node.index)
        self._start_haproxy()

    def _pick_redis_db(self) -> int:
        if self.redis_db is not None:
            return self.redis_db
        # An empty db number, 8-15 first (0 is what a developer's server uses), so that emptying it at the end
        # touches nobody else's keys.
        for number in [*range(8 + os.getpid() % 8, 16), *range(8, 8 + os.getpid() % 8)]:
            if _redis_dbsize(f"{self.redis}/{number}") == 0:
                return number
        raise RuntimeError("no empty Redis database number among 8-15")

    def _start_haproxy(self) -> None:
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(haproxy_config(self.port, [n.port for n in self.members], self.stats_port))
        log = (self.dir / "haproxy.log").open("wb")
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.haproxy.poll() is not None:
                raise RuntimeError(f"haproxy exited: {(self.dir / 'haproxy.log').read_text()[-500:]}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("haproxy did not route to a ready node within 30 s")

    def _expire(self) -> None:
        print(f"cluster: lifetime of {self.lifetime:.0f} s reached, stopping", file=sys.stderr)
        self.down()

    def down(self) -> None:
        """Stop everything started here (idempotent): HAProxy, the nodes, the database, the Redis db number."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if threading.current_thread() is threading.main_thread():
            # A second Ctrl-C (or a SIGINT that both `uv run` and its child receive) must not cut the clean-up
            # short and leave nodes, HAProxy and a database behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.haproxy is not None:
            _signal_group(self.haproxy, signal.SIGKILL)
            self.haproxy.wait()
        for node in self.members:
            if node.proc is not None:
                _signal_group(node.proc, signal.SIGTERM)
        for node in self.members:
            if node.proc is not None:
                with suppress(subprocess.TimeoutExpired):
                    node.proc.wait(timeout=20)
                _signal_group(node.proc, signal.SIGKILL)  # workers left behind by a dead master, too
                node.proc.wait()
        if self._created_db:
            with suppress(Exception):
                _pg(self.pg_admin, f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        if self._redis_url:
            import redis

            with suppress(Exception):
                redis.Redis.from_url(self._redis_url).flushdb()
        if os.environ.get("YIWANG_CLUSTER_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- node control ------------------------------------------------------------------------------------------

    def start(self, index: int, wait: bool = True) -> None:
        node = self.members[index]
        if node.running:
            return
        module = "bench.cluster_node" if self.fault_control else "idp.cli.main"
        with node.log.open("ab") as log:
            node.proc = subprocess.Popen(
                [sys.executable, "-m", module, "serve", "--port", str(node.port), "--workers", str(self.workers)],
                cwd=self.dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill/drain reach the workers too
            )
        if wait:
            self.wait_ready(index)

    def wait_ready(self, index: int, seconds: float = 300) -> float:
        """Seconds until the node's /readyz answers 200."""
        node, began = self.members[index], time.monotonic()
        while time.monotonic() - began < seconds:
            if node.proc is None or node.proc.poll() is not None:
                raise RuntimeError(f"node {index} exited: {node.log.read_text(errors='replace')[-800:]}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{node.base}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - began
            time.sleep(0.2)
        raise RuntimeError(f"node {index} not ready within {seconds:.0f} s")

    def kill(self, index: int) -> None:
        """SIGKILL to the node and its workers: no goodbye, requests in flight are cut."""
        node = self.members[index]
        if node.proc is not None:
            _signal_group(node.proc, signal.SIGKILL)
            node.proc.wait()

    def drain(self, index: int, seconds: float = 30) -> float:
        """SIGTERM, as an operator stops a node: uvicorn stops accepting and finishes what it has. The seconds
        it took."""
        node, began = self.members[index], time.monotonic()
        if node.proc is not None:
            _signal_group(node.proc, signal.SIGTERM)
            try:
                node.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                _signal_group(node.proc, signal.SIGKILL)
                node.proc.wait()
        return time.monotonic() - began

    def rss_mb(self, index: int) -> float:
        """Resident memory of a node: its master and every worker, in MiB."""
        node = self.members[index]
        if not node.running or node.proc is None:
            return 0.0
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                pgrp = int(stat[stat.rindex(")") + 2 :].split()[2])
                if pgrp == node.proc.pid:
                    status = Path(f"/proc/{entry}/status").read_text()
                    total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return total / 1024

    def balancer_view(self) -> dict[str, str]:
        """HAProxy's state of each node (UP / DOWN / ...), from its stats CSV."""
        with suppress(httpx.TransportError):
            csv = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2).text
            rows = [line.split(",") for line in csv.splitlines() if line.startswith("yiwang,n")]
            return {row[1]: row[17] for row in rows}
        return {}

    def set_provider_faults(self, faults: dict[str, dict[str, Any]]) -> None:
        """What every node's emulators should do, e.g. {"outbox": {"delay_s": 2}} or {"outbox":
        {"always_status": 503}}; {} for none. Nodes pick it up within half a second (`bench.cluster_node`)."""
        tmp = self.faults_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(faults))
        tmp.replace(self.faults_file)

    # --- the CLI against the cluster's data ---------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "idp.cli.main", *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"yiwang {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def yiwang(self, *args: str) -> dict[str, Any]:
        return dict(json.loads(self.cli(*args, "--json").stdout))


def stop_on_signals() -> None:
    """SIGTERM and SIGINT end the program through KeyboardInterrupt, so that every `with Cluster` cleans up (a
    background job started by a shell ignores SIGINT unless told otherwise)."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Start N yiwang nodes behind HAProxy on loopback ports.")
    sub = ap.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster and keep it until Ctrl-C or --lifetime")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--lifetime", type=float, default=600, help="seconds before it stops by itself")
    up.add_argument("--no-redis", action="store_true", help="shared state in PostgreSQL only")
    args = ap.parse_args(argv)

    stop_on_signals()
    cluster = Cluster(
        nodes=args.nodes, workers=args.workers, lifetime=args.lifetime, redis=None if args.no_redis else REDIS
    )
    try:
        with cluster:
            print(f"balancer {cluster.base}  (HAProxy stats http://127.0.0.1:{cluster.stats_port}/stats)")
            for node in cluster.members:
                print(f"node {node.index}    {node.base}  log {node.log}")
            print(f"database {cluster.dbname}; redis {cluster.env.get('YIWANG_REDIS_URL', 'none')}")
            print(f"stops by itself in {args.lifetime:.0f} s; Ctrl-C stops it now")
            cluster._stopped.wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
