"""Sealing an OFD document with a national-format seal: policy, SES_Signature, record and audit, all or nothing.

The same three steps as `signing.sealing` for PDF, and the same policy checks (`signing.policy.CHECKS`):
1. a read-only pre-check refuses early (unknown, revoked or expired seal, a requester or kind the policy
   does not allow); 2. the package is sealed outside any transaction; 3. one transaction re-checks the seal and
   its policy, counts the daily cap, writes the signature record and calls the audit sink. If anything refuses
   at 3, the sealed bytes are dropped.

The caller passes `run` (do a unit of work in one transaction, auditing a refusal), the master key (to open
the seal's key once; `signers` caches it per process) and the audit sink: nothing here imports the identity
provider.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from signing import gb_seals, ofd_seal, sm_pki
from signing.errors import Forbidden, NoSuchSeal
from signing.models import Seal, SignatureRecord
from signing.policy import CHECKS, Policy, Request, Requester, authorise, check_daily_cap
from signing.ports import Directory

Runner = Callable[[Callable[[Session], Any]], Any]  # the caller's "one transaction, refusals audited"
LEVEL_B, LEVEL_T = "SES", "SES-T"  # a SES_Signature without / with an SM2 time-stamp over its value


@dataclass
class GbContext:
    """What a process keeps for national-format sealing: the SM2 authority and each seal's opened key."""

    authority: sm_pki.SmAuthority
    master: bytes
    directory: Directory  # where a member's roles are looked up for the seal's policy
    signers: dict[str, gb_seals.GbSigner] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def signer(self, seal: Seal) -> gb_seals.GbSigner:
        cached = self.signers.get(seal.id)
        if cached is None:
            cached = gb_seals.GbSigner.of(seal, self.master)
            with self.lock:
                self.signers[seal.id] = cached
        return cached


@dataclass(frozen=True)
class GbSealResult:
    record_id: str
    data: bytes
    level: str
    document_sha256: str
    signed_sha256: str
    signature_path: str
    tsa_serial: int | None
    tsa_time: datetime | None


def get_gb_seal(session: Session, seal_id: str) -> Seal:
    seal = session.get(Seal, seal_id.strip()) if len(seal_id.strip()) <= 36 else None
    if seal is None:
        raise NoSuchSeal(f"no seal {seal_id.strip()[:36]}")
    if seal.format != gb_seals.FORMAT:
        raise Forbidden(f"seal {seal.id} is a PAdES seal: it seals PDF documents, not OFD")
    return seal


def _request(directory: Directory, seal: Seal, requester: Requester, kind: str | None, now: datetime) -> Request:
    return Request(
        seal=seal,
        policy=Policy.from_dict(seal.policy),
        requester=requester,
        document_kind=kind,
        now=now,
        directory=directory,
    )


def precheck(session: Session, directory: Directory, seal_id: str, requester: Requester, kind: str | None) -> Seal:
    """Every policy check but the cap, writing nothing; the row is detached for use outside the transaction."""
    seal = get_gb_seal(session, seal_id)
    req = _request(directory, seal, requester, kind, sm_pki.now_utc())
    for check in CHECKS:
        if check is not check_daily_cap:
            check(session, req)
    session.expunge(seal)
    return seal


def seal_ofd(
    ctx: GbContext,
    run: Runner,
    audit: gb_seals.Audit,
    seal_id: str,
    document: bytes,
    placement: ofd_seal.StampPlacement,
    *,
    requester: Requester,
    document_kind: str | None = None,
    timestamp: bool = True,
) -> GbSealResult:
    seal: Seal = run(lambda s: precheck(s, ctx.directory, seal_id, requester, document_kind))
    signer = ctx.signer(seal)
    tsa = ctx.authority.tsa if timestamp else None
    chain = [ctx.authority.issuing.cert]
    stamps: list[gb_seals.SignedValue] = []

    def sign(data_hash: bytes, property_info: str) -> bytes:
        value = gb_seals.sign_hash(signer, data_hash, property_info, tsa=tsa, tsa_chain=chain)
        stamps.append(value)
        return value.ses_signature

    sealed = ofd_seal.seal_package(document, sign, placement)
    stamp = stamps[0].stamp
    record_id = str(uuid.uuid4())
    level = LEVEL_T if stamp else LEVEL_B
    result = GbSealResult(
        record_id=record_id,
        data=sealed.data,
        level=level,
        document_sha256=hashlib.sha256(document).hexdigest(),
        signed_sha256=hashlib.sha256(sealed.data).hexdigest(),
        signature_path=sealed.signature_path,
        tsa_serial=stamp.serial if stamp else None,
        tsa_time=stamp.gen_time if stamp else None,
    )

    def commit(session: Session) -> GbSealResult:
        current = get_gb_seal(session, seal_id)
        now = sm_pki.now_utc()
        authorise(session, _request(ctx.directory, current, requester, document_kind, now))
        session.add(
            SignatureRecord(
                id=record_id,
                org_id=current.org_id,
                seal_id=current.id,
                person_id=requester.person_id,
                cert_serial=current.cert_serial,
                requester=requester.name,
                channel=requester.channel,
                document_kind=document_kind,
                document_sha256=result.document_sha256,
                signed_sha256=result.signed_sha256,
                level=level,
                tsa_serial=format(stamp.serial, "x") if stamp else None,
                tsa_time=stamp.gen_time if stamp else None,
                signed_at=now,
            )
        )
        session.flush()
        audit(
            session,
            {
                "action": "seal.sign",
                "subject": current.id,
                "actor": requester.name,
                "channel": requester.channel,
                "client": requester.client_id,
                "detail": {
                    "record": record_id,
                    "format": "ofd",
                    "document_sha256": result.document_sha256,
                    "level": level,
                    "kind": document_kind,
                    "tsa_serial": format(stamp.serial, "x") if stamp else None,
                },
            },
        )
        return result

    return run(commit)  # type: ignore[no-any-return]
