"""sms fairness

Revision ID: 0010_sms_fairness
Revises: 0009
Create Date: 2026-11-30

Devices that signed in with a number's SMS code (their sends keep a budget of their own), and operator alerts
(the SMS spend cap and its warning threshold).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_sms_fairness"
# The task names "0009_national_seals"; the stored revision id of that migration is "0009" (the lead re-chains).
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_known_devices",
        sa.Column("phone_bidx", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("last_sign_in", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_bidx", "device", name=op.f("pk_sms_known_devices")),
    )
    op.create_table(
        "operator_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_alerts")),
        sa.UniqueConstraint("event", "window_start", name=op.f("uq_operator_alerts_event_window")),
    )
    op.create_index(op.f("ix_operator_alerts_raised_at"), "operator_alerts", ["raised_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_operator_alerts_raised_at"), table_name="operator_alerts")
    op.drop_table("operator_alerts")
    op.drop_table("sms_known_devices")
