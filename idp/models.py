"""Import every module that declares tables, so `Base.metadata` is complete (for Alembic and tests)."""

from __future__ import annotations


def load_all() -> None:
    import signing.models  # noqa: F401
