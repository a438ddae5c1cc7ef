"""Migration 0008 re-judges bindings made before proofs were recorded: a registry-only binding is knowledge
(strength 0, back to loa:1); an ownership proof on record keeps its strength; an operator's enrolment is 1."""

from __future__ import annotations

import json

from sqlalchemy import text

from idp import migrate
from idp.db import make_engine

ROWS = {
    "registry-only": ([{"level": 2, "source": "registry"}], 2, (0, "registry", 1)),
    "bank-card": ([{"level": 2, "source": "registry"}, {"level": 2, "source": "unionpay"}], 2, (2, "unionpay", 2)),
    "face": ([{"level": 2, "source": "unionpay"}, {"level": 3, "source": "face"}], 3, (3, "face", 3)),
    "enrolled": ([], 1, (1, "operator", 1)),
}


def test_legacy_bindings_are_rejudged_from_their_evidence(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            for key, (evidence, level, _) in ROWS.items():
                conn.execute(
                    text(
                        "INSERT INTO persons (id, id_number_bidx, proofing_level, proofing_evidence, phone_verified,"
                        " created_at, updated_at) VALUES (:id, :bidx, :level, :ev, false, CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {"id": key, "bidx": f"bidx-{key}", "level": level, "ev": json.dumps(evidence)},
                )
            conn.execute(
                text(
                    "INSERT INTO persons (id, proofing_level, proofing_evidence, phone_verified, created_at,"
                    " updated_at) VALUES ('phone-only', 1, '[]', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        migrate.upgrade(engine, "0008")
        with engine.connect() as conn:
            found = {
                row[0]: (row[1], row[2], row[3])
                for row in conn.execute(text("SELECT id, id_proof, id_proof_source, proofing_level FROM persons"))
            }
        assert found == {key: expected for key, (_, _, expected) in ROWS.items()} | {"phone-only": (0, None, 1)}
        migrate.downgrade(engine, "0004")
        migrate.upgrade(engine)
    finally:
        engine.dispose()
