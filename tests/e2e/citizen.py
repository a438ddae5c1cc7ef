"""The citizen's side of CIBA over plain HTTP, as a phone's browser does it: the SMS link from the sandbox outbox,
the approval page, the sign-in by SMS code, approve or decline. For the end-to-end drivers beside this file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.e2e.test_oauth4webapi import _free_port, _wait_healthy

LINK = re.compile(r"/ciba/([A-Za-z0-9_-]{20,64})")


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def _outbox(http: httpx.Client, phone: str) -> list[dict[str, str]]:
    response = http.get("/sandbox/sms/outbox", params={"phone": phone})
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def answer(base: str, phone: str, decision: str = "approve") -> str:
    """Open the newest CIBA link sent to `phone`, sign in, and answer. Returns the page's text afterwards."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30, headers={"accept-language": "en"}) as http:
        texts = [m["text"] for m in _outbox(http, phone)]
        link = next(found.group(1) for text in texts if (found := LINK.search(text)))
        page = http.get(f"/ciba/{link}")
        assert page.status_code == 200, page.text
        started = http.post(f"/ciba/{link}/sign-in", data={"csrf": _field(page.text, "csrf")})
        assert started.status_code == 303, started.text
        login = http.get(started.headers["location"])
        form = {"flow": _field(login.text, "flow"), "csrf": _field(login.text, "csrf"), "phone": phone}
        sent = http.post("/login/sms", data=form)
        assert sent.status_code == 200, sent.text
        code = str(_outbox(http, phone)[0]["code"])
        response = http.post("/login/code", data={**form, "code": code, "agree": "yes", "decision": "approve"})
        while response.status_code in (302, 303):
            response = http.get(response.headers["location"])
        assert 'value="approve"' in response.text, response.text
        done = http.post(f"/ciba/{link}/decide", data={"csrf": _field(response.text, "csrf"), "decision": decision})
        assert done.status_code == 200, done.text
        return done.text


@contextmanager
def yiwang_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real `yiwang serve` on a free port in a fresh data directory: its base URL and environment."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "YIWANG_ISSUER": base, "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(base, proc, 240)  # a busy machine starts slowly
        yield base, env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def run_flow(node: str, script: Path, flow_env: dict[str, str], base: str, phone: str) -> tuple[int, str, str]:
    """Run a Node flow that prints `WAITING` when the citizen must approve; approve, tell it, collect its output."""
    flow = subprocess.Popen(
        [node, str(script)],
        cwd=script.parent,
        env={"PATH": os.environ.get("PATH", ""), **flow_env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert flow.stdout is not None and flow.stdin is not None
    try:
        first = flow.stdout.readline()
        if first.strip() == "WAITING":
            assert "allowed it" in answer(base, phone, "approve")
            flow.stdin.write("APPROVED\n")
            flow.stdin.flush()
            out, err = flow.communicate(timeout=120)
            return flow.returncode, out, err
        out, err = flow.communicate(timeout=60)
        return flow.returncode, first + out, err
    finally:
        if flow.poll() is None:
            flow.kill()
            flow.wait()
