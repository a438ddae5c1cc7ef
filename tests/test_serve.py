"""`yiwang serve` as a person runs it: first run initialises, JSON logs are masked, SIGTERM stops it cleanly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.kit.served import free_port, wait_healthy, yiwang_server


@pytest.mark.parametrize("workers", [1, 2])
def test_first_run_serves_logs_masked_and_shuts_down_gracefully(tmp_path: Path, workers: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        home = httpx.get(f"{base}/", timeout=5)
        assert "沙箱" in home.text  # sandbox mode is announced on the page
        assert httpx.get(f"{base}/lookup/13800138000", timeout=5).status_code == 404
        # The parent's settings reach every worker (not through the environment): the issuer it derived
        # from where it listens is the one workers publish.
        for _ in range(4):
            discovery = httpx.get(f"{base}/.well-known/openid-configuration", timeout=5).json()
            assert discovery["issuer"] == base
        # No proxy is trusted by default, not even one on 127.0.0.1 (uvicorn's own default).
        httpx.get(f"{base}/healthz", headers={"X-Forwarded-For": "203.0.113.77"}, timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    # uvicorn re-raises SIGTERM after a clean shutdown, so the conventional exit status is -SIGTERM.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert (tmp_path / "var" / "yiwang.db").exists()
    assert (tmp_path / "var" / "keys" / "master.key").exists()
    assert f"http://127.0.0.1:{port}/" in output  # where to point a browser
    assert "SANDBOX MODE" in output
    assert "13800138000" not in output
    json_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [r for r in json_lines if r.get("logger") == "uvicorn.access"]
    assert any("138****8000" in r["event"] for r in access), json_lines[-5:]
    assert not any("203.0.113.77" in r["event"] for r in access)
    assert any("Application shutdown complete" in r["event"] for r in json_lines)


def test_an_idle_connection_outlives_a_balancers_idle_pool(tmp_path: Path) -> None:
    """A balancer reuses its idle connections to a node for some seconds (HAProxy's pool: 5 s). The node must
    hold them longer, or both close at once and the request sent on the reused connection is dropped."""
    with yiwang_server(tmp_path) as served:
        conn = http.client.HTTPConnection("127.0.0.1", urlsplit(served.base).port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b'{"status":"ok"}'
            time.sleep(6.5)  # past uvicorn's default keep-alive (5 s)
            conn.request("GET", "/healthz")  # the same connection (http.client never reconnects by itself)
            assert conn.getresponse().read() == b'{"status":"ok"}'
        finally:
            conn.close()
