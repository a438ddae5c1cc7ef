"""Apply and inspect Alembic migrations programmatically (`yiwang init`, start-up, readiness)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

import migrations

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


def _config(connection: object | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# Alembic's own version table. Read with one fixed statement: `/readyz` asks on every health check (a balancer's
# every second or two), and Alembic's MigrationContext builds a new Table each time, so every check compiled
# new statements into the engine's statement cache, evicting the service's own and growing the process.
VERSION_TABLE = "alembic_version"
READ_VERSION = text(f"SELECT version_num FROM {VERSION_TABLE}")


@functools.cache
def head_revision() -> str | None:
    """The newest migration this code carries (loading the scripts once: they don't change under a process)."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect().execution_options(read_only=True) as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        found = conn.execute(READ_VERSION).scalars().all()
    # Several rows (branches merged by hand) name themselves, and so never equal the one head: not ready.
    return ",".join(sorted(found)) or None


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)
