"""What every command shares: settings, the runtime, one-line errors, JSON or human output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from idp.errors import YiwangError
from idp.identity import InvalidIdentifier
from idp.settings import Settings, SettingsError, load

if TYPE_CHECKING:
    from idp.runtime import Runtime

console = Console(soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")]
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, non-zero exit: what every refused command does."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, or one line saying which value is not supported (and a non-zero exit)."""
    try:
        return load()
    except SettingsError as exc:
        fail(str(exc))


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except YiwangError as exc:
        fail(exc.detail)
    except InvalidIdentifier as exc:
        fail(f"invalid {exc.kind}: {exc.reason}")


@contextmanager
def runtime() -> Iterator[Runtime]:
    from idp.runtime import open_runtime  # the database and keys: only for commands that need them

    with refusals():
        rt = open_runtime(load_settings())
        try:
            yield rt
        finally:
            rt.close()


def emit(data: dict[str, Any], as_json: bool, lines: list[tuple[str, Any]] | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return
    for label, value in lines if lines is not None else list(data.items()):
        console.print(f"{label}: {'' if value is None else value}", markup=False, highlight=False)
