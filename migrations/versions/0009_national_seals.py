"""national seals

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

GB/T 38540 seals: a seal's format (pades or gb38540) and, for national-format seals, the DER SESeal. The SM2
hierarchy itself needs no table of its own: its identities, certificates and CRLs use the signing tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("format", sa.String(length=16), server_default="pades", nullable=False))
        batch_op.add_column(sa.Column("ses_seal", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.drop_column("ses_seal")
        batch_op.drop_column("format")
