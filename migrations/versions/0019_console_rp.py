"""console relying parties

Revision ID: 0019_console_rp
Revises: 0018_passkeys
Create Date: 2026-11-30

The console's relying-party page (issue 10) can disable a client without deleting it: while `disabled_at` is
set, every endpoint treats the client as unknown; enabling it again restores it with its consents.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_console_rp"
down_revision = "0018_passkeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
