"""The app's side of signing's ports (`signing.ports`): its unit of work, audit trail, field protection and the
identity records signing reads, built from the runtime.

Signing imports nothing from `idp`; this is where the two meet. Refusals from our records are handed to
signing as its own errors, so its refusal handling (audit, CSC error codes) sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit, errors
from idp.identity import InvalidIdentifier
from idp.records import organisations, people
from idp.records.models import Membership
from idp.records.models import Organisation as OrganisationRow
from idp.runtime import Runtime
from signing import errors as signing_errors
from signing.context import SigningContext, open_context
from signing.ports import AuditEvent, Organisation, Pkcs11Config, Services, VerifyLimits

_TRANSLATED: dict[type[errors.YiwangError], type[signing_errors.SigningError]] = {
    errors.InvalidInput: signing_errors.InvalidInput,
    errors.NotFound: signing_errors.NotFound,
    errors.Conflict: signing_errors.Conflict,
    errors.NotReady: signing_errors.NotReady,
}


@contextmanager
def _as_signing_errors() -> Iterator[None]:
    try:
        yield
    except errors.YiwangError as exc:
        raise _TRANSLATED.get(type(exc), signing_errors.SigningError)(exc.detail) from None
    except InvalidIdentifier as exc:
        raise signing_errors.InvalidInput(f"invalid {exc.kind}: {exc.reason}") from None


def record_audit(session: Session, event: AuditEvent) -> None:
    audit.record(
        session,
        audit.Event(
            action=event.action,
            subject=event.subject,
            outcome=event.outcome,
            actor=event.actor,
            channel=event.channel,
            client=event.client,
            detail=event.detail,
        ),
    )


def _organisation(row: OrganisationRow) -> Organisation:
    return Organisation(id=row.id, uscc=row.uscc, name=row.name)


class RecordsDirectory:
    """`signing.ports.Directory` over `idp.records`."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def organisation(self, session: Session, uscc: str) -> Organisation:
        with _as_signing_errors():
            return _organisation(organisations.get_by_uscc(session, uscc, self._runtime.uscc_rules))

    def organisation_by_id(self, session: Session, org_id: str) -> Organisation:
        row = session.get(OrganisationRow, org_id)
        if row is None:
            raise signing_errors.NotFound("no such organisation")
        return _organisation(row)

    def person_by_id_number(self, session: Session, id_number: str) -> str | None:
        with _as_signing_errors():
            person = people.find_by_id_number(session, self._runtime.protector, id_number)
        return None if person is None else person.id

    def member_roles(self, session: Session, org_id: str, person_id: str) -> frozenset[str]:
        query = select(Membership.role).where(Membership.org_id == org_id, Membership.person_id == person_id)
        return frozenset(session.scalars(query))

    def person_name(self, session: Session, person_id: str) -> str | None:
        with _as_signing_errors():
            person = people.get(session, person_id)
        return people._get(self._runtime.protector, person, "name_ct")  # noqa: SLF001 - the one clear-text name


def services(runtime: Runtime) -> Services:
    settings = runtime.settings
    pkcs11 = None
    if settings.pkcs11_token and settings.pkcs11_pin:
        pkcs11 = Pkcs11Config(
            module=settings.pkcs11_module, token=settings.pkcs11_token, pin=settings.pkcs11_pin.get_secret_value()
        )
    return Services(
        transaction=runtime.transaction,
        audit=record_audit,
        directory=RecordsDirectory(runtime),
        protection=runtime.protector,
        master=runtime.master,
        issuer=settings.issuer,
        pkcs11=pkcs11,
        verify_limits=VerifyLimits(
            max_signatures=settings.verify_max_signatures,
            max_revisions=settings.verify_max_revisions,
            timeout_s=settings.verify_timeout_s,
            workers=settings.verify_workers,
        ),
    )


def open_signing(runtime: Runtime) -> SigningContext:
    """The signing context for this runtime: PKI keys unsealed once (NotReady in the app's terms if absent)."""
    try:
        return open_context(services(runtime))
    except signing_errors.NotReady as exc:
        raise errors.NotReady(exc.detail) from None
