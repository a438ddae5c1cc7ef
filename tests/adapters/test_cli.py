"""`yiwang face compare` exit codes and `yiwang adapters check`, in-process through Typer's CliRunner."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from idp.cli.main import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("YIWANG_") and not key.startswith("YIWANG_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("YIWANG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def photos(env: Path, grace_hopper: bytes, astronaut: bytes) -> dict[str, Path]:
    mirrored = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(grace_hopper)).convert("RGB")).save(mirrored, format="JPEG", quality=90)
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 90, 90)).save(blank, format="PNG")
    files = {"grace": grace_hopper, "grace_mirrored": mirrored.getvalue(), "astronaut": astronaut,
             "blank": blank.getvalue(), "text": b"hello"}  # fmt: skip
    out = {}
    for name, data in files.items():
        (env / name).write_bytes(data)
        out[name] = env / name
    return out


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_same_person_exits_0(photos: dict[str, Path]) -> None:
    code, out, _ = run("face", "compare", photos["grace"], photos["grace_mirrored"])
    assert code == 0, out
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert float(lines["distance"]) < float(lines["threshold"]) == 0.5
    assert lines["result"] == "same person"


def test_different_people_exit_1(photos: dict[str, Path]) -> None:
    code, out, _ = run("face", "compare", photos["grace"], photos["astronaut"], "--json")
    assert code == 1
    data = json.loads(out)
    assert data["result"] == "different" and data["distance"] > data["threshold"]


def test_threshold_option(photos: dict[str, Path]) -> None:
    code, out, _ = run("face", "compare", photos["grace"], photos["astronaut"], "--threshold", "1.5", "--json")
    assert code == 0 and json.loads(out)["threshold"] == 1.5


@pytest.mark.parametrize("which", ["blank", "text", "missing"])
def test_unusable_exits_2(photos: dict[str, Path], env: Path, which: str) -> None:
    image = photos.get(which, env / "no-such-file.jpg")
    code, out, err = run("face", "compare", photos["grace"], image)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {image}: ") and len(err.strip().splitlines()) == 1
    code, out, _ = run("face", "compare", image, photos["grace"], "--json")
    assert code == 2 and json.loads(out)["result"] == "unusable"


def test_adapters_check_in_sandbox(env: Path) -> None:
    code, out, err = run("adapters", "check")
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["sms", "unionpay", "alipay", "registry", "carrier", "face"]
    assert all(line.split()[1] == "ok" for line in lines)
    assert "SANDBOX" in err
    assert (env / "var" / "sandbox" / "sandbox-keys.json").is_file()
    assert oct((env / "var" / "sandbox" / "sandbox-keys.json").stat().st_mode & 0o777) == "0o600"


def test_adapters_check_with_a_real_provider_adapter_on_its_emulator(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIWANG_SMS_PROVIDER", "aliyun")
    code, out, _ = run("adapters", "check", "--json")
    assert code == 0
    sms = json.loads(out)[0]
    assert sms["name"] == "sms" and sms["ok"] and "aliyun" in sms["detail"]


def test_adapters_check_without_sandbox_names_what_is_missing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIWANG_SANDBOX", "false")
    monkeypatch.setenv("YIWANG_REGISTRY_BASE_URL", "http://127.0.0.1:8000/sandbox/registry")
    code, out, _ = run("adapters", "check")
    assert code == 1
    assert "YIWANG_SMS_PROVIDER is `sandbox`" in out
    assert "YIWANG_UNIONPAY_MER_ID" in out and "points at an emulator" in out
