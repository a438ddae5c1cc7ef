"""OIDC provider throughput, ours side by side with panva's oidc-provider: client_credentials grants/s,
first-time logins/s and returning users' SSO logins/s.

    uv run python bench/oidc_bench.py [--seconds N] [--warmup N] [--db postgres|sqlite] [--rounds R]
        [--browsers B] [--driver-procs P] [--workers W] [--skip-reference] [--skip-cc] [--skip-logins] [--profile]

    e.g. the full comparison on a quiet machine, each database:
    uv run python bench/oidc_bench.py --db postgres --seconds 20 --rounds 2
    uv run python bench/oidc_bench.py --db sqlite --seconds 20 --rounds 2
    and a short check that everything works (no figures to keep): --seconds 5 --warmup 1 --skip-cc --browsers 16

What it does, on this machine (load generators share its CPUs with the servers):

1. starts `yiwang serve --workers 2` on a fresh PostgreSQL database it CREATEs (and DROPs at the end), or on
   SQLite in a temporary data directory; registers a client_credentials client and a login client (code + PKCE);
   starts the reference, panva's oidc-provider (bench/reference/server.mjs: two node:cluster workers, in-memory
   adapter) with a client_credentials client and a login client of the same shape;
2. client_credentials: `wrk` POSTs `grant_type=client_credentials` with HTTP Basic auth to /token on each side
   (ES256 JWT access tokens, RFC 9068); grants/s, p50/p99 latency, non-200 and socket errors, the ratio
   ours/reference;
3. first-time logins: B concurrent virtual browsers (asyncio + httpx in P processes, own cookie jars, each on
   its own keep-alive connection as a real browser), a new person each login, on each side in turn:
   - ours (6 requests, the one-page sign-in): GET /authorize -> 303 /login?flow= -> GET /login (hidden flow and
     csrf) -> POST /login/sms (200, the same page) -> GET /sandbox/sms/outbox (the code) -> POST /login/code
     with code, agree=yes, decision=approve (302 straight to the redirect_uri: consent on the same page) ->
     POST /token with the PKCE verifier; scope `openid phone`, a new phone number each login;
   - the reference (8 requests, its devInteractions): GET /auth -> /interaction/:uid (login form) -> POST
     prompt=login, login, password -> GET /auth/:uid -> /interaction/:uid (consent form) -> POST prompt=consent
     -> GET /auth/:uid -> redirect_uri -> POST /token with the verifier; scope `openid`, a new login name each.
     (Its in-memory adapter lives in each worker process: the browser's one connection keeps it on one worker.)
   Both check state, `iss` (RFC 9207) and the ID token's nonce; the reference's access token for this client is
   opaque, ours a JWT;
4. returning users' SSO logins: each browser signs in once (not measured), keeps its cookies and its consent,
   then repeats GET /authorize -> 302/303 to the redirect_uri with a code -> POST /token;
5. reports, per side and kind of login: logins/s, p50/p99 ms, failures by reason, HTTP requests per login,
   server CPU per login (ms: CPU of the server's process tree over the measurement window / logins completed),
   the cores used by the server, PostgreSQL, the driver and the rest of the machine, and the ratios
   ours/reference; for ours on PostgreSQL what the database saw (commits per login, lock waits);
6. with --profile, py-spy samples our workers under each load and prints where the time goes.

--rounds R alternates ours and the reference R times for each measurement (medians in the ratios).
--skip-reference measures ours only; --skip-cc skips the grants (and wrk); --skip-logins skips both kinds of login.

Needs: wrk (`apt-get install -y wrk`) unless --skip-cc, node 20+ and `(cd bench/reference && npm ci)` for the
reference, a PostgreSQL server (default postgresql://postgres@127.0.0.1:5432, trust auth) for --db postgres,
py-spy for --profile (on PATH, else run through `uvx`). Rate limits are raised for the run through YIWANG_*
variables.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import http.cookiejar
import json
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "bench" / "reference"
CC_BODY = "grant_type=client_credentials"
# Every virtual browser comes from 127.0.0.1: the SMS limits are lifted for a run (bench/cluster.py too).
LOAD_SETTINGS = {
    "YIWANG_SMS_PER_IP_PER_10MIN": "1000000000",
    "YIWANG_SMS_PER_PHONE_PER_MINUTE": "1000",
    "YIWANG_SMS_PER_PHONE_PER_DAY": "1000",
    "YIWANG_SMS_PER_PHONE_PER_IP_PER_DAY": "1000000000",
    "YIWANG_SMS_PER_PHONE_FROM_OTHERS_PER_DAY": "1000000000",
    "YIWANG_SMS_MAX_PER_HOUR": "1000000000",
    "YIWANG_SMS_POW_WAIT_S": "0",  # virtual browsers run no JavaScript: no proof of work asked
}

# --- small helpers -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early with status {proc.returncode}")
        with suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {seconds:.0f}s")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


# --- CPU accounting (the machine is shared: report what each side used, and how busy the machine was) ------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, utime+stime ticks, comm) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), comm


def _all_procs() -> dict[int, tuple[int, int, str]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _proc_stat(int(entry))) is not None:
            out[int(entry)] = st
    return out


def tree_ticks(root: int) -> int:
    procs = _all_procs()
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in procs.items():
            if ppid == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    return sum(procs[p][1] for p in members if p in procs)


def named_ticks(name: str) -> int:
    return sum(t for _, t, comm in _all_procs().values() if comm == name)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class CpuWindow:
    """CPU seconds used during a measurement by the server's processes, PostgreSQL, the load generator (set by
    the caller) and the whole machine; `others` is what the rest of the machine (other people's jobs) used."""

    server_pid: int
    generator_s: float = 0.0
    start: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    def _sample(self) -> dict[str, float]:
        busy, total = machine_ticks()
        return {
            "server": tree_ticks(self.server_pid) / TICK,
            "postgres": named_ticks("postgres") / TICK,
            "machine_busy": busy / TICK,
            "machine_total": total / TICK,
            "t": time.monotonic(),
        }

    def __enter__(self) -> CpuWindow:
        self.start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.wall = end["t"] - self.start["t"]
        self.used = {k: end[k] - self.start[k] for k in end if k != "t"}

    def cores(self, name: str) -> float:
        if not self.wall:
            return 0.0
        if name == "generator":
            return self.generator_s / self.wall
        if name == "others":
            mine = self.used.get("server", 0.0) + self.used.get("postgres", 0.0) + self.generator_s
            return max(0.0, self.used.get("machine_busy", 0.0) - mine) / self.wall
        # PostgreSQL backends of other people's jobs that exit during the window would make this negative.
        return max(0.0, self.used.get(name, 0.0)) / self.wall

    @property
    def machine_busy_pct(self) -> float:
        total = self.used.get("machine_total", 0.0)
        return 100.0 * self.used.get("machine_busy", 0.0) / total if total else 0.0


def machine_idle_pct(seconds: float = 1.0) -> float:
    b0, t0 = machine_ticks()
    time.sleep(seconds)
    b1, t1 = machine_ticks()
    return 100.0 * (1 - (b1 - b0) / max(1, t1 - t0))


# --- wrk -------------------------------------------------------------------------------------------------------------

WRK_LUA = r"""
wrk.method = "POST"
wrk.body = "%(body)s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %(basic)s"

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0; first_bad = "" end
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
  end
end
function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    if sample == "" then sample = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"non200":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f,"sample":%%q}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, sample))
end
"""


@dataclass
class WrkResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non200: int
    socket_errors: int
    requests: int
    sample: str
    cpu: CpuWindow

    @property
    def errors(self) -> int:
        return self.non200 + self.socket_errors


def run_wrk(
    name: str, url: str, basic: str, seconds: float, threads: int, connections: int, workdir: Path, server_pid: int
) -> WrkResult:
    script = workdir / f"cc_{secrets.token_hex(4)}.lua"
    script.write_text(WRK_LUA % {"body": CC_BODY, "basic": basic})
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with CpuWindow(server_pid) as cpu:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.generator_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{out}")
    data = json.loads(line.removeprefix("WRKJSON "))
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return WrkResult(
        name=name,
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non200=data["non200"],
        socket_errors=socket_errors,
        requests=data["requests"],
        sample=data["sample"],
        cpu=cpu,
    )


# --- the servers -----------------------------------------------------------------------------------------------------


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for the run (CREATE), dropped afterwards (DROP ... WITH (FORCE))."""
    import psycopg

    name = f"yw_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    try:
        yield f"postgresql+psycopg://{parts.netloc}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgWatch:
    """What PostgreSQL saw of the run: pg_stat_activity of the bench database sampled every 0.1 s (active
    backends, what they wait on, which statements wait for locks) and its pg_stat_database counters."""

    COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted", "deadlocks")

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.admin_url, self.dbname = admin_url, dbname
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()
        self.lock_waiters: Counter[str] = Counter()
        self.delta: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _counters(self) -> dict[str, int]:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute(
                f"SELECT {', '.join(self.COUNTERS)} FROM pg_stat_database WHERE datname = %s", (self.dbname,)
            ).fetchone()
        return dict(zip(self.COUNTERS, row or [0] * len(self.COUNTERS), strict=True))

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 70)"
                    " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.dbname,),
                ).fetchall()
                self.samples += 1
                for state, wtype, wevent, query in rows:
                    self.states[state or "?"] += 1
                    if state == "active":
                        self.waits[f"{wtype}:{wevent}" if wtype else "on CPU"] += 1
                        if wtype == "Lock":
                            self.lock_waiters[query] += 1
                self._stop.wait(0.1)

    def __enter__(self) -> PgWatch:
        self._start = self._counters()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        time.sleep(1.1)  # backends flush their statistics about once a second
        end = self._counters()
        self.delta = {k: int(end[k]) - int(self._start[k]) for k in self.COUNTERS}

    def mean(self, counter: Counter[str], key: str) -> float:
        return counter[key] / self.samples if self.samples else 0.0


def worker_restarts(log: Path) -> int:
    """How many times uvicorn's supervisor replaced a worker ("Child process [..] died")."""
    return log.read_text(errors="replace").count("died")


def wait_stable(master: int, workers: int, log: Path, quiet: float = 10, limit: float = 300) -> int:
    """Wait until `workers` uvicorn workers have run for `quiet` seconds without a restart; return the restarts
    seen so far. (uvicorn kills a worker that misses a 5 s health ping, and a worker that re-imports our CLI
    module under spawn can take longer than that to start on a busy machine: measuring while workers cycle
    would measure their start-ups.)"""
    deadline = time.monotonic() + limit
    last: tuple[set[int], int] | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        procs = _all_procs()
        kids = set()
        for pid, (ppid, _, _) in procs.items():
            if ppid == master:
                with suppress(OSError):
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        kids.add(pid)
        state = (kids, worker_restarts(log))
        if state != last or len(kids) != workers:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return state[1]
        time.sleep(0.5)
    raise SystemExit(f"our workers did not settle within {limit:.0f}s ({last[1] if last else 0} restarts)")


def yiwang(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "idp.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"yiwang {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return dict(json.loads(done.stdout))


@dataclass
class Ours:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path
    restarts_at_start: int
    cc: dict[str, Any]
    rp: dict[str, Any]
    redirect_uri: str


@contextmanager
def start_ours(args: argparse.Namespace, workdir: Path, db_url: str | None) -> Iterator[Ours]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {
        "YIWANG_DATA_DIR": str(workdir / "var"),
        "YIWANG_ISSUER": base,
        "YIWANG_LOG_LEVEL": args.log_level,
        "YIWANG_ACCESS_LOG": "true" if args.access_log else "false",
        "PYTHONUNBUFFERED": "1",
        **LOAD_SETTINGS,
    }
    if db_url:
        env["YIWANG_DATABASE_URL"] = db_url
    if args.redis_url:
        env["YIWANG_REDIS_URL"] = args.redis_url
    log_path = workdir / "yiwang.log"
    log = log_path.open("wb")
    cmd = [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port), "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"{base}/readyz", proc, "yiwang serve")
        cc = yiwang(env, workdir, "client", "add", "--name", "bench service", "--grant", "client_credentials", "--json")
        redirect_uri = f"{base}/rp/cb"
        rp = yiwang(
            env,
            workdir,
            "client",
            "add",
            "--name",
            "bench RP",
            "--redirect-uri",
            redirect_uri,
            "--grant",
            "authorization_code",
            "--scope",
            "openid",
            "--scope",
            "phone",
            "--json",
        )
        restarts = wait_stable(proc.pid, args.workers, log_path) if args.workers > 1 else 0
        yield Ours(base, proc, log_path, restarts, cc, rp, redirect_uri)
    finally:
        stop(proc)
        log.close()


REF_RP = {"client_id": "bench-rp", "client_secret": "rp-s3cret"}


@contextmanager
def start_reference(workdir: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORT": str(port), "WORKERS": str(workers), "CLIENT_ID": "bench", "CLIENT_SECRET": "s3cret"}
    env |= {
        "LOGIN_CLIENT_ID": REF_RP["client_id"],
        "LOGIN_CLIENT_SECRET": REF_RP["client_secret"],
        "REDIRECT_URI": f"{base}/rp/cb",
    }
    log = (workdir / "reference.log").open("wb")
    proc = subprocess.Popen(["node", "server.mjs"], cwd=REFERENCE, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"{base}/.well-known/openid-configuration", proc, "oidc-provider")
        yield base, proc
    finally:
        stop(proc)
        log.close()


def check_cc_token(base: str, client_id: str, secret: str, who: str) -> dict[str, Any]:
    """One grant, checked: 200, an ES256 `at+jwt` whose signature verifies with the issuer's JWKS."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    r = httpx.post(f"{base}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10)
    if r.status_code != 200:
        raise SystemExit(f"{who}: client_credentials answered {r.status_code}: {r.text[:300]}")
    token = r.json()["access_token"]
    header = jwt_part(token, 0)
    if header.get("alg") != "ES256" or header.get("typ", "").lower() != "at+jwt":
        raise SystemExit(f"{who}: not an ES256 at+jwt access token: {header}")
    conf = httpx.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(httpx.get(conf["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token, keys, algorithms=["ES256"]).claims
    return {"header": header, "claims": claims, "bytes": len(r.content)}


# --- complete logins: concurrent virtual browsers ------------------------------------------------------------------

_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_NAME = re.compile(r'\bname="([^"]*)"')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_FORM_ACTION = re.compile(r'<form\b[^>]*\baction="([^"]*)"', re.I)
# Three-digit mobile prefixes every phone-number library accepts (130-139, 150-159 but 154, 180-189): one per
# driver process and measurement, so that every first-time login of a run is a new person.
PREFIXES = [f"13{d}" for d in range(10)] + [f"15{d}" for d in range(10) if d != 4] + [f"18{d}" for d in range(10)]


class LoginFailed(Exception):
    def __init__(self, step: str, response: httpx.Response | None = None, detail: str = "") -> None:
        self.reason = f"{step}: {response.status_code if response is not None else ''} {detail}".strip()
        super().__init__(self.reason)


def hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in _INPUT.findall(html):
        if 'type="hidden"' in tag and (name := _NAME.search(tag)):
            value = _VALUE.search(tag)
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


class VirtualBrowser:
    """One person's browser: its own cookies (sent to every path), manual redirects, on its slot's connection."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.cookies: dict[str, str] = {}
        self.requests = 0

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        r = await self.http.request(method, url, headers=headers, **kw)
        self.requests += 1
        for line in r.headers.get_list("set-cookie"):
            pair, _, attrs = line.partition(";")
            name, _, value = pair.strip().partition("=")
            flat = attrs.lower().replace(" ", "")
            if "max-age=0" in flat or "expires=thu,01jan1970" in flat:  # Starlette / Koa (oidc-provider) delete
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value.strip('"')
        return r


def _location(r: httpx.Response, step: str, status: int = 303) -> str:
    if r.status_code != status or "location" not in r.headers:
        raise LoginFailed(step, r, r.text[:120].replace("\n", " "))
    return r.headers["location"]


def _path(url: str) -> str:
    """oidc-provider redirects with absolute URLs; the browser's connection is to the same origin."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclass
class Authorization:
    """One authorization request of a relying party: PKCE S256, state and nonce, then its checks."""

    ctx: dict[str, str]
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def url(self) -> str:
        query = {
            "client_id": self.ctx["client_id"],
            "redirect_uri": self.ctx["redirect_uri"],
            "response_type": "code",
            "scope": self.ctx["scope"],
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": b64url(hashlib.sha256(self.verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        return f"{self.ctx['authorize']}?{urlencode(query)}"

    async def finish(self, b: VirtualBrowser, back: str) -> None:
        """The authorization response (code, state, iss: RFC 9207) and the token request with the verifier."""
        if not back.startswith(self.ctx["redirect_uri"] + "?"):
            raise LoginFailed("redirect back", None, back[:80])
        params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        if params.get("state") != self.state or params.get("iss") != self.ctx["issuer"] or "code" not in params:
            raise LoginFailed("authorization response", None, str(sorted(params)))
        r = await b.request(
            "POST",
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.ctx["redirect_uri"],
                "code_verifier": self.verifier,
            },
            auth=(self.ctx["client_id"], self.ctx["client_secret"]),
        )
        if r.status_code != 200 or "id_token" not in r.json():
            raise LoginFailed("token", r, r.text[:120])
        if jwt_part(r.json()["id_token"], 1).get("nonce") != self.nonce:
            raise LoginFailed("token", r, "nonce")


async def login_ours(b: VirtualBrowser, ctx: dict[str, str], phone: str) -> None:
    """authorize -> login page -> send code (same page back) -> [sandbox outbox] -> code + agreement + consent
    (straight back to the client) -> token."""
    az = Authorization(ctx)
    loc = _location(await b.request("GET", az.url), "authorize")
    if not loc.startswith("/login?flow="):
        raise LoginFailed("expected login page", None, loc[:80])
    page = await b.request("GET", loc)
    if page.status_code != 200:
        raise LoginFailed("login page", page)
    form = {**hidden_fields(page.text), "phone": phone}
    if not {"flow", "csrf"} <= form.keys():
        raise LoginFailed("login page", page, "no flow/csrf")
    sent = await b.request("POST", "/login/sms", data=form)
    if sent.status_code != 200 or 'name="code"' not in sent.text:
        raise LoginFailed("send sms", sent, sent.text[:120].replace("\n", " "))
    outbox = await b.request("GET", "/sandbox/sms/outbox", params={"phone": phone})
    messages = outbox.json().get("messages") if outbox.status_code == 200 else None
    if not messages or not messages[0].get("code"):
        raise LoginFailed("sms outbox", outbox)
    form |= {**hidden_fields(sent.text), "code": messages[0]["code"], "agree": "yes", "decision": "approve"}
    back = _location(await b.request("POST", "/login/code", data=form), "check code", 302)
    await az.finish(b, back)


async def login_reference(b: VirtualBrowser, ctx: dict[str, str], login: str) -> None:
    """oidc-provider's devInteractions: /auth -> /interaction/:uid (login form) -> POST login + password ->
    /auth/:uid -> /interaction/:uid (consent form) -> POST -> /auth/:uid -> back to the client -> token."""
    az = Authorization(ctx)
    loc = _path(_location(await b.request("GET", az.url), "auth"))
    for prompt, extra in (("login", {"login": login, "password": "bench"}), ("consent", {})):
        if not loc.startswith("/interaction/"):
            raise LoginFailed(f"expected {prompt} interaction", None, loc[:80])
        page = await b.request("GET", loc)
        if page.status_code != 200:
            raise LoginFailed(f"{prompt} page", page)
        fields = hidden_fields(page.text)
        action = _FORM_ACTION.search(page.text)
        if fields.get("prompt") != prompt or action is None:
            raise LoginFailed(f"{prompt} page", page, f"prompt {fields.get('prompt')!r}")
        resume = _path(_location(await b.request("POST", action.group(1), data={**fields, **extra}), prompt))
        if not resume.startswith(ctx["authorize"] + "/"):
            raise LoginFailed(f"resume after {prompt}", None, resume[:80])
        loc = _path(_location(await b.request("GET", resume), f"resume after {prompt}"))
    await az.finish(b, ctx["issuer"] + loc if loc.startswith("/") else loc)


async def sso(b: VirtualBrowser, ctx: dict[str, str]) -> None:
    """A returning user (live session, consent remembered): authorize -> straight back with a code -> token."""
    az = Authorization(ctx)
    status = 302 if ctx["kind"] == "ours" else 303
    await az.finish(b, _location(await b.request("GET", az.url), "authorize (sso)", status))


def _user(ctx: dict[str, str], prefix: str, n: int) -> str:
    return f"{prefix}{n:08d}" if ctx["kind"] == "ours" else f"user-{prefix}-{n}"


async def _drive(job: dict[str, Any], ready: Any, go: Any, times: Any) -> dict[str, Any]:
    """One driver process: `job["browsers"]` virtual browsers, each on its own keep-alive connection (as a real
    browser; it also keeps the reference's per-process memory on one worker). A first-time login is a new
    browser (no cookies) and a new person on the slot's connection; an SSO browser first signs in once (not
    measured) and then repeats its returning-user login with the same cookies."""
    ctx, mode, prefix = job["ctx"], job["mode"], job["prefix"]
    login = login_ours if ctx["kind"] == "ours" else login_reference
    done: list[float] = []
    failures: Counter[str] = Counter()
    requests, counter = 0, job["first"]

    def failed(exc: Exception, when: str = "") -> None:
        reason = exc.reason if isinstance(exc, LoginFailed) else f"http: {type(exc).__name__}"
        failures[when + reason] += 1

    def new_client() -> httpx.AsyncClient:
        jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # manual
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(base_url=ctx["base"], cookies=jar, limits=limits, timeout=httpx.Timeout(30.0))

    async def first(client: httpx.AsyncClient) -> VirtualBrowser:
        nonlocal counter
        counter += 1
        b = VirtualBrowser(client)
        await login(b, ctx, _user(ctx, prefix, counter))
        return b

    async def setup(client: httpx.AsyncClient) -> VirtualBrowser | None:
        if mode != "sso":
            return None
        try:
            return await first(client)
        except (LoginFailed, httpx.HTTPError) as exc:
            failed(exc, "sso set-up: ")
            return None

    clients = [new_client() for _ in range(job["browsers"])]
    try:
        signed_in = await asyncio.gather(*(setup(c) for c in clients))
        ready.put(os.getpid())
        await asyncio.to_thread(go.wait)
        t_measure, t_end = times[0], times[1]
        cpu0, t0 = time.process_time(), time.time()

        async def browser(client: httpx.AsyncClient, returning: VirtualBrowser | None) -> None:
            nonlocal requests
            if mode == "sso" and returning is None:
                return
            while time.time() < t_end:
                started = time.perf_counter()
                try:
                    if returning is not None:
                        before = returning.requests
                        await sso(returning, ctx)
                        used = returning.requests - before
                    else:
                        used = (await first(client)).requests
                except (LoginFailed, httpx.HTTPError) as exc:
                    failed(exc)
                    continue
                if t_measure <= time.time() <= t_end:
                    done.append(time.perf_counter() - started)
                    requests += used

        await asyncio.gather(*(browser(c, b) for c, b in zip(clients, signed_in, strict=True)))
        cpu = time.process_time() - cpu0
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return {"latencies": done, "failures": dict(failures), "requests": requests, "cpu": cpu, "busy_s": t_end - t0}


def drive_process(job: dict[str, Any], ready: Any, results: Any, go: Any, times: Any) -> None:
    try:
        results.put(asyncio.run(_drive(job, ready, go, times)))
    except BaseException as exc:
        ready.put(os.getpid())  # never leave the parent waiting for a process that died setting up
        results.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


@dataclass
class Side:
    """A server under test, as the virtual browsers see it."""

    name: str
    pid: int
    ctx: dict[str, str]


@dataclass
class LoginResult:
    side: str
    mode: str
    pg: PgWatch | None
    rate: float
    p50_ms: float
    p99_ms: float
    completed: int
    failures: dict[str, int]
    requests: int
    driver_cores: float
    cpu: CpuWindow

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def per_login(self) -> float:
        return self.requests / self.completed if self.completed else float("nan")

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu.used.get("server", 0.0) / self.completed if self.completed else float("nan")


_runs = 0


def run_logins(
    side: Side,
    mode: str,
    seconds: float,
    warmup: float,
    browsers: int,
    procs: int,
    pg: PgWatch | None = None,
    window: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> LoginResult:
    """`mode` "first": first-time logins, a new person each; "sso": returning users' logins. The measurement
    window opens once every driver process has started (and, for SSO, signed its browsers in once); `window`
    wraps it (a profiler)."""
    global _runs
    jobs = []
    for i in range(procs):
        slot = _runs * procs + i
        n = browsers // procs + (1 if i < browsers % procs else 0)
        # Past the prefixes, the counter's leading digit tells runs apart (no run makes 10 million logins).
        first = 10_000_000 * (slot // len(PREFIXES))
        jobs.append(
            {"ctx": side.ctx, "mode": mode, "browsers": n, "prefix": PREFIXES[slot % len(PREFIXES)], "first": first}
        )
    _runs += 1
    mp = multiprocessing.get_context("spawn")
    ready, results_q, go, times = mp.Queue(), mp.Queue(), mp.Event(), mp.Array("d", 2)
    workers = [mp.Process(target=drive_process, args=(job, ready, results_q, go, times), daemon=True) for job in jobs]
    for w in workers:
        w.start()
    try:
        for _ in workers:
            ready.get(timeout=300)
        t_measure = time.time() + 0.2 + warmup
        times[0], times[1] = t_measure, t_measure + seconds
        go.set()
        time.sleep(max(0.0, t_measure - time.time()))
        with window(), CpuWindow(side.pid) as cpu, pg if pg is not None else nullcontext():
            time.sleep(max(0.0, t_measure + seconds - time.time()))
        results = [results_q.get(timeout=120) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.kill()
    if errors := [r["error"] for r in results if "error" in r]:
        raise SystemExit(f"a driver process failed: {errors[0]}")
    latencies = sorted(x for r in results for x in r["latencies"])
    failures: Counter[str] = Counter()
    for r in results:
        failures.update(r["failures"])
    cpu.generator_s = sum(r["cpu"] for r in results) * seconds / max(1e-9, max(r["busy_s"] for r in results))
    return LoginResult(
        side=side.name,
        mode=mode,
        pg=pg,
        rate=len(latencies) / seconds,
        p50_ms=1000 * statistics.median(latencies) if latencies else float("nan"),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan"),
        completed=len(latencies),
        failures=dict(failures),
        requests=sum(r["requests"] for r in results),
        driver_cores=sum(r["cpu"] / max(r["busy_s"], 1e-9) for r in results),
        cpu=cpu,
    )


# --- profiling -----------------------------------------------------------------------------------------------------


def py_spy_cmd() -> list[str] | None:
    if shutil.which("py-spy"):
        return ["py-spy"]
    if shutil.which("uvx"):
        return ["uvx", "--from", "py-spy", "py-spy"]
    return None


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_AREAS = [
    ("/idp/", "idp (ours)"),
    ("/keys/", "keys (ours)"),
    ("/sqlalchemy/", "sqlalchemy"),
    ("/psycopg", "psycopg"),
    ("/authlib/", "authlib"),
    ("/joserfc/", "joserfc"),
    ("/cryptography/", "cryptography"),
    ("/starlette/", "starlette"),
    ("/fastapi/", "fastapi"),
    ("/pydantic", "pydantic"),
    ("/uvicorn/", "uvicorn"),
    ("/httptools/", "httptools"),
    ("/anyio/", "anyio"),
    ("/jinja2/", "jinja2"),
    ("/markupsafe/", "jinja2"),
    ("/structlog/", "logging (structlog + stdlib)"),
    ("/logging/", "logging (structlog + stdlib)"),
    ("/multipart/", "python-multipart"),
    ("/python_multipart/", "python-multipart"),
    ("/phonenumbers/", "phonenumbers"),
    ("/json/", "json"),
    ("/re/", "re"),
    ("/concurrent/", "threads"),
    ("/threading.py", "threads"),
    ("/queue.py", "threads"),
    ("/asyncio/", "asyncio"),
]
# Leaf frames that are waiting, not computing (py-spy can't always tell a blocked thread from a busy one).
_WAITS = {
    "Connection.wait": "PostgreSQL round trips (psycopg Connection.wait)",
    "wait": "PostgreSQL round trips (psycopg Connection.wait)",
    "Condition.wait": "idle worker threads / locks (threading)",
    "Lock.acquire": "idle worker threads / locks (threading)",
    "Event.wait": "idle worker threads / locks (threading)",
    "Runner.run": "event loop waiting for I/O",
    "BaseEventLoop.run_forever": "event loop waiting for I/O",
    "EpollSelector.select": "event loop waiting for I/O",
    "select": "event loop waiting for I/O",
    "Connection._recv": "uvicorn supervisor ping (idle)",
}


def _area(file: str) -> str:
    path = "/" + file
    for needle, label in _AREAS:
        if needle in path:
            return label
    return "other: " + Path(file).name


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def profile_summary(raw: Path, top: int) -> str:
    """Where our workers' time went, from py-spy's collapsed stacks: waits apart, then CPU by library and by
    function (self time), and inclusive time of our functions and the libraries' entry points."""
    waits: Counter[str] = Counter()
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = cpu_total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = []
        for f in stack.split(";"):
            m = _FRAME.match(f.strip())
            if m and not f.startswith(("process ", "thread ")):
                frames.append((m.group("func"), m.group("file")))
        if not frames:
            continue
        total += n
        func, file = frames[-1]
        if func in _WAITS:
            waits[_WAITS[func]] += n
            continue
        cpu_total += n
        self_t[f"{func} ({_short(file)})"] += n
        areas[_area(file)] += n
        for name in {f"{fn} ({_short(fl)})" for fn, fl in frames}:
            incl[name] += n
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples; waiting (leaf frame is a wait):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in waits.most_common()]
    lines.append(f"  computing: {100 * cpu_total / total:.1f}% of samples; below, shares of the computing samples")
    if not cpu_total:
        return "\n".join(lines)
    lines.append("  self time by library:")
    lines += [f"    {100 * n / cpu_total:5.1f}%  {name}" for name, n in areas.most_common(top)]
    lines.append("  self time by function:")
    lines += [f"    {100 * n / cpu_total:5.1f}%  {name}" for name, n in self_t.most_common(top)]
    lines.append("  inclusive time, our code and library entry points:")
    shown = 0
    for name, n in incl.most_common():
        if name.split(" (", 1)[1].startswith(("idp/", "keys/")) or any(
            k in name
            for k in (
                "authlib/oauth2/rfc6749/authorization_server.py",
                "joserfc/jwt.py",
                "jinja2/environment.py",
                "sqlalchemy/orm/session.py",
                "starlette/formparsers.py",
                "logging/__init__.py",
            )
        ):
            lines.append(f"    {100 * n / cpu_total:5.1f}%  {name}")
            shown += 1
            if shown >= top:
                break
    return "\n".join(lines)


@contextmanager
def py_spy(pid: int, out: Path, seconds: float) -> Iterator[None]:
    cmd = py_spy_cmd()
    if cmd is None:
        raise SystemExit("--profile needs py-spy: `uv tool install py-spy` or `pip install py-spy`")
    rec = subprocess.Popen(
        [*cmd, "record", "--pid", str(pid), "--subprocesses", "--rate", "250"]
        + ["--format", "raw", "--duration", str(int(seconds)), "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)  # py-spy attaches
    try:
        yield
    finally:
        try:
            _, err = rec.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            rec.kill()
            err = b""
        if not out.exists():
            print(f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}", file=sys.stderr)


# --- the run ---------------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15, help="length of each measurement (default 15)")
    ap.add_argument("--warmup", type=float, default=3, help="warm-up before each measurement (default 3)")
    ap.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--redis-url", default=None, help="YIWANG_REDIS_URL for our server (rate counters in Redis)")
    ap.add_argument("--workers", type=int, default=2, help="server workers, ours and the reference's (default 2)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    ap.add_argument("--browsers", type=int, default=48, help="concurrent virtual browsers (default 48)")
    ap.add_argument("--driver-procs", type=int, default=2, help="processes running the browsers (default 2)")
    ap.add_argument("--rounds", type=int, default=1, help="alternate ours/reference this many times (default 1)")
    ap.add_argument("--log-level", default="INFO", help="our server's log level (INFO logs every request)")
    ap.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="our per-request JSON access log (off by default, as oidc-provider logs nothing per request)",
    )
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-cc", action="store_true")
    ap.add_argument("--skip-logins", action="store_true")
    ap.add_argument("--profile", action="store_true", help="py-spy our workers under each load, print top functions")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, profiles)")
    args = ap.parse_args()

    if not args.skip_cc and not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk   (Debian package `wrk`)", file=sys.stderr)
        return 2
    with_reference = not args.skip_reference and not (args.skip_cc and args.skip_logins)
    if with_reference:
        if not shutil.which("node"):
            print("node (20+) is needed for the reference, or pass --skip-reference", file=sys.stderr)
            return 2
        if not (REFERENCE / "node_modules" / "oidc-provider").exists():
            print("the reference is not installed: (cd bench/reference && npm ci)", file=sys.stderr)
            return 2

    workdir = Path(tempfile.mkdtemp(prefix="yw-bench-"))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, idle {machine_idle_pct():.0f}%")
    print(f"workdir: {workdir}")
    cc_ours: list[WrkResult] = []
    cc_ref: list[WrkResult] = []
    logins: list[LoginResult] = []
    profiles: dict[str, str] = {}
    restarts = (0, 0)
    try:
        db_cm = postgres_database(args.pg_admin_url) if args.db == "postgres" else nullcontext(None)
        with db_cm as db_url, start_ours(args, workdir, db_url) as ours:
            print(f"ours: yiwang serve --workers {args.workers} on {ours.base} ({args.db})", flush=True)
            basic_ours = base64.b64encode(f"{ours.cc['client_id']}:{ours.cc['client_secret']}".encode()).decode()
            with start_reference(workdir, args.workers) if with_reference else nullcontext(None) as ref:
                if not args.skip_cc:
                    cc_ours, cc_ref, profile = measure_cc(args, workdir, ours, basic_ours, ref)
                    if profile:
                        profiles["client_credentials"] = profile
                if not args.skip_logins:
                    logins = measure_logins(args, workdir, ours, ref, db_url, profiles)
            restarts = (ours.restarts_at_start, worker_restarts(ours.log) - ours.restarts_at_start)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    report(args, cc_ours, cc_ref, logins, profiles, restarts)
    return 0


def measure_logins(
    args: argparse.Namespace,
    workdir: Path,
    ours: Ours,
    ref: tuple[str, subprocess.Popen[bytes]] | None,
    db_url: str | None,
    profiles: dict[str, str],
) -> list[LoginResult]:
    """First-time logins, then returning users' SSO logins; each on both sides, alternating, same settings."""
    sides = [
        Side(
            "yiwang",
            ours.proc.pid,
            {
                "kind": "ours",
                "base": ours.base,
                "issuer": ours.base,
                "authorize": "/authorize",
                "scope": "openid phone",
                "redirect_uri": ours.redirect_uri,
                **{k: ours.rp[k] for k in ("client_id", "client_secret")},
            },
        )
    ]
    if ref is not None:
        ctx = {"kind": "reference", "base": ref[0], "issuer": ref[0], "authorize": "/auth", "scope": "openid"}
        sides.append(Side("oidc-provider", ref[1].pid, {**ctx, **REF_RP, "redirect_uri": f"{ref[0]}/rp/cb"}))
    dbname = urlsplit(db_url).path.lstrip("/") if db_url else ""
    print(f"logins: {args.browsers} virtual browsers in {args.driver_procs} processes ...", flush=True)
    results = []
    for mode in ("first", "sso"):
        for rnd in range(args.rounds):
            for side in sides if rnd % 2 == 0 else sides[::-1]:
                watch = PgWatch(args.pg_admin_url, dbname) if db_url and side.ctx["kind"] == "ours" else None
                r = run_logins(side, mode, args.seconds, args.warmup, args.browsers, args.driver_procs, watch)
                results.append(r)
                print(
                    f"  {MODES[mode]}, {side.name} (round {rnd + 1}): {r.rate:.1f}/s p50 {r.p50_ms:.0f} ms "
                    f"p99 {r.p99_ms:.0f} ms, {r.per_login:.1f} requests and {r.cpu_ms:.1f} ms server CPU per login, "
                    f"failures {r.failed}",
                    flush=True,
                )
        if args.profile:
            out = workdir / f"profile_{mode}.txt"
            secs = max(8, args.seconds)
            profiled = partial(py_spy, ours.proc.pid, out, secs)
            run_logins(sides[0], mode, secs, 0, args.browsers, args.driver_procs, window=profiled)
            if out.exists():
                profiles[MODES[mode]] = profile_summary(out, args.profile_top)
    return results


MODES = {"first": "first-time logins", "sso": "returning users' SSO logins"}


def measure_cc(
    args: argparse.Namespace, workdir: Path, ours: Ours, basic_ours: str, ref: tuple[str, Any] | None
) -> tuple[list[WrkResult], list[WrkResult], str | None]:
    t = check_cc_token(ours.base, ours.cc["client_id"], ours.cc["client_secret"], "ours")
    print(f"ours issues {t['header']['alg']} {t['header']['typ']} ({t['bytes']} bytes), signature ok")
    sides = [("yiwang", ours.base, basic_ours, ours.proc.pid)]
    if ref:
        t = check_cc_token(ref[0], "bench", "s3cret", "reference")
        print(f"reference issues {t['header']['alg']} {t['header']['typ']} ({t['bytes']} bytes), signature ok")
        sides.append(("oidc-provider", ref[0], base64.b64encode(b"bench:s3cret").decode(), ref[1].pid))
    results: dict[str, list[WrkResult]] = {"yiwang": [], "oidc-provider": []}
    for rnd in range(args.rounds):
        for name, base, basic, pid in sides if rnd % 2 == 0 else sides[::-1]:
            url = f"{base}/token"
            run_wrk(name, url, basic, args.warmup, args.threads, args.connections, workdir, pid)  # warm-up
            label = f"{name} (round {rnd + 1})"
            r = run_wrk(label, url, basic, args.seconds, args.threads, args.connections, workdir, pid)
            results[name].append(r)
            print(
                f"  {label}: {r.rps:,.0f}/s p50 {r.p50_ms:.1f} ms p99 {r.p99_ms:.1f} ms errors {r.errors}", flush=True
            )
    profile = None
    if args.profile:
        out = workdir / "profile_cc.txt"
        secs = max(8, args.seconds)
        with py_spy(ours.proc.pid, out, secs):
            run_wrk(
                "profiled",
                f"{ours.base}/token",
                basic_ours,
                secs - 2,
                args.threads,
                args.connections,
                workdir,
                ours.proc.pid,
            )
        if out.exists():
            profile = profile_summary(out, args.profile_top)
    return results["yiwang"], results["oidc-provider"], profile


def report(
    args: argparse.Namespace,
    cc_ours: list[WrkResult],
    cc_ref: list[WrkResult],
    logins: list[LoginResult],
    profiles: dict[str, str],
    restarts: tuple[int, int],
) -> None:
    print()
    if cc_ours:
        print(
            f"== client_credentials grants, ES256 JWT access tokens: wrk -t{args.threads} -c{args.connections}, "
            f"{args.seconds:g} s each, {args.workers} server workers, db {args.db}"
        )
        print(
            "| server                  |  grants/s | p50 ms | p99 ms | errors | server cores | grants/CPU-s | wrk cores | others |"
        )
        print(
            "|-------------------------|-----------|--------|--------|--------|--------------|--------------|-----------|--------|"
        )
        for r in [*cc_ours, *cc_ref]:
            c = r.cpu
            per_cpu = r.rps / max(c.cores("server"), 1e-9)
            print(
                f"| {r.name:<23} | {r.rps:>9,.0f} | {r.p50_ms:>6.1f} | {r.p99_ms:>6.1f} | {r.errors:>6} "
                f"| {c.cores('server'):>12.2f} | {per_cpu:>12,.0f} | {c.cores('generator'):>9.2f} "
                f"| {c.cores('others'):>6.2f} |"
            )
        print("  errors = non-200 responses + socket errors; cores = CPU used, in cores of the machine's")
        print(f"  {os.cpu_count()}; others = CPU that other processes on the machine took meanwhile.")
        for r in [*cc_ours, *cc_ref]:
            if r.errors:
                print(f"  {r.name}: {r.non200} non-200, {r.socket_errors} socket errors; first: {r.sample!r}")
        if cc_ref:
            ours = statistics.median(r.rps for r in cc_ours)
            ref = statistics.median(r.rps for r in cc_ref)
            ours_pc = statistics.median(r.rps / max(r.cpu.cores("server"), 1e-9) for r in cc_ours)
            ref_pc = statistics.median(r.rps / max(r.cpu.cores("server"), 1e-9) for r in cc_ref)
            verdict = "meets" if ours >= ref else "misses"
            print(
                f"  ours/reference: {ours / ref:.2f}x grants/s ({ours:,.0f} vs {ref:,.0f}; target >= 1.0x: {verdict}); "
                f"{ours_pc / ref_pc:.2f}x grants per server CPU-second"
            )
    for mode in ("first", "sso"):
        runs = [r for r in logins if r.mode == mode]
        if runs:
            report_logins(args, mode, runs)
    if restarts[0]:
        print(
            f"\nnote: uvicorn replaced {restarts[0]} starting worker(s) that missed its 5 s health ping before the "
            "workers settled (measurements began after they did)"
        )
    if restarts[1]:
        print(f"WARNING: uvicorn replaced {restarts[1]} worker(s) during the measurements: figures are disturbed")
    for name, text in profiles.items():
        print()
        print(f"== profile of our workers under the {name} load (py-spy)")
        print(text)


def report_logins(args: argparse.Namespace, mode: str, runs: list[LoginResult]) -> None:
    journeys = {
        "first": "yiwang: authorize > login page > send code > [outbox] > code + agreement + consent > token; "
        "oidc-provider: auth > login page > login > resume > consent page > consent > resume > token",
        "sso": "authorize > code > token, with the session cookie and the consent of an earlier login",
    }
    print()
    print(
        f"== {MODES[mode]} ({'a new person each' if mode == 'first' else 'one person per browser'}), "
        f"{args.browsers} virtual browsers in {args.driver_procs} processes, {args.seconds:g} s each, "
        f"{args.workers} server workers, db {args.db}{', rate counters in Redis' if args.redis_url else ''}"
    )
    print(f"  {journeys[mode]}")
    print(
        "| server                  | logins/s | p50 ms | p99 ms |  done | failed | req/login | CPU ms/login "
        "| server cores | postgres | driver | others |"
    )
    print(
        "|-------------------------|----------|--------|--------|-------|--------|-----------|--------------"
        "|--------------|----------|--------|--------|"
    )
    rounds = Counter[str]()
    for r in runs:
        rounds[r.side] += 1
        c = r.cpu
        name = f"{r.side} (round {rounds[r.side]})"
        print(
            f"| {name:<23} | {r.rate:>8.1f} | {r.p50_ms:>6.0f} | {r.p99_ms:>6.0f} | {r.completed:>5} | {r.failed:>6} "
            f"| {r.per_login:>9.1f} | {r.cpu_ms:>12.1f} | {c.cores('server'):>12.2f} | {c.cores('postgres'):>8.2f} "
            f"| {c.cores('generator'):>6.2f} | {c.cores('others'):>6.2f} |"
        )
    print("  req/login = HTTP requests per completed login (ours counts its sandbox SMS outbox read); CPU ms/login =")
    print("  CPU of the server's processes per completed login (PostgreSQL's apart, in the postgres column).")
    for r in runs:
        for reason, n in sorted(r.failures.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {r.side} failure x{n}: {reason}")
    ours = [r for r in runs if r.side == "yiwang"]
    ref = [r for r in runs if r.side != "yiwang"]
    if ours and mode == "first":
        rate = statistics.median(r.rate for r in ours)
        print(f"  target >= 150 logins/s: {'meets' if rate >= 150 else 'misses'} ({rate:.1f}/s)")
    if ours and ref:
        o_rate, r_rate = statistics.median(r.rate for r in ours), statistics.median(r.rate for r in ref)
        o_cpu, r_cpu = statistics.median(r.cpu_ms for r in ours), statistics.median(r.cpu_ms for r in ref)
        o_p50, r_p50 = statistics.median(r.p50_ms for r in ours), statistics.median(r.p50_ms for r in ref)
        print(
            f"  ours/reference: {o_rate / max(r_rate, 1e-9):.2f}x logins/s ({o_rate:.1f} vs {r_rate:.1f}), "
            f"{o_p50 / max(r_p50, 1e-9):.2f}x p50, {o_cpu / max(r_cpu, 1e-9):.2f}x server CPU per login "
            f"({o_cpu:.1f} vs {r_cpu:.1f} ms)"
        )
    for r in ours:
        pg = r.pg
        if pg is not None and pg.samples:
            per = max(r.completed, 1)
            d = pg.delta
            print(
                f"  PostgreSQL per completed login: {d['xact_commit'] / per:.1f} commits, "
                f"{d['tup_inserted'] / per:.1f} rows inserted, {d['tup_updated'] / per:.1f} updated "
                f"({d['xact_rollback']} rollbacks, {d['deadlocks']} deadlocks in the run)"
            )
            states = ", ".join(f"{k} {pg.mean(pg.states, k):.1f}" for k, _ in pg.states.most_common())
            print(f"  backends (mean of {pg.samples} samples): {states}")
            waits = ", ".join(f"{k} {pg.mean(pg.waits, k):.2f}" for k, _ in pg.waits.most_common(6))
            print(f"  active backends by wait: {waits}")
            for query, n in pg.lock_waiters.most_common(3):
                print(f"  waiting for a lock ({n / pg.samples:.2f} backends on average): {query}")


if __name__ == "__main__":
    sys.exit(main())
