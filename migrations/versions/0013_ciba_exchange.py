"""ciba and token exchange

Revision ID: 0013_ciba_exchange
Revises: 0009
Create Date: 2026-11-30

CIBA (backchannel authentication requests, and a client's delivery mode and notification endpoint) and
token exchange (the audiences and scopes a client may exchange a citizen's token for).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_ciba_exchange"
down_revision = "0012_kiosk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backchannel_token_delivery_mode", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("backchannel_client_notification_endpoint", sa.String(length=1000), nullable=True)
        )
        batch_op.add_column(sa.Column("exchange_audiences", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("exchange_scopes", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "ciba_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("req_hash", sa.String(length=64), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("acr_values", sa.String(length=255), nullable=True),
        sa.Column("binding_ct", sa.LargeBinary(), nullable=True),
        sa.Column("notify_ct", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("auth_time", sa.Integer(), nullable=True),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name=op.f("fk_ciba_requests_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_ciba_requests_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ciba_requests")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_ciba_requests_link_hash")),
        sa.UniqueConstraint("req_hash", name=op.f("uq_ciba_requests_req_hash")),
    )
    with op.batch_alter_table("ciba_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ciba_requests_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ciba_requests_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ciba_requests_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_table("ciba_requests")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("exchange_scopes")
        batch_op.drop_column("exchange_audiences")
        batch_op.drop_column("backchannel_client_notification_endpoint")
        batch_op.drop_column("backchannel_token_delivery_mode")
