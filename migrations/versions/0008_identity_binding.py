"""identity binding

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

A name + ID number matched by the registry is knowledge, not ownership (issue 11). Persons record how their ID
number was proven (`id_proof`, `id_proof_source`); registry-only matches become non-exclusive `id_claims`;
conflicts over one number are kept in `id_conflicts` for operators.

Existing bindings are re-judged from their evidence: an ownership proof on record keeps its strength; a
binding whose only evidence is a registry match keeps the number but at strength 0 (any proof takes it
over, organisation roles do not apply) and drops back to loa:1; an operator's enrolment (no evidence) gets 1.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STRENGTH = {"unionpay": 2, "carrier": 2, "alipay_certify": 3, "face": 3, "counter": 4}


def _rejudge() -> None:
    bind = op.get_bind()
    persons = sa.table(
        "persons",
        sa.column("id", sa.String),
        sa.column("id_number_bidx", sa.String),
        sa.column("proofing_level", sa.Integer),
        sa.column("proofing_evidence", sa.JSON),
        sa.column("id_proof", sa.Integer),
        sa.column("id_proof_source", sa.String),
    )
    rows = bind.execute(
        sa.select(persons.c.id, persons.c.proofing_evidence).where(persons.c.id_number_bidx.is_not(None))
    ).all()
    for person_id, evidence in rows:
        items: list[dict[str, Any]] = json.loads(evidence) if isinstance(evidence, str) else (evidence or [])
        sources = [str(e.get("source")) for e in items if isinstance(e, dict)]
        proven = [s for s in sources if s in STRENGTH]
        if proven:
            best = max(proven, key=lambda s: STRENGTH[s])
            values: dict[str, Any] = {"id_proof": STRENGTH[best], "id_proof_source": best}
        elif "registry" in sources:
            values = {"id_proof": 0, "id_proof_source": "registry", "proofing_level": 1}
        else:
            values = {"id_proof": 1, "id_proof_source": "operator"}
        bind.execute(sa.update(persons).where(persons.c.id == person_id).values(**values))


def upgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_proof", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("id_proof_source", sa.String(length=32), nullable=True))
    _rejudge()
    op.create_table(
        "id_claims",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("id_number_ct", sa.LargeBinary(), nullable=False),
        sa.Column("name_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_id_claims_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_id_claims")),
    )
    with op.batch_alter_table("id_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_id_claims_id_number_bidx"), ["id_number_bidx"], unique=False)
    op.create_table(
        "id_conflicts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("holder_id", sa.String(length=36), nullable=True),
        sa.Column("claimant_id", sa.String(length=36), nullable=True),
        sa.Column("holder_proof", sa.Integer(), nullable=False),
        sa.Column("claimant_proof", sa.Integer(), nullable=False),
        sa.Column("claimant_source", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["persons.id"], name=op.f("fk_id_conflicts_holder_id_persons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["claimant_id"], ["persons.id"], name=op.f("fk_id_conflicts_claimant_id_persons"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_conflicts")),
    )
    with op.batch_alter_table("id_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_id_conflicts_id_number_bidx"), ["id_number_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_id_conflicts_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("id_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_id_conflicts_created_at"))
        batch_op.drop_index(batch_op.f("ix_id_conflicts_id_number_bidx"))
    op.drop_table("id_conflicts")
    with op.batch_alter_table("id_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_id_claims_id_number_bidx"))
    op.drop_table("id_claims")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("id_proof_source")
        batch_op.drop_column("id_proof")
