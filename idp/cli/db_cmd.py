"""`yiwang db ...`: the database schema (Alembic migrations) and housekeeping."""

from __future__ import annotations

from typing import Annotated

import typer

from idp import migrate
from idp.cli.common import console, fail, load_settings, runtime
from idp.db import make_engine

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION."""
    engine = make_engine(load_settings().db_url)
    try:
        migrate.upgrade(engine, revision)
        console.print(f"schema at {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


@app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base` drops everything).")],
) -> None:
    """Revert migrations down to REVISION."""
    engine = make_engine(load_settings().db_url)
    try:
        migrate.downgrade(engine, revision)
        console.print(f"schema at {migrate.current_revision(engine) or 'base'}")
    finally:
        engine.dispose()


@app.command("current")
def db_current() -> None:
    """Print the schema revision; exit 1 when it is not the newest."""
    engine = make_engine(load_settings().db_url)
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
    finally:
        engine.dispose()
    console.print(f"current: {current or 'none'}  head: {head}")
    if current != head:
        fail("schema is not current: run `yiwang init`")


@app.command("purge")
def db_purge() -> None:
    """Delete expired codes, flows, sessions, revocation entries and counters."""
    from idp.oauth.maintenance import purge

    with runtime() as rt:
        removed = rt.run(purge)
    console.print(", ".join(f"{name}: {count}" for name, count in removed.items()))
