"""Shared fixtures: settings in a temporary data directory, and a runtime on SQLite and on PostgreSQL.

PostgreSQL tests use YIWANG_TEST_POSTGRES_URL (default: 127.0.0.1:5432/test, trust auth), each test in a
schema of its own. Without a server they skip, saying why; under CI (CI=true) they fail instead, because
CI always has the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from idp.runtime import Runtime, initialise, open_runtime
from idp.settings import Settings

POSTGRES_URL = os.environ.get("YIWANG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_or_skip() -> None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL.split('@')[-1]}: {str(exc.orig).splitlines()[0]}"
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema, dropped afterwards."""
    postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'yiwang.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def settings(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for one test; also exported as YIWANG_* so CLI commands run in-process see the same."""
    data_dir = tmp_path / "var"
    for key in list(os.environ):
        if key.startswith("YIWANG_") and not key.startswith("YIWANG_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("YIWANG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("YIWANG_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)  # keep any stray .env of the developer's out of the test
    return Settings(data_dir=data_dir, database_url=db_url)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    initialise(settings)
    runtime = open_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()
