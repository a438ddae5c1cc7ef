"""Import every module that declares tables, so `Base.metadata` is complete (for Alembic and tests)."""

from __future__ import annotations


def load_all() -> None:
    # Imported for their side effect (table declarations); the names themselves are unused.
    import idp.audit  # noqa: F401
    import idp.authn.models  # noqa: F401
    import idp.keystore  # noqa: F401
    import idp.oauth.models  # noqa: F401
    import idp.operators  # noqa: F401
    import idp.proofing.models  # noqa: F401
    import idp.records.models  # noqa: F401
    import signing.models  # noqa: F401
