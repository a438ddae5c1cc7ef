"""The kiosk simulator against a real `yiwang serve` on a free port: `yiwang kiosk register` writes the key,
`yiwang kiosk simulate` plays the card reader and camera over HTTP; exit 0 identified, 1 refused, 2 usage.

Needs ../shared/testdata/faces: skipped with the reason on a clean clone, failed in CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_oauth4webapi import _free_port, _wait_healthy
from tests.kit import liveness_frames as kit

ZHAO = ("赵磊", "32010219750111006X")


def _yiwang(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idp.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_simulated_kiosk_over_http(tmp_path: Path) -> None:
    faces = kit.faces_dir()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "YIWANG_ISSUER": base, "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_healthy(base, proc, seconds=300)  # first start initialises keys and schema: slow on a busy machine
        key = tmp_path / "kiosk.pem"
        made = _yiwang(
            env, tmp_path, "kiosk", "register", "--hall", "city", "--name", "1 号机", "--out", str(key), "--json"
        )
        assert made.returncode == 0, made.stderr
        client_id = json.loads(made.stdout)["client_id"]
        common = [
            "kiosk", "simulate", "--base-url", base, "--client-id", client_id, "--key", str(key), "--hall", "city",
            "--card-name", ZHAO[0], "--card-number", ZHAO[1], "--json",
        ]  # fmt: skip
        live = ["--face", str(faces / "obama_1.jpg"), "--face-turned", str(faces / "obama_2.jpg")]

        passed = _yiwang(
            env, tmp_path, *common, "--valid-until", "2040-01-01", "--chip-photo", str(faces / "obama_1.jpg"), *live
        )
        assert passed.returncode == 0, passed.stdout + passed.stderr
        result = json.loads(passed.stdout)
        assert result["outcome"] == "identified" and result["acr"] == "urn:yiwang:loa:3"
        assert result["aud"] == client_id and result["refresh_token"] is False
        assert ZHAO[1] not in passed.stdout and ZHAO[0] not in passed.stdout  # masked

        printed = _yiwang(
            env, tmp_path, *common, "--valid-until", "2040-01-01", "--chip-photo", str(faces / "obama_1.jpg"),
            "--face", str(faces / "obama_1.jpg"), "--printed",
        )  # fmt: skip
        assert printed.returncode == 1 and json.loads(printed.stdout)["reason"] == "liveness_failed", printed.stdout

        expired = _yiwang(
            env, tmp_path, *common, "--valid-until", "2024-01-01", "--valid-from", "2014-01-01", "--chip-photo",
            str(faces / "obama_1.jpg"), *live,
        )  # fmt: skip
        assert expired.returncode == 1 and json.loads(expired.stdout)["reason"] == "card_expired"

        usage = _yiwang(
            env, tmp_path, *common, "--valid-until", "2040-01-01", "--chip-photo", str(tmp_path / "none.jpg"), *live
        )
        assert usage.returncode == 2 and "cannot read chip photo" in usage.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    server_log = (tmp_path / "server.log").read_text(errors="replace")
    assert ZHAO[1] not in server_log
