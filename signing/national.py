"""What the national-format modules (`signing.gb_*`, `signing.ofd_*`, `signing.sm_*`) take, built from a
`SigningContext`: the SM2 authority with its keys unsealed (once per process), a transaction runner that
audits refusals, an audit sink, and the trust anchors and current CRL for verification.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from signing import gb_sealing, ofd_verify, sm_pki, sm_status
from signing.context import SigningContext
from signing.errors import NotReady
from signing.ports import AuditEvent


def gb_context(ctx: SigningContext) -> gb_sealing.GbContext:
    """The SM2 authority, loaded once per signing context (opened seal keys are cached on it)."""
    with ctx.lock:
        cached = ctx.national
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    with ctx.services.transaction() as session:
        try:
            authority = sm_pki.load(session, ctx.services.master, ctx.services.issuer)
        except LookupError as exc:
            raise NotReady(str(exc)) from None
    made = gb_sealing.GbContext(authority=authority, master=ctx.services.master, directory=ctx.services.directory)
    with ctx.lock:
        ctx.national = made
    return made


def audit_sink(ctx: SigningContext) -> Callable[[Session, dict[str, Any]], None]:
    """The national modules describe events as plain fields; the app's audit sink records them."""

    def sink(session: Session, fields: dict[str, Any]) -> None:
        ctx.services.audit(session, AuditEvent(**fields))

    return sink


def runner(ctx: SigningContext, refusal: AuditEvent | None = None) -> gb_sealing.Runner:
    return functools.partial(ctx.run, refusal=refusal)


def sm_trust(ctx: SigningContext, gb: gb_sealing.GbContext) -> ofd_verify.SmTrust:
    with ctx.services.transaction() as session:
        crl = sm_status.current_crl(session, gb.authority)
    a = gb.authority
    return ofd_verify.SmTrust(root=a.root.cert, issuing=a.issuing.cert, crl=crl, maker=a.maker.cert)


def is_ofd(data: bytes) -> bool:
    """An OFD package is a ZIP (a PDF starts with %PDF): the first bytes decide which verifier reads it."""
    return data[:4] == b"PK\x03\x04"
