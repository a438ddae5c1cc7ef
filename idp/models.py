"""Import every module that declares tables, so `Base.metadata` is complete (for Alembic and tests)."""

from __future__ import annotations


def load_all() -> None:
    import idp.audit
    import idp.keystore
    import idp.oauth.models
    import idp.operators
    import idp.records.models
    import signing.models  # noqa: F401
