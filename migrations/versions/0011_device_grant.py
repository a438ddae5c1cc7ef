"""device grant

Revision ID: 0011_device_grant
Revises: 0009
Create Date: 2026-11-30

OAuth 2.0 Device Authorization Grant (RFC 8628): `oauth_device_grants` (device codes hashed, user codes as a
keyed index); clients get `shared_device` (kiosk mode: no lasting SSO session, idle timeout).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_device_grant"
# The brief names "0009_national_seals"; the revision of 0009 in this tree is "0009" (re-chained at merge).
down_revision = "0010_sms_fairness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_device_grants",
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code_index", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("acr_values", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=True),
        sa.Column("auth_time", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name=op.f("fk_oauth_device_grants_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_oauth_device_grants_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_code_hash", name=op.f("pk_oauth_device_grants")),
        sa.UniqueConstraint("user_code_index", name=op.f("uq_oauth_device_grants_user_code_index")),
    )
    op.create_index(op.f("ix_oauth_device_grants_client_id"), "oauth_device_grants", ["client_id"])
    op.create_index(op.f("ix_oauth_device_grants_expires_at"), "oauth_device_grants", ["expires_at"])
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shared_device", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("shared_device")
    op.drop_index("ix_oauth_device_grants_expires_at", table_name="oauth_device_grants")
    op.drop_index("ix_oauth_device_grants_client_id", table_name="oauth_device_grants")
    op.drop_table("oauth_device_grants")
