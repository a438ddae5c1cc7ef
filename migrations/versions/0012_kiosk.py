"""kiosk devices and their liveness challenges

Revision ID: 0012_kiosk
Revises: 0009
Create Date: 2026-11-30

A kiosk is an OAuth client (private_key_jwt) bound to a service hall; `kiosk_devices` holds that binding and
its revocation. `kiosk_challenges` holds the single-use liveness challenges handed to kiosks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_kiosk"
# The lead re-chains migrations at merge (the brief names "0009_national_seals"; 0009's id here is "0009").
down_revision = "0011_device_grant"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_devices",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("hall", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["oauth_clients.client_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_index("ix_kiosk_devices_hall", "kiosk_devices", ["hall"])
    op.create_table(
        "kiosk_challenges",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("actions", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["oauth_clients.client_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_kiosk_challenges_client_id", "kiosk_challenges", ["client_id"])
    op.create_index("ix_kiosk_challenges_expires_at", "kiosk_challenges", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_kiosk_challenges_expires_at", table_name="kiosk_challenges")
    op.drop_index("ix_kiosk_challenges_client_id", table_name="kiosk_challenges")
    op.drop_table("kiosk_challenges")
    op.drop_index("ix_kiosk_devices_hall", table_name="kiosk_devices")
    op.drop_table("kiosk_devices")
