"""The CLI starts light: `yiwang --help` (and a command that needs no database) imports none of the heavy
libraries the service uses, because commands are loaded only when run (`idp.cli.main.LazyGroup`).

Behaviour, not time: the imported modules are read from `sys.modules` in a fresh interpreter.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from idp.cli.main import COMMANDS, app

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pyhanko",
    "pyhanko_certvalidator",
    "face_recognition",
    "dlib",
    "authlib",
    "httpx",
    "PIL",
    "idp.runtime",
    "idp.app",
    "signing.context",
)


def _modules_after(*argv: str) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.argv = ['yiwang', *{list(argv)!r}]\n"
        "from idp.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_no_heavy_library() -> None:
    modules = _modules_after("--help")
    assert "idp.cli.main" in modules
    assert _heavy(modules) == []
    assert not any(m.startswith(("idp.cli.", "signing.")) for m in modules - {"idp.cli.main"})


def test_a_command_without_the_database_stays_light() -> None:
    modules = _modules_after("id", "check", "11010519491231002X")
    assert "idp.cli.idcheck" in modules
    assert _heavy(modules) == []


def test_the_check_sees_a_heavy_import() -> None:
    assert _heavy({"sqlalchemy.orm", "typer", "pyhanko"}) == ["pyhanko", "sqlalchemy.orm"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_registered_command_loads_with_the_help_the_list_shows(name: str) -> None:
    module, _, attribute = COMMANDS[name][0].partition(":")
    target = getattr(importlib.import_module(module), attribute)
    is_group = isinstance(target, typer.Typer)
    assert (target.info.help if is_group else (target.__doc__ or "").strip().splitlines()[0]) == COMMANDS[name][1]
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f" {name} [OPTIONS]" in result.output


def test_the_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, (_, line) in COMMANDS.items():
        assert name in result.output and line.split()[0] in result.output
