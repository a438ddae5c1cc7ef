"""Running the Node flow scripts beside this file: the independent client oauth4webapi, through `kit.mjs`.

A script's last line on stdout is its JSON report; it exits 1 (saying why on stderr) when a step fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
MODULE = HERE / "node_modules" / "oauth4webapi" / "package.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def node_or_skip() -> str:
    """The `node` to run the scripts with: a skip saying why without it or oauth4webapi, a failure under CI."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not installed (the oauth4webapi end-to-end test needs Node 20+)"
    elif not MODULE.exists():
        reason = "oauth4webapi is not installed: run `(cd tests/e2e && npm ci)`"
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the end-to-end test)")
        pytest.skip(reason)
    assert node is not None
    return node


def _env(flow_env: Mapping[str, str]) -> dict[str, str]:
    # Only what the script is told: nothing of the test's environment but the PATH.
    return {"PATH": os.environ.get("PATH", ""), **flow_env}


def run_node(
    node: str, script: Path, flow_env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a script to its end (it needs no one to answer it)."""
    return subprocess.run(
        [node, str(script)], cwd=script.parent, env=_env(flow_env), capture_output=True, text=True, timeout=timeout
    )


def start_node(node: str, script: Path, flow_env: Mapping[str, str], stdin: bool = False) -> subprocess.Popen[str]:
    """Start a script the test talks to: its stdout and stderr are pipes, its stdin too if `stdin`."""
    return subprocess.Popen(
        [node, str(script)],
        cwd=script.parent,
        env=_env(flow_env),
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def report(script: Path, done: subprocess.CompletedProcess[str], server_log: str) -> dict[str, Any]:
    """The script's JSON report; if it failed, the test fails with its output and the server log's tail."""
    assert done.returncode == 0, (
        f"{script.name} failed:\n{done.stderr}\n{done.stdout[-4000:]}\n--- server log (tail) ---\n{server_log[-4000:]}"
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
