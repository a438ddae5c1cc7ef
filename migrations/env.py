"""Alembic environment: the only way Yiwang's schema is created or changed.

`idp.migrate` passes an open connection in `config.attributes["connection"]`; the URL path is for developers
running `alembic` by hand (`YIWANG_DATABASE_URL`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from idp.db import Base
from idp.models import load_all

load_all()
config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from idp.db import make_engine
    from idp.settings import Settings

    with make_engine(Settings().db_url).connect() as conn:
        _run(conn)
