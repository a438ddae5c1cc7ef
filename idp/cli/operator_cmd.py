"""`yiwang operator ...`: credentials for the operator API."""

from __future__ import annotations

from typing import Annotated

import typer

from idp import operators
from idp.cli.common import JsonOpt, emit, runtime

app = typer.Typer(help="Operator API credentials.", no_args_is_help=True)


@app.command("add")
def add(name: Annotated[str, typer.Argument(help="Who or what uses this token.")], as_json: JsonOpt = False) -> None:
    """Create an operator token. It is printed once and stored only as a hash."""
    with runtime() as rt:
        token = rt.run(lambda session: operators.create(session, name))
    emit({"name": name, "token": token}, as_json)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The operator to revoke.")]) -> None:
    """Revoke an operator token."""
    with runtime() as rt:
        rt.run(lambda session: operators.revoke(session, name))
    emit({"status": "revoked", "name": name}, False)
