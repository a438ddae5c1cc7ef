"""proofing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Identity proofing: face consents and encrypted face templates (apart from identity data), Alipay account
bindings, verified bank cards (masked).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alipay_bindings",
        sa.Column("account_bidx", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_alipay_bindings_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_bidx", name=op.f("pk_alipay_bindings")),
        sa.UniqueConstraint("person_id", name=op.f("uq_alipay_bindings_person_id")),
    )
    op.create_table(
        "bank_cards",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("masked", sa.String(length=32), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_bank_cards_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_cards")),
    )
    with op.batch_alter_table("bank_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_cards_person_id"), ["person_id"], unique=False)

    op.create_table(
        "face_consents",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_face_consents_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_face_consents")),
    )
    op.create_table(
        "face_templates",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("template_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_face_templates_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_face_templates")),
    )


def downgrade() -> None:
    op.drop_table("face_templates")
    op.drop_table("face_consents")
    with op.batch_alter_table("bank_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_cards_person_id"))

    op.drop_table("bank_cards")
    op.drop_table("alipay_bindings")
