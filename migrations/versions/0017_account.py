"""account

Revision ID: 0017_account
Revises: 0016_token_lineage
Create Date: 2026-11-30

The citizen account centre (issue 10): a citizen's signed PDF, kept encrypted for them to download again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_account"
down_revision = "0016_token_lineage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signed_copies",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("document_ct", sa.LargeBinary(), nullable=False),
        sa.Column("kept_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["signature_records.id"],
            name=op.f("fk_signed_copies_record_id_signature_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_signed_copies_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_signed_copies")),
    )
    with op.batch_alter_table("signed_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signed_copies_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signed_copies_kept_until"), ["kept_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signed_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_copies_kept_until"))
        batch_op.drop_index(batch_op.f("ix_signed_copies_person_id"))
    op.drop_table("signed_copies")
