"""What a process keeps loaded for signing: the app's services, the PKI identities, the TSA, and each seal's key
once opened.

Built once per process (CLI command or app, lazily on first use) from the services the app passes in. Keys are
unsealed once; anything that can change — a seal's status and policy, certificate status — is read from the
database on every operation, so every node sees a revocation at once.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from signing import pki
from signing.errors import NotReady, SigningError
from signing.ports import AuditEvent, Services, VerifyLimits
from signing.tsa import TimeStampAuthority
from signing.verify_worker import Verifier

T = TypeVar("T")


@dataclass
class SigningContext:
    services: Services
    authority: pki.Authority
    tsa: TimeStampAuthority
    # seal id -> loaded signer material (see signing.seals.loaded_signer); keys never change for a seal id.
    signers: dict[str, Any] = field(default_factory=dict)
    # Short-lived DER blobs (OCSP responses, the root CRL) reused across signatures: key -> (expiry, bytes).
    blobs: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The SM2 authority for national-format seals (signing.national.gb_context), loaded on first use.
    national: Any = None
    # Verification of uploaded PDFs in killable child processes, a few at a time (signing.verify_worker).
    verifier: Verifier = field(default_factory=lambda: Verifier(VerifyLimits()))

    def run(self, work: Callable[[Session], T], *, refusal: AuditEvent | None = None) -> T:
        """Do `work` in one transaction. If it is refused, nothing of it is kept; the refusal is audited apart."""
        try:
            with self.services.transaction() as session:
                return work(session)
        except SigningError as exc:
            if refusal is not None:
                self.audit_refusal(refusal, exc)
            raise

    def audit_refusal(self, event: AuditEvent, exc: SigningError) -> None:
        """Record a refusal in a transaction of its own (the refused work's was rolled back, or never began)."""
        with self.services.transaction() as session:
            detail = {**event.detail, "reason": exc.detail}
            self.services.audit(session, dataclasses.replace(event, outcome="refused", detail=detail))


def open_context(services: Services) -> SigningContext:
    with services.transaction() as session:
        try:
            authority = pki.load(session, services.master, services.issuer)
        except LookupError as exc:
            raise NotReady(str(exc)) from None
    return SigningContext(
        services=services,
        authority=authority,
        tsa=TimeStampAuthority.of(authority),
        verifier=Verifier(services.verify_limits),
    )
