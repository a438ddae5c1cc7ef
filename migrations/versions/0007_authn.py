"""authentication engine

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Accepted user agreements (versioned) and one-time counter codes for in-person checks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terms_acceptances",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_terms_acceptances_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", "version", name=op.f("pk_terms_acceptances")),
    )
    op.create_table(
        "counter_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hall", sa.String(length=64), nullable=True),
        sa.Column("staff", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_counter_codes_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_counter_codes")),
    )
    with op.batch_alter_table("counter_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counter_codes_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_counter_codes_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("counter_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_codes_person_id"))
        batch_op.drop_index(batch_op.f("ix_counter_codes_flow_id"))
    op.drop_table("counter_codes")
    op.drop_table("terms_acceptances")
