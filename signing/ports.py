"""What signing needs from the application around it, as small protocols; the app implements and passes them in.

Signing imports nothing from `idp` (see tests/test_layers.py): the unit of work, the audit trail,
field encryption, and the identity records it reads (organisations, people, members' roles) all come through
here. An implementation raises `signing.errors` for refusals (an unknown organisation is `NotFound`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class AuditEvent:
    """What happened, for the app's audit trail. Subjects are record ids or masked values, never personal data."""

    action: str
    subject: str
    outcome: str = "success"
    actor: str = "system"
    channel: str = "cli"
    client: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditSink(Protocol):
    def __call__(self, session: Session, event: AuditEvent, /) -> None:
        """Append `event` in the caller's transaction: it commits, or vanishes, with the change it describes."""


class UnitOfWork(Protocol):
    def __call__(self) -> AbstractContextManager[Session]:
        """One transaction: commit when the block ends, roll everything back if it raises."""


class FieldProtection(Protocol):
    """Encryption of a column value, bound to its table, column and row (AES-GCM under the app's data keys)."""

    def encrypt(self, table: str, column: str, row_id: str, value: str) -> bytes: ...

    def decrypt(self, table: str, column: str, row_id: str, blob: bytes) -> str: ...


@dataclass(frozen=True)
class Organisation:
    id: str
    uscc: str
    name: str


class Directory(Protocol):
    """The identity records signing reads: organisations, people and the roles members hold."""

    def organisation(self, session: Session, uscc: str) -> Organisation:
        """By USCC (validated by the app's rules): InvalidInput when malformed, NotFound when unknown."""
        ...

    def organisation_by_id(self, session: Session, org_id: str) -> Organisation: ...

    def person_by_id_number(self, session: Session, id_number: str) -> str | None:
        """The person id for an ID number, or None; InvalidInput when the number is malformed."""
        ...

    def member_roles(self, session: Session, org_id: str, person_id: str) -> frozenset[str]:
        """The roles the person holds in the organisation (empty when not a member)."""
        ...

    def person_name(self, session: Session, person_id: str) -> str | None:
        """The person's registered name in clear (for a personal certificate only); NotFound when unknown."""
        ...


@dataclass(frozen=True)
class VerifyLimits:
    """How much work verifying one uploaded PDF may cause (see signing.verify and signing.verify_worker)."""

    max_signatures: int = 50  # signature fields per document; a real document has a handful
    max_revisions: int = 200  # incremental updates (each signature adds one or two)
    timeout_s: float = 30.0  # wall-clock deadline of one verification
    workers: int = 2  # verifications at once per process; more are refused (503) until one ends


@dataclass(frozen=True)
class Pkcs11Config:
    module: str
    token: str
    pin: str


@dataclass(frozen=True)
class Services:
    """Everything signing is given by the app, built once per process."""

    transaction: UnitOfWork
    audit: AuditSink
    directory: Directory
    protection: FieldProtection
    master: bytes  # the master key: seals' and the CAs' private keys are sealed under it
    issuer: str  # our base URL: certificates point validators at our CRL, OCSP and CA certificates
    pkcs11: Pkcs11Config | None = None
    verify_limits: VerifyLimits = field(default_factory=lambda: VerifyLimits())
