"""pushed authorization requests and DPoP

Revision ID: 0014_par_dpop
Revises: 0009
Create Date: 2026-11-30

RFC 9126: pushed requests (`oauth_pushed_requests`) and the per-client "PAR only" flag. RFC 9449: proofs seen
(`oauth_dpop_proofs`, jti replay), the per-client "always DPoP" flag, and the key thumbprint that binds an
authorization code (`dpop_jkt`) and a public client's refresh token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_par_dpop"
down_revision = "0013_ciba_exchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_pushed_authorization_requests", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("dpop_bound_access_tokens", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("oauth_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))
    with op.batch_alter_table("oauth_refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))

    op.create_table(
        "oauth_pushed_requests",
        sa.Column("ref_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name=op.f("fk_oauth_pushed_requests_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ref_hash", name=op.f("pk_oauth_pushed_requests")),
    )
    with op.batch_alter_table("oauth_pushed_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_pushed_requests_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "oauth_dpop_proofs",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_oauth_dpop_proofs")),
    )
    with op.batch_alter_table("oauth_dpop_proofs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_dpop_proofs_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_dpop_proofs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_dpop_proofs_expires_at"))
    op.drop_table("oauth_dpop_proofs")
    with op.batch_alter_table("oauth_pushed_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_pushed_requests_expires_at"))
    op.drop_table("oauth_pushed_requests")
    with op.batch_alter_table("oauth_refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("dpop_jkt")
    with op.batch_alter_table("oauth_codes", schema=None) as batch_op:
        batch_op.drop_column("dpop_jkt")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("dpop_bound_access_tokens")
        batch_op.drop_column("require_pushed_authorization_requests")
