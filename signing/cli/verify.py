"""`yiwang verify FILE.pdf|FILE.ofd`: every signature's integrity, coverage, signer, trust, revocation, time-stamp.

Exit status: 0 every signature valid, 1 any invalid (or none at all), 2 the input cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from signing import national, ofd, ofd_verify, pades, verify
from signing.cli.host import JsonOpt, console, err_console, signing_context
from signing.errors import SigningError

UNREADABLE = 2


def _unreadable(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(UNREADABLE)


def _print(report: verify.Report) -> None:
    out = console
    for i, sig in enumerate(report.signatures, 1):
        verdict = "VALID" if sig.valid else "INVALID"
        out.print(f"signature {i} ({sig.field_name}): {verdict}", markup=False, highlight=False)
        org = f"{sig.organisation} (USCC {sig.uscc})" if sig.uscc else sig.organisation
        lines = [
            ("signer", sig.signer),
            ("organisation", org),
            ("integrity", "intact" if sig.intact and sig.signature_valid else "BROKEN"),
            ("coverage", sig.coverage),
            ("changes after signing", sig.changes_after_signing),
            ("chain to our root", "trusted" if sig.trusted else "NOT TRUSTED"),
            ("revocation", sig.revocation + (f" at {sig.revoked_at}" if sig.revoked_at else "")),
            ("signing time (claimed)", sig.signing_time),
            (
                "time-stamp",
                f"{sig.timestamp.time} serial {sig.timestamp.serial}"
                + ("" if sig.timestamp.trusted and sig.timestamp.intact else " NOT VALID")
                if sig.timestamp
                else "none",
            ),
            ("long-term validation data", "embedded" if sig.long_term else "no"),
        ]
        for label, value in lines:
            out.print(f"  {label}: {'' if value is None else value}", markup=False, highlight=False)
        for problem in sig.problems:
            out.print(f"  problem: {problem}", markup=False, highlight=False)
    if not report.signatures:
        out.print("no signatures", markup=False, highlight=False)


def verify_command(
    cli: typer.Context,
    file: Annotated[Path, typer.Argument(help="The PDF or OFD to verify.")],
    as_json: JsonOpt = False,
) -> None:
    """Verify every signature in a PDF or seal in an OFD (exit 0 all valid, 1 any invalid, 2 unreadable input)."""
    try:
        with file.open("rb") as handle:
            head = handle.read(4)
        limit = ofd.MAX_OFD_BYTES if national.is_ofd(head) else pades.MAX_PDF_BYTES
        if file.stat().st_size > limit:
            raise _unreadable(f"{file} is larger than {limit} bytes")
        data = file.read_bytes()
    except OSError as exc:
        raise _unreadable(f"cannot read {file}: {exc.strerror}") from None
    if national.is_ofd(data):
        verify_ofd_file(cli, data, as_json)
    with signing_context(cli) as ctx:
        with ctx.services.transaction() as session:
            trust = verify.trust_from(session, ctx.authority)
        try:
            report = ctx.verifier.verify(data, trust)
        except SigningError as exc:
            raise _unreadable(exc.detail) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print(report)
    raise typer.Exit(0 if report.valid else 1)


# --- OFD packages with GB/T 38540 seals: kept apart so they move with the rest of the signing CLI. ---


def _print_ofd(report: ofd_verify.OfdReport) -> None:
    for i, sig in enumerate(report.signatures, 1):
        console.print(f"seal {i} ({sig.path}): {'VALID' if sig.valid else 'INVALID'}", markup=False, highlight=False)
        stamp = sig.timestamp
        lines = [
            ("seal", f"{sig.seal_name} (esID {sig.seal_id})" if sig.seal_name else None),
            ("seal validity", sig.seal_valid),
            ("signer", sig.signer),
            ("integrity", f"{sig.integrity} ({sig.files_checked} files checked by SM3)"),
            ("SM2 signature", "valid" if sig.signature_valid else "NOT VALID"),
            ("chain to our SM2 root", "trusted" if sig.trusted else "NOT TRUSTED"),
            ("revocation", sig.revocation + (f" at {sig.revoked_at}" if sig.revoked_at else "")),
            ("signing time", sig.signing_time),
            (
                "time-stamp",
                f"{stamp.time} serial {stamp.serial}" + ("" if stamp.valid else " NOT VALID") if stamp else "none",
            ),
            ("placed", f"page {sig.page} at {sig.boundary} mm" if sig.page else None),
        ]
        for label, value in lines:
            console.print(f"  {label}: {'' if value is None else value}", markup=False, highlight=False)
        for problem in sig.problems:
            console.print(f"  problem: {problem}", markup=False, highlight=False)
    if not report.signatures:
        console.print("no seals", markup=False, highlight=False)


def verify_ofd_file(cli: typer.Context, data: bytes, as_json: bool) -> None:
    """Verify every GB/T 38540 seal in an OFD package; exits like `verify` does for PDF."""
    with signing_context(cli) as ctx:
        trust = national.sm_trust(ctx, national.gb_context(ctx))
        try:
            report = ofd_verify.verify_ofd(data, trust)
        except SigningError as exc:
            raise _unreadable(exc.detail) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print_ofd(report)
    raise typer.Exit(0 if report.valid else 1)
