"""Import every module that declares tables, so `Base.metadata` is complete (for Alembic and tests)."""

from __future__ import annotations


def load_all() -> None:
    import idp.audit
    import idp.keystore
    import idp.operators
    import idp.records.models  # noqa: F401
