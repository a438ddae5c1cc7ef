"""The national-format signing modules, opened on a test's runtime the way the app opens them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp import audit
from idp.runtime import Runtime
from idp.signing_wiring import open_signing
from signing import gb_sealing, national, ofd_verify
from signing.context import SigningContext
from signing.ports import AuditEvent

_opened: dict[int, SigningContext] = {}


def _signing(rt: Runtime) -> SigningContext:
    if id(rt) not in _opened or _opened[id(rt)].services.master is not rt.master:
        _opened[id(rt)] = open_signing(rt)
    return _opened[id(rt)]


def gb_context(rt: Runtime) -> gb_sealing.GbContext:
    return national.gb_context(_signing(rt))


def sm_trust(rt: Runtime, gb: gb_sealing.GbContext) -> ofd_verify.SmTrust:
    return national.sm_trust(_signing(rt), gb)


def audit_sink(session: Session, fields: dict[str, Any]) -> None:
    audit.record(session, audit.Event(**fields))


def runner(rt: Runtime, refusal: AuditEvent | None = None) -> gb_sealing.Runner:
    """One transaction per unit of work, a refusal audited apart: as the app's signing context runs them."""
    return national.runner(_signing(rt), refusal)
