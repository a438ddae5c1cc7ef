"""The public audit endpoints and a citizen's own consent event, proven over HTTP."""

from __future__ import annotations

import json

from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp import audit
from idp.audit import merkle, proofs
from tests.audit.conftest import append, seal
from tests.oauth.conftest import Bench, bench  # noqa: F401  (the fixture)


def test_tree_heads_and_proofs_are_public_and_verify(bench: Bench) -> None:  # noqa: F811
    client, rt = bench.client, bench.rt
    assert client.get("/audit/v1/sth").status_code == 404
    first = seal(rt).tree_size
    append(rt, 5)
    seal(rt)
    sth = client.get("/audit/v1/sth").json()
    keys = KeySet.import_key_set(client.get("/audit/v1/keys").json())
    signed = json.loads(jws.deserialize_compact(sth["signature"], keys, algorithms=["ES256"]).payload)
    assert signed == {"log": rt.settings.issuer, **{k: sth[k] for k in ("tree_size", "root_hash", "timestamp")}}

    with rt.transaction() as s:
        event_id = s.scalars(select(audit.AuditLeaf.event_id).where(audit.AuditLeaf.idx == 2)).one()
    proof = client.get("/audit/v1/proof/inclusion", params={"event_id": event_id}).json()
    assert proof["tree_head"] == sth and "event" not in proof  # hashes only, never content
    assert proofs.check_inclusion(proof)
    consistency = client.get("/audit/v1/proof/consistency", params={"first": first}).json()
    assert consistency["second"] == sth and proofs.check_consistency(consistency)
    assert client.get("/audit/v1/proof/inclusion", params={"event_id": "nope"}).status_code == 404
    assert client.get("/audit/v1/proof/consistency", params={"first": 0}).status_code == 400


def test_a_citizen_proves_their_consent(bench: Bench) -> None:  # noqa: F811
    bench.code_flow()
    seal(bench.rt)
    with bench.rt.transaction() as s:
        event = [e for e in audit.tail(s, 50) if e.action == "consent.grant"][-1]
        other = [e for e in audit.tail(s, 50) if e.actor != event.actor][0]
    mine = bench.client.get(f"/account/audit/{event.id}")
    assert mine.status_code == 200, mine.text
    proof = mine.json()
    leaf = merkle.leaf_hash(
        json.dumps(proof["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert proof["event"]["action"] == "consent.grant" and leaf.hex() == proof["leaf_hash"]
    assert proofs.check_inclusion(proof)
    assert bench.client.get(f"/account/audit/{other.id}").status_code == 404  # someone else's
    bench.client.cookies.clear()
    assert bench.client.get(f"/account/audit/{event.id}").status_code == 401
