"""The kiosk simulator against a real `yiwang serve` on a free port: `yiwang kiosk register` writes the key,
`yiwang kiosk simulate` plays the card reader and camera over HTTP; exit 0 identified, 1 refused, 2 usage.

Needs ../shared/testdata/faces: skipped with the reason on a clean clone, failed in CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.kit import liveness_frames as kit
from tests.kit.served import yiwang_server

ZHAO = ("赵磊", "32010219750111006X")


def test_simulated_kiosk_over_http(tmp_path: Path) -> None:
    faces = kit.faces_dir()
    # The first start initialises keys and schema: slow on a busy machine.
    with yiwang_server(tmp_path, health_wait=300) as served:
        base = served.base

        def yiwang(*args: str) -> subprocess.CompletedProcess[str]:
            return served.cli(*args, timeout=300)

        key = tmp_path / "kiosk.pem"
        made = yiwang("kiosk", "register", "--hall", "city", "--name", "1 号机", "--out", str(key), "--json")
        assert made.returncode == 0, made.stderr
        client_id = json.loads(made.stdout)["client_id"]
        common = [
            "kiosk", "simulate", "--base-url", base, "--client-id", client_id, "--key", str(key), "--hall", "city",
            "--card-name", ZHAO[0], "--card-number", ZHAO[1], "--json",
        ]  # fmt: skip
        live = ["--face", str(faces / "obama_1.jpg"), "--face-turned", str(faces / "obama_2.jpg")]

        passed = yiwang(*common, "--valid-until", "2040-01-01", "--chip-photo", str(faces / "obama_1.jpg"), *live)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        result = json.loads(passed.stdout)
        assert result["outcome"] == "identified" and result["acr"] == "urn:yiwang:loa:3"
        assert result["aud"] == client_id and result["refresh_token"] is False
        assert ZHAO[1] not in passed.stdout and ZHAO[0] not in passed.stdout  # masked

        printed = yiwang(
            *common, "--valid-until", "2040-01-01", "--chip-photo", str(faces / "obama_1.jpg"),
            "--face", str(faces / "obama_1.jpg"), "--printed",
        )  # fmt: skip
        assert printed.returncode == 1 and json.loads(printed.stdout)["reason"] == "liveness_failed", printed.stdout

        expired = yiwang(
            *common, "--valid-until", "2024-01-01", "--valid-from", "2014-01-01", "--chip-photo",
            str(faces / "obama_1.jpg"), *live,
        )  # fmt: skip
        assert expired.returncode == 1 and json.loads(expired.stdout)["reason"] == "card_expired"

        usage = yiwang(*common, "--valid-until", "2040-01-01", "--chip-photo", str(tmp_path / "none.jpg"), *live)
        assert usage.returncode == 2 and "cannot read chip photo" in usage.stderr
    assert ZHAO[1] not in served.log()
