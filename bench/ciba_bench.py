"""CIBA throughput and correctness under load, against a real `yiwang serve`.

    uv run python bench/ciba_bench.py [--seconds N] [--concurrency C] [--citizens K] [--workers W]
        [--db sqlite|postgres]

What it does (the load generator shares this machine's CPUs with the server):

1. registers K citizens (phones 139000000xx) directly in a fresh data directory, starts `yiwang serve --workers W`
   (SQLite by default, or a fresh PostgreSQL database it CREATEs and DROPs), raises the rate limits through
   YIWANG_* variables, and registers a CIBA client (poll mode) with `yiwang client add`;
2. backchannel requests/s: C concurrent agents POST /bc-authorize (HTTP Basic, scope openid, a login_hint from the
   K phones, a binding message) for N seconds; reports requests/s, p50/p99 latency and non-200 answers. Each
   request to a registered phone also sends its SMS (a background task after the response);
3. no lost approvals: K concurrent requests (one per citizen), each citizen opening the SMS link from the sandbox
   outbox, signing in by SMS code and approving — all at once — while each agent polls /token at the interval
   asked (slowing down when told); reports how many got their tokens, and any approval that did not turn into
   tokens (lost) or tokens for the wrong person. Expected: K of K, 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

CIBA = "urn:openid:params:grant-type:ciba"
LINK = re.compile(r"/ciba/([A-Za-z0-9_-]{20,64})")
FIELD = r'name="{}" value="([^"]*)"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def id_number(serial: int) -> str:
    """A valid resident ID number (GB 11643 check character) for a citizen born 1980-01-01 in Beijing."""
    body = f"11010519800101{serial % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def phones(k: int) -> list[str]:
    return [f"139000{i:05d}" for i in range(k)]


def register_citizens(env: dict[str, str], workdir: Path, k: int) -> None:
    """In this process, before the server starts: K people with a phone each (an operator's enrolment)."""
    code = (
        "import sys\n"
        "from idp.settings import Settings\n"
        "from idp.runtime import initialise, open_runtime\n"
        "from idp.records import people\n"
        "s = Settings(); initialise(s); rt = open_runtime(s)\n"
        "rows = [l.split() for l in sys.stdin.read().splitlines()]\n"
        "with rt.transaction() as session:\n"
        "    for number, phone in rows:\n"
        "        people.add(session, rt.protector, id_number=number, name='测试', phone=phone)\n"
        "rt.close()\n"
    )
    lines = "\n".join(f"{id_number(i)} {p}" for i, p in enumerate(phones(k)))
    subprocess.run([sys.executable, "-c", code], input=lines, text=True, env=env, cwd=workdir, check=True)


def yiwang(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "idp.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"yiwang {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return dict(json.loads(done.stdout))


def wait_healthy(base: str, proc: subprocess.Popen[bytes], seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become healthy")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def request_load(base: str, auth: tuple[str, str], seconds: float, concurrency: int, k: int) -> dict[str, Any]:
    numbers = phones(k)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    async def agent(i: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            n = i
            while time.monotonic() < deadline:
                started = time.perf_counter()
                data = {"scope": "openid", "login_hint": numbers[n % k], "binding_message": f"工单 {n}"}
                response = await http.post("/bc-authorize", data=data, auth=auth)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1
                n += concurrency

    began = time.monotonic()
    await asyncio.gather(*(agent(i) for i in range(concurrency)))
    elapsed = time.monotonic() - began
    done = sum(statuses.values())
    return {
        "requests": done,
        "requests_per_s": round(statuses[200] / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "non_200": {str(k): v for k, v in statuses.items() if k != 200},
    }


def _field(html: str, name: str) -> str:
    found = re.search(FIELD.format(name), html)
    if not found:
        raise AssertionError(f"no {name} in the page")
    return found.group(1)


async def citizen_approves(base: str, phone: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as http:
        outbox = (await http.get("/sandbox/sms/outbox", params={"phone": phone})).json()["messages"]
        link = next(found.group(1) for m in outbox if (found := LINK.search(m["text"])))
        page = await http.get(f"/ciba/{link}")
        started = await http.post(f"/ciba/{link}/sign-in", data={"csrf": _field(page.text, "csrf")})
        login = await http.get(started.headers["location"])
        form = {"flow": _field(login.text, "flow"), "csrf": _field(login.text, "csrf"), "phone": phone}
        await http.post("/login/sms", data=form)
        outbox = (await http.get("/sandbox/sms/outbox", params={"phone": phone})).json()["messages"]
        response = await http.post(
            "/login/code", data={**form, "code": outbox[0]["code"], "agree": "yes", "decision": "approve"}
        )
        while response.status_code in (302, 303):
            response = await http.get(response.headers["location"])
        done = await http.post(
            f"/ciba/{link}/decide", data={"csrf": _field(response.text, "csrf"), "decision": "approve"}
        )
        if done.status_code != 200 or "notice" not in done.text:
            raise AssertionError(f"approval of {phone[-4:]} not confirmed: HTTP {done.status_code}")


def _payload(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def agent_waits(
    base: str, auth: tuple[str, str], auth_req_id: str, interval: int, until: float
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        polls = 0
        while time.monotonic() < until:
            await asyncio.sleep(interval)
            polls += 1
            response = await http.post("/token", data={"grant_type": CIBA, "auth_req_id": auth_req_id}, auth=auth)
            body = response.json()
            if response.status_code == 200:
                return {"ok": True, "polls": polls, "sub": _payload(body["id_token"])["sub"]}
            if body.get("error") == "slow_down":
                interval += 5
            elif body.get("error") != "authorization_pending":
                return {"ok": False, "polls": polls, "error": body.get("error")}
        return {"ok": False, "polls": polls, "error": "timeout"}


async def approvals(base: str, auth: tuple[str, str], k: int) -> dict[str, Any]:
    numbers = phones(k)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        acks = await asyncio.gather(
            *(
                http.post(
                    "/bc-authorize", data={"scope": "openid", "login_hint": p, "binding_message": "核验"}, auth=auth
                )
                for p in numbers
            )
        )
    bad = [a.status_code for a in acks if a.status_code != 200]
    if bad:
        raise SystemExit(f"backchannel requests refused: {Counter(bad)}")
    ids = [a.json() for a in acks]
    # Poll for as long as the request lives (expires_in), plus one interval for the last poll to land.
    until = time.monotonic() + int(ids[0]["expires_in"]) + int(ids[0]["interval"])
    began = time.monotonic()
    waits = [agent_waits(base, auth, a["auth_req_id"], a["interval"], until) for a in ids]
    citizens = [citizen_approves(base, p) for p in numbers]
    results = await asyncio.gather(*waits, *citizens, return_exceptions=True)
    tokens, approved = results[:k], results[k:]
    failures = [repr(r) for r in approved if isinstance(r, BaseException)]
    got = [t for t in tokens if isinstance(t, dict) and t.get("ok")]
    subs = {t["sub"] for t in got}
    lost = (k - len(failures)) - len(got)
    return {
        "requests": k,
        "approvals_confirmed": k - len(failures),
        "tokens": len(got),
        "lost_approvals": lost,
        "distinct_subjects": len(subs),
        "approval_errors": failures[:5],
        "agent_errors": dict(Counter(str(t.get("error")) for t in tokens if isinstance(t, dict) and not t.get("ok"))),
        "seconds": round(time.monotonic() - began, 1),
        "mean_polls": round(statistics.mean([t["polls"] for t in got]), 1) if got else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--citizens", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ciba-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
        env |= {
            "YIWANG_DATA_DIR": str(workdir / "var"),
            "YIWANG_ISSUER": base,
            "YIWANG_ACCESS_LOG": "false",
            "YIWANG_LOG_LEVEL": "WARNING",
            "YIWANG_CIBA_PER_CLIENT_PER_MINUTE": "1000000000",
            "YIWANG_CIBA_PER_PHONE_PER_HOUR": "1000000000",
            "YIWANG_SMS_PER_IP_PER_10MIN": "1000000000",
            "YIWANG_SMS_PER_PHONE_PER_MINUTE": "1000000",
            "YIWANG_SMS_PER_PHONE_PER_DAY": "1000000000",
        }
        dbname = None
        if args.db == "postgres":
            import psycopg

            dbname = f"ciba_bench_{os.getpid()}"
            with psycopg.connect(args.postgres_admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            env["YIWANG_DATABASE_URL"] = (
                args.postgres_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{dbname}"
            )
        proc = None
        try:
            register_citizens(env, workdir, args.citizens)
            log = (workdir / "server.log").open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port), "--workers", str(args.workers)],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_healthy(base, proc)
            except SystemExit:
                print((workdir / "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            rp = yiwang(env, workdir, "client", "add", "--name", "12345 bench", "--grant", CIBA,
                        "--backchannel-delivery-mode", "poll", "--scope", "openid", "--json")  # fmt: skip
            auth = (rp["client_id"], rp["client_secret"])
            load = asyncio.run(request_load(base, auth, args.seconds, args.concurrency, args.citizens))
            print(json.dumps({"backchannel_requests": load}, ensure_ascii=False))
            flow = asyncio.run(approvals(base, auth, args.citizens))
            print(json.dumps({"concurrent_approvals": flow}, ensure_ascii=False))
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if dbname is not None:
                import psycopg

                with psycopg.connect(args.postgres_admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
