"""A real `yiwang serve` for a test: a free port, a fresh data directory, the `yiwang` CLI against the same data.

The server runs as its own process (`python -m idp.cli.main serve`) with the test's environment minus any
`YIWANG_*` of the developer's, logs to `server.log` in the test's directory, and is stopped with SIGTERM (killed
if it does not stop) when the test is done.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.kit.waiting import wait_until

# A first start creates the schema and the keys; on a loaded machine that takes minutes. The wait ends as soon as
# the server answers, so a generous limit costs nothing when it is fast.
HEALTH_WAIT = 240.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], seconds: float = HEALTH_WAIT) -> None:
    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, seconds, "the server becoming healthy", interval=0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as an operator stops it; killed if it has not stopped within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, and the environment and directory its CLI commands use."""

    base: str
    env: dict[str, str]
    cwd: Path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`yiwang <args>` against the server's data, as it ran (exit status, stdout, stderr)."""
        return subprocess.run(
            [sys.executable, "-m", "idp.cli.main", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def yiwang(self, *args: str) -> dict[str, Any]:
        """`yiwang <args> --json`'s answer; the command must succeed."""
        done = self.cli(*args)
        assert done.returncode == 0, f"yiwang {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return dict(json.loads(done.stdout))

    def log(self) -> str:
        return (self.cwd / "server.log").read_text(errors="replace")


@contextmanager
def yiwang_server(
    tmp_path: Path, settings: Mapping[str, str] | None = None, health_wait: float = HEALTH_WAIT, port: int | None = None
) -> Iterator[Served]:
    """A real `yiwang serve` on `port` (default: a free one) in `tmp_path`, with `settings` (YIWANG_* variables)
    on top."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "YIWANG_ISSUER": base, "PYTHONUNBUFFERED": "1"}
    env |= settings or {}
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(base, proc, health_wait)
            yield Served(base, env, tmp_path)
        finally:
            stop(proc)
