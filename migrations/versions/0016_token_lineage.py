"""token lineage

Revision ID: 0016_token_lineage
Revises: 0015_staff
Create Date: 2026-11-30

Tokens issued by token exchange remember the token they came from, so revoking one revokes its descendants.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_token_lineage"
down_revision = "0015_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_exchanged_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("parent_jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_oauth_exchanged_tokens")),
    )
    with op.batch_alter_table("oauth_exchanged_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_exchanged_tokens_parent_jti"), ["parent_jti"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_exchanged_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_exchanged_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_exchanged_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_oauth_exchanged_tokens_parent_jti"))
    op.drop_table("oauth_exchanged_tokens")
