"""Settings as one tree: read from the environment in `idp.settings` only, passed down, never written back to
the environment, and unsupported values refused at start-up in one line."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idp import serve
from idp.cli.main import app as cli_app
from idp.runtime import Runtime
from idp.settings import ProviderSettings, Settings, SettingsError, load
from idp.signing_wiring import services

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("YIWANG_") and not key.startswith("YIWANG_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("YIWANG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def _environment_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv", "unsetenv", "environb"):
            found.append(f"{path}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {a.name for a in node.names} & {"environ", "getenv", "putenv", "unsetenv", "environb"}
            found += [f"{path}:{node.lineno} from os import {n}" for n in sorted(names)]
    return found


def test_only_the_settings_module_touches_the_environment() -> None:
    files = [p for package in ("idp", "signing", "keys", "adapters") for p in (ROOT / package).rglob("*.py")]
    uses = [use for p in files if p != ROOT / "idp" / "settings.py" for use in _environment_uses(p)]
    assert uses == []


def test_the_check_sees_a_read_and_a_write(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom os import getenv\nos.environ['A'] = os.environ.get('B', '')\n")
    assert len(_environment_uses(module)) == 3


def test_providers_are_part_of_the_one_tree(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("YIWANG_SMS_PROVIDER", "aliyun")
    clean_env.setenv("YIWANG_FACE_THRESHOLD", "0.5")
    settings = load()
    assert isinstance(settings.providers, ProviderSettings)
    assert settings.providers.sms_provider == "aliyun" and settings.providers.face_threshold == 0.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("YIWANG_MASTER_KEY_SOURCE", "pkcs11"),  # not implemented: refused, not failing later
        ("YIWANG_MASTER_KEY_SOURCE", "vault"),
        ("YIWANG_TOKEN_ALG", "HS256"),
        ("YIWANG_LOG_LEVEL", "chatty"),
        ("YIWANG_SMS_PROVIDER", "carrier-pigeon"),
    ],
)
def test_unsupported_values_are_refused_at_start_up_in_one_line(
    clean_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load()
    assert str(refused.value).startswith(f"invalid setting {name}: ") and "\n" not in str(refused.value)
    for command in (["init"], ["serve"], ["db", "current"], ["keys", "list"], ["seal", "list"]):
        result = CliRunner().invoke(cli_app, command)
        assert result.exit_code == 1, (command, result.output)
        assert result.stderr.strip() == f"error: {refused.value}", command
    assert not (Path("var") / "yiwang.db").exists()  # refused before anything was created


def test_log_level_is_case_insensitive(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("YIWANG_LOG_LEVEL", "debug")
    assert load().log_level == "DEBUG"


def test_pkcs11_settings_come_from_the_settings(rt: Runtime) -> None:
    assert services(rt).pkcs11 is None  # not configured: sealing with an HSM key says so (NotReady)
    rt.settings = rt.settings.model_copy(
        update={
            "pkcs11_module": "/opt/hsm.so",
            "pkcs11_token": "seals",
            "pkcs11_pin": load(pkcs11_pin="1234").pkcs11_pin,
        }
    )
    config = services(rt).pkcs11
    assert config is not None and (config.module, config.token, config.pin) == ("/opt/hsm.so", "seals", "1234")


def test_the_issuer_follows_the_listening_address_unless_configured(clean_env: pytest.MonkeyPatch) -> None:
    assert serve.listening_issuer(load(), "0.0.0.0", 8123).issuer == "http://127.0.0.1:8123"
    assert serve.listening_issuer(load(), "10.0.0.5", 80).issuer == "http://10.0.0.5:80"
    clean_env.setenv("YIWANG_ISSUER", "https://id.example.gov.cn/")
    assert serve.listening_issuer(load(), "0.0.0.0", 8123).issuer == "https://id.example.gov.cn"


def test_workers_get_the_parents_settings_without_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    """The app factory given to uvicorn carries the settings object (pickled into each spawned worker)."""
    import pickle

    settings = serve.listening_issuer(load(), "127.0.0.1", 8123)
    before = dict(os.environ)
    config = serve.config(settings, "127.0.0.1", 8123, workers=2)
    factory = pickle.loads(pickle.dumps(config.app))  # what multiprocessing's spawn does with it
    assert factory.keywords == {} and factory.args[0].issuer == "http://127.0.0.1:8123"
    assert isinstance(factory.args[0], Settings) and config.factory
    assert dict(os.environ) == before
