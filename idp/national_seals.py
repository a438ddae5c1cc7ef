"""Wiring the national-format signing modules (`signing.gb_*`, `signing.ofd_*`, `signing.sm_*`) to the app:
they import nothing from `idp`, so this module hands them what they take — the SM2 authority and master key,
a transaction runner that audits refusals, an audit sink, and the trust anchors and CRL for verification.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from typing import Any

from sqlalchemy.orm import Session

from idp import audit
from idp.errors import NotReady, YiwangError
from idp.runtime import Runtime
from signing import gb_sealing, ofd_verify, sm_pki, sm_status

_contexts: dict[int, gb_sealing.GbContext] = {}
_lock = threading.Lock()


def audit_sink(session: Session, fields: dict[str, Any]) -> None:
    audit.record(session, audit.Event(**fields))


def runner(rt: Runtime, refusal: audit.Event | None = None) -> gb_sealing.Runner:
    return functools.partial(rt.run, refusal=refusal)


def gb_context(rt: Runtime) -> gb_sealing.GbContext:
    """The SM2 authority with keys unsealed, once per runtime (opened seal keys are cached on it)."""
    cached = _contexts.get(id(rt))
    if cached is not None and cached.master is rt.master:
        return cached
    with rt.transaction() as session:
        try:
            authority = sm_pki.load(session, rt.master, rt.settings.issuer)
        except LookupError as exc:
            raise NotReady(str(exc)) from None
    made = gb_sealing.GbContext(authority=authority, master=rt.master)
    with _lock:
        _contexts[id(rt)] = made
    return made


def sm_trust(rt: Runtime, ctx: gb_sealing.GbContext) -> ofd_verify.SmTrust:
    with rt.transaction() as session:
        crl = sm_status.current_crl(session, ctx.authority)
    a = ctx.authority
    return ofd_verify.SmTrust(root=a.root.cert, issuing=a.issuing.cert, crl=crl, maker=a.maker.cert)


def is_ofd(data: bytes) -> bool:
    """An OFD package is a ZIP (a PDF starts with %PDF): the first bytes decide which verifier reads it."""
    return data[:4] == b"PK\x03\x04"


def audit_refusal(rt: Runtime, event: audit.Event, exc: YiwangError) -> None:
    """Record a refusal found outside the recording transaction (e.g. a package that cannot be read)."""
    with rt.transaction() as session:
        audit.record(
            session, dataclasses.replace(event, outcome="refused", detail={**event.detail, "reason": exc.detail})
        )
