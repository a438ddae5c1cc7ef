"""What signing's commands need from the app's CLI, and the few output helpers they share.

Every refusal is one line on stderr and a non-zero exit, as for the app's own commands.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any, NoReturn, Protocol

import typer
from rich.console import Console

from signing.context import SigningContext, open_context
from signing.errors import SigningError
from signing.ports import Services

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")]


class CliHost(Protocol):
    def services(self) -> AbstractContextManager[Services]:
        """The app's services for one command (opened, then closed when the block ends); the app's own
        refusals (database not ready, no master key) end the command with one line."""
        ...


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, non-zero exit: what every refused command does."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except SigningError as exc:
        fail(exc.detail)


@contextmanager
def services(ctx: typer.Context) -> Iterator[Services]:
    host: CliHost = ctx.obj
    with refusals(), host.services() as opened:
        yield opened


@contextmanager
def signing_context(ctx: typer.Context) -> Iterator[SigningContext]:
    """Services and the PKI loaded: what sealing, revoking and verifying need."""
    with services(ctx) as opened:
        yield open_context(opened)


def emit(data: dict[str, Any], as_json: bool, lines: list[tuple[str, Any]] | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return
    for label, value in lines if lines is not None else list(data.items()):
        console.print(f"{label}: {'' if value is None else value}", markup=False, highlight=False)
