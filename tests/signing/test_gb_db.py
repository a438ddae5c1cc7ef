"""National-format seals at the database layer, on SQLite and PostgreSQL: creation, the unchanged policy (client,
kind, exact daily cap), records and audit, revocation reaching the SM2 CRL and OCSP in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from idp.audit import AuditEvent
from idp.records import organisations
from idp.runtime import Runtime
from signing import gb_sealing, gb_seals, ofd_seal, ofd_verify, sm_status
from signing.errors import Forbidden
from signing.models import IssuedCertificate, Seal, SignatureRecord
from signing.ofd_sample import one_page_ofd
from signing.policy import Policy, Requester
from signing.ports import AuditEvent as SigningEvent
from tests.signing.national_kit import audit_sink, gb_context, runner, sm_trust

USCC = "91110000600037341L"
PORTAL = Requester(kind="client", name="portal", channel="api", client_id="portal")


def _seal(rt: Runtime, policy: Policy) -> Seal:
    authority = gb_context(rt).authority
    with rt.transaction() as session:
        org = organisations.add(
            session, rt.protector, rt.uscc_rules, uscc=USCC, name="某某区政务服务中心", kind="department"
        )
        return gb_seals.create(
            session, authority, rt.master, audit_sink, org_id=org.id, org_name=org.name, uscc=org.uscc,
            seal_type="official", seal_name=f"{org.name}公章", policy=policy, image_png=b"\x89PNG-not-drawn",
            image_source="uploaded", validity=timedelta(days=30),
        )  # fmt: skip


def _sign(rt: Runtime, seal_id: str, requester: Requester = PORTAL, kind: str | None = "notice") -> bytes:
    refusal = SigningEvent(action="seal.sign", subject=seal_id, actor=requester.name)
    return gb_sealing.seal_ofd(
        gb_context(rt), runner(rt, refusal), audit_sink, seal_id, one_page_ofd(),
        ofd_seal.StampPlacement(), requester=requester, document_kind=kind, timestamp=False,
    ).data  # fmt: skip


def test_policy_cap_records_and_revocation(rt: Runtime) -> None:
    seal = _seal(rt, Policy(clients=frozenset({"portal"}), document_kinds=frozenset({"notice"}), daily_cap=2))
    first = _sign(rt, seal.id)
    _sign(rt, seal.id)
    with pytest.raises(Forbidden, match="daily cap of 2"):
        _sign(rt, seal.id)
    with pytest.raises(Forbidden, match="does not allow client"):
        _sign(rt, seal.id, Requester(kind="client", name="other", channel="api", client_id="other"))
    with pytest.raises(Forbidden, match="kind"):
        _sign(rt, seal.id, kind="contract")
    with rt.transaction() as session:
        assert (
            session.scalar(select(func.count()).select_from(SignatureRecord).where(SignatureRecord.seal_id == seal.id))
            == 2
        )
        refused = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "seal.sign", AuditEvent.outcome == "refused")
        )
        assert refused == 3
    gb = gb_context(rt)
    assert ofd_verify.verify_ofd(first, sm_trust(rt, gb)).valid
    with rt.transaction() as session:
        row = session.get(Seal, seal.id)
        assert row is not None
        gb_seals.revoke(session, gb.authority, row, "key_compromise", audit_sink)
    with rt.transaction() as session:
        cert = session.get(IssuedCertificate, seal.cert_serial)
        assert cert is not None and cert.status == "revoked" and cert.issuer_role == "sm2-issuing"
        status, _when = sm_status.ocsp_status(
            sm_status.respond_for(session, gb.authority, serial=int(seal.cert_serial, 16))
        )
        assert status == "revoked"
    report = ofd_verify.verify_ofd(first, sm_trust(rt, gb))
    assert not report.valid and report.signatures[0].revocation == "revoked"
    with pytest.raises(Forbidden, match="revoked"):
        _sign(rt, seal.id)
