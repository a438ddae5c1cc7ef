"""Device-grant polls per second against `yiwang serve`, with concurrent kiosks each completing an approval.

    uv run python bench/device_bench.py [--kiosks 50] [--workers 2] [--database-url URL] [--polite]

1. starts `yiwang serve` on a free port with a fresh data directory (SQLite unless --database-url) and
   registers a shared-device kiosk client with the device grant (`yiwang client add`);
2. N simulated kiosks each ask for a device code (POST /device_authorization) and poll /token;
   by default back to back, the worst case (every answer is slow_down or authorization_pending, and each is a
   database write: the poll time and the interval); with --polite they wait the interval as RFC 8628 §3.5 says;
3. for every kiosk a simulated phone, over HTTP through the real pages, opens the verification URI, signs in
   by SMS (the sandbox outbox), and approves;
4. reports polls/s over the run, the answers seen, and lost approvals: approvals the phone saw confirmed for
   which the kiosk never got tokens (must be 0), plus a check that each device code then refuses a second use.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"yiwang serve exited early with status {proc.returncode}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"yiwang serve did not become ready within {seconds:.0f}s")


def field_of(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    if not found:
        raise AssertionError(f"no {name} in the page")
    return found.group(1)


@dataclass
class Tally:
    polls: int = 0
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    approved: int = 0
    tokens: int = 0
    reused_refused: int = 0
    errors: list[str] = field(default_factory=list)


async def phone_approves(base: str, complete_uri: str, phone: str, tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        page = await http.get(complete_uri)
        entered = await http.post(
            "/device", data={"user_code": field_of(page.text, "user_code"), "csrf": field_of(page.text, "csrf")}
        )
        location = entered.headers.get("location", "")
        if location.startswith("/login"):
            login = await http.get(location)
            form = {"flow": field_of(login.text, "flow"), "csrf": field_of(login.text, "csrf"), "phone": phone}
            await http.post("/login/sms", data=form)
            code = (await http.get("/sandbox/sms/outbox", params={"phone": phone})).json()["messages"][0]["code"]
            signed = await http.post("/login/code", data={**form, "code": code, "agree": "yes", "decision": "approve"})
            location = signed.headers.get("location", "")
        if not location.startswith("/device/confirm"):
            raise AssertionError(f"phone {phone[-4:]}: expected the approval page, got {location!r}")
        confirm = await http.get(location)
        form = {"flow": field_of(confirm.text, "flow"), "csrf": field_of(confirm.text, "csrf"), "decision": "approve"}
        done = await http.post("/device/confirm", data=form)
        if done.headers.get("location") != "/device/done?result=approved":
            raise AssertionError(f"phone {phone[-4:]}: approval not confirmed ({done.status_code})")
        tally.approved += 1


async def kiosk(base: str, client_id: str, index: int, polite: bool, tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        started = await http.post("/device_authorization", data={"client_id": client_id, "scope": "openid phone"})
        grant = started.json()
        phone = f"1390000{index:04d}"
        approval = asyncio.create_task(
            phone_approves(base, grant["verification_uri_complete"].removeprefix(base), phone, tally)
        )
        interval = grant["interval"]
        form = {"grant_type": DEVICE_CODE, "device_code": grant["device_code"], "client_id": client_id}
        while True:
            if polite:
                await asyncio.sleep(interval)
            try:
                answer = await http.post("/token", data=form)
            except httpx.TransportError:  # a dropped connection: a kiosk polls again, as it would after a 503
                tally.answers["connection_error"] += 1
                continue
            tally.polls += 1
            if answer.status_code == 503:
                tally.answers["busy_503"] += 1
                await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                continue
            body = answer.json()
            if answer.status_code == 200:
                tally.tokens += 1
                tally.answers["tokens"] += 1
                break
            tally.answers[body["error"]] += 1
            if body["error"] == "slow_down":
                interval += 5
            elif body["error"] != "authorization_pending":
                tally.errors.append(f"kiosk {index}: {body['error']}")
                break
        await approval
        again = await http.post("/token", data=form)
        if again.status_code == 400 and again.json().get("error") == "invalid_grant":
            tally.reused_refused += 1


async def run(base: str, client_id: str, kiosks: int, polite: bool) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    results = await asyncio.gather(
        *(kiosk(base, client_id, i, polite, tally) for i in range(kiosks)), return_exceptions=True
    )
    elapsed = time.perf_counter() - started
    tally.errors += [repr(r) for r in results if isinstance(r, BaseException)]
    return tally, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    ap.add_argument("--polite", action="store_true", help="wait the interval between polls (RFC 8628 §3.5)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="device-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
        env |= {
            "YIWANG_DATA_DIR": str(workdir / "var"),
            "YIWANG_ISSUER": base,
            "YIWANG_ACCESS_LOG": "false",
            "PYTHONUNBUFFERED": "1",
            # Every simulated phone comes from 127.0.0.1: lift the per-address limits for the run.
            "YIWANG_SMS_PER_IP_PER_10MIN": "1000000",
            "YIWANG_DEVICE_GUESSES_PER_IP_PER_10MIN": "1000000",
            "YIWANG_DEVICE_POLL_INTERVAL": "1",
        }
        if args.database_url:
            env["YIWANG_DATABASE_URL"] = args.database_url
        log = (workdir / "yiwang.log").open("wb")
        cmd = [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port), "--workers", str(args.workers)]
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_ready(base, proc)
            except SystemExit:
                print((workdir / "yiwang.log").read_text(errors="replace")[-3000:])
                raise
            added = subprocess.run(
                [sys.executable, "-m", "idp.cli.main", "client", "add", "--name", "bench kiosk", "--grant", DEVICE_CODE,
                 "--auth-method", "none", "--shared-device", "--scope", "openid", "--scope", "phone", "--json"],
                cwd=workdir, env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            client_id = json.loads(added.stdout)["client_id"]
            tally, elapsed = asyncio.run(run(base, client_id, args.kiosks, args.polite))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    lost = tally.approved - tally.tokens
    mode = "polite (interval honoured)" if args.polite else "back to back (worst case)"
    print(f"kiosks: {args.kiosks}   workers: {args.workers}   db: {args.database_url or 'sqlite'}   polling: {mode}")
    print(f"polls: {tally.polls} in {elapsed:.1f} s = {tally.polls / elapsed:.0f} polls/s")
    print(f"answers: {dict(tally.answers)}")
    print(f"approvals confirmed: {tally.approved}   tokens received: {tally.tokens}   lost: {lost}")
    print(f"second use of each device code refused (invalid_grant): {tally.reused_refused}/{args.kiosks}")
    for error in tally.errors[:10]:
        print(f"error: {error}")
    ok = lost == 0 and not tally.errors and tally.tokens == args.kiosks and tally.reused_refused == args.kiosks
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
