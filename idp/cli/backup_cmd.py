"""`yiwang backup` and `yiwang restore`: every table in one file sealed under the master key, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from idp import backup
from idp.cli.common import console, fail, load_settings, refusals
from idp.db import make_engine
from idp.runtime import master_key


def backup_command(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (mode 0600).")],
) -> None:
    """Write a backup of the database (its sealed keys included) to a file sealed under the master key."""
    settings = load_settings()
    if out.exists():
        fail(f"{out} exists: choose a new file name")
    with refusals():
        from idp.runtime import check_database

        engine = make_engine(settings.db_url)
        try:
            check_database(engine)
            master = master_key(settings, create=False)
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("backing up", total=max(backup.count_rows(engine), 1))
                summary = backup.write_file(engine, master, out, lambda n: bar.advance(task, n))
        finally:
            engine.dispose()
    console.print(f"{out}: {summary.rows} rows of {summary.tables} tables, schema {summary.revision}")


def restore_command(
    source: Annotated[Path, typer.Option("--from", help="A file written by `yiwang backup`.")],
) -> None:
    """Restore a backup into a new, empty database (YIWANG_DATABASE_URL), with the master key that made it."""
    settings = load_settings()
    if not source.is_file():
        fail(f"no such file: {source}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with refusals():
        engine = make_engine(settings.db_url)
        try:
            master = master_key(settings, create=False)
            with Progress(console=console, transient=True) as bar, source.open("rb") as stream:
                task = bar.add_task("restoring", total=None)
                summary = backup.restore(engine, master, stream, lambda n: bar.advance(task, n))
        finally:
            engine.dispose()
    console.print(f"restored {summary.rows} rows of {summary.tables} tables, schema {summary.revision}")
