"""signing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The PKI (our CAs, TSA and OCSP identities with sealed keys, every issued certificate's status, CRLs),
organisation seals with their policy and daily usage, signature records, CSC authorisations (SAD hashes) and
citizens' pending signature confirmations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pki_entities",
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("cert_der", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_pki_entities")),
    )
    op.create_table(
        "pki_certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer_role", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("not_before"),
        _ts("not_after"),
        _ts("revoked_at", nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_pki_certificates")),
    )
    op.create_table(
        "pki_crls",
        sa.Column("issuer_role", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        _ts("this_update"),
        _ts("next_update"),
        sa.PrimaryKeyConstraint("issuer_role", "number", name=op.f("pk_pki_crls")),
    )
    op.create_table(
        "seals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("image_png", sa.LargeBinary(), nullable=False),
        sa.Column("image_source", sa.String(length=16), nullable=False),
        sa.Column("cert_serial", sa.String(length=40), nullable=False),
        sa.Column("cert_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_alg", sa.String(length=16), nullable=False),
        sa.Column("key_backend", sa.String(length=16), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=True),
        sa.Column("pkcs11_label", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("valid_from"),
        _ts("valid_to"),
        sa.Column("policy", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["cert_serial"], ["pki_certificates.serial"], name=op.f("fk_seals_cert_serial_pki_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_seals_org_id_organisations"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seals")),
        sa.UniqueConstraint("cert_serial", name=op.f("uq_seals_cert_serial")),
    )
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seals_org_id"), ["org_id"], unique=False)

    op.create_table(
        "seal_usage",
        sa.Column("seal_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["seals.id"], name=op.f("fk_seal_usage_seal_id_seals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seal_id", "day", name=op.f("pk_seal_usage")),
    )
    op.create_table(
        "signature_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=True),
        sa.Column("seal_id", sa.String(length=36), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("cert_serial", sa.String(length=40), nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("document_kind", sa.String(length=32), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_sha256", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("tsa_serial", sa.String(length=40), nullable=True),
        _ts("tsa_time", nullable=True),
        _ts("signed_at"),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_signature_records_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_signature_records_person_id_persons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["seals.id"], name=op.f("fk_signature_records_seal_id_seals"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_records")),
    )
    with op.batch_alter_table("signature_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signature_records_document_sha256"), ["document_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_signature_records_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signature_records_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signature_records_seal_id"), ["seal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signature_records_signed_at"), ["signed_at"], unique=False)

    op.create_table(
        "csc_authorisations",
        sa.Column("sad_hash", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("hash_alg", sa.String(length=64), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=False),
        _ts("expires_at"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("sad_hash", name=op.f("pk_csc_authorisations")),
    )
    with op.batch_alter_table("csc_authorisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_csc_authorisations_credential_id"), ["credential_id"], unique=False)

    op.create_table(
        "sign_confirmations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_ct", sa.LargeBinary(), nullable=False),
        sa.Column("placement", sa.JSON(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("confirmed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_sign_confirmations_person_id_persons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_confirmations")),
    )
    with op.batch_alter_table("sign_confirmations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_confirmations_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_confirmations_person_id"))
    op.drop_table("sign_confirmations")
    with op.batch_alter_table("csc_authorisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csc_authorisations_credential_id"))
    op.drop_table("csc_authorisations")
    with op.batch_alter_table("signature_records", schema=None) as batch_op:
        for column in ("signed_at", "seal_id", "person_id", "org_id", "document_sha256"):
            batch_op.drop_index(batch_op.f(f"ix_signature_records_{column}"))
    op.drop_table("signature_records")
    op.drop_table("seal_usage")
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seals_org_id"))
    op.drop_table("seals")
    op.drop_table("pki_crls")
    op.drop_table("pki_certificates")
    op.drop_table("pki_entities")
