"""Import every module that declares tables, so `Base.metadata` is complete (for Alembic and tests); and the
list of every encrypted column, which `yiwang keys rotate` re-encrypts (see `keys.rotation`)."""

from __future__ import annotations

# Every column encrypted under the field data keys, by table.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("id_number_ct", "name_ct", "phone_ct"),
    "social_security_cards": ("card_number_ct",),
    "otp_challenges": ("phone_ct",),
    "totp_factors": ("secret_ct",),
    "totp_pending": ("secret_ct",),
    "face_templates": ("template_ct",),
    "ciba_requests": ("binding_ct", "notify_ct"),
    "passkeys": ("credential_id_ct", "name_ct"),
}


def load_all() -> None:
    # Imported for their side effect (table declarations); the names themselves are unused.
    import idp.alerts  # noqa: F401
    import idp.audit  # noqa: F401
    import idp.authn.models  # noqa: F401
    import idp.kiosk.models  # noqa: F401
    import idp.oauth.ciba_models  # noqa: F401
    import idp.oauth.device_models  # noqa: F401
    import idp.oauth.models  # noqa: F401
    import idp.operators  # noqa: F401
    import idp.proofing.models  # noqa: F401
    import idp.records.models  # noqa: F401
    import idp.staff.models  # noqa: F401
    import keys.store  # noqa: F401
    import signing.models  # noqa: F401
