"""`yiwang audit ...`: seal events into the Merkle tree, verify it, prove inclusion and consistency, show events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import audit
from idp.audit import proofs, sequencer
from idp.audit import verify as verifying
from idp.cli.common import JsonOpt, console, emit, fail, runtime
from idp.runtime import Runtime

app = typer.Typer(
    help="The append-only audit trail, sealed into a Merkle tree with signed tree heads.", no_args_is_help=True
)


@contextmanager
def _reading(rt: Runtime) -> Iterator[Session]:
    """A read-only snapshot: a long `verify` must not hold SQLite's write lock, nor see a seal half-way."""
    options: dict[str, object] = {"read_only": True}
    if rt.engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with rt.engine.connect().execution_options(**options) as conn, conn.begin(), Session(bind=conn) as session:
        yield session


@app.command("seal")
def seal() -> None:
    """Seal every waiting event under a new signed tree head (waits for a sequencer running elsewhere)."""
    total, head = 0, None
    with runtime() as rt:
        while True:
            with rt.transaction() as session:
                result = sequencer.seal(session, rt.master, rt.settings.issuer, wait=True)
            if result.head is None:
                break
            total, head = total + result.sealed, result.head
    if head is None:
        console.print("nothing to seal")
    else:
        console.print(f"sealed {total} events: tree head {head.tree_size} {head.root_hash}")


@app.command("verify")
def verify(
    known: Annotated[
        Path | None,
        typer.Option("--known", help="A tree head published earlier (JSON from /audit/v1/sth) the log must extend."),
    ] = None,
) -> None:
    """Exit 0 when every event, leaf and signed tree head checks out; otherwise 1, naming the first problem."""
    head = None
    if known is not None:
        try:
            data = json.loads(known.read_text())
            head = audit.TreeHead(
                int(data["tree_size"]), str(data["root_hash"]), int(data["timestamp"]), str(data["signature"])
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"cannot read the known tree head: {exc}")
    with runtime() as rt, _reading(rt) as session:
        report = verifying.verify(session, rt.master, rt.settings.issuer, head)
    if not report.intact:
        fail(f"audit log broken: {report.problem}")
    console.print(f"audit log intact: {report.leaves} events under {report.heads} signed tree heads")


@app.command("prove")
def prove(
    event_id: Annotated[str, typer.Argument(help="The event's id (see `audit tail`).")],
    tree_size: Annotated[
        int | None, typer.Option("--tree-size", min=1, help="Against this tree head, not the latest.")
    ] = None,
) -> None:
    """Print (JSON) the inclusion proof of an event in a signed tree head: RFC 6962 §2.1.1 audit path."""
    with runtime() as rt, _reading(rt) as session:
        try:
            proof = proofs.inclusion(session, event_id, tree_size, content=True)
        except proofs.ProofError as exc:
            fail(str(exc))
    if not proofs.check_inclusion(proof):
        fail(f"the proof for {event_id} does not verify: run `yiwang audit verify`")
    emit(proof, True)


@app.command("consistency")
def consistency(
    first: Annotated[int, typer.Argument(min=1, help="Size of the older signed tree head.")],
    second: Annotated[int | None, typer.Argument(min=1, help="Size of the newer one (default: the latest).")] = None,
) -> None:
    """Print (JSON) the consistency proof between two signed tree heads: RFC 6962 §2.1.2."""
    with runtime() as rt, _reading(rt) as session:
        try:
            proof = proofs.consistency(session, first, second)
        except proofs.ProofError as exc:
            fail(str(exc))
    if not proofs.check_consistency(proof):
        fail(f"the tree heads {first} and {second or 'latest'} are not consistent: run `yiwang audit verify`")
    emit(proof, True)


@app.command("tail")
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=10000, help="How many events.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The last N events, oldest first, with their leaf index once sealed (`-` while waiting)."""
    with runtime() as rt, _reading(rt) as session:
        rows = audit.tail(session, n)
        ids = [row.id for row in rows]
        query = select(audit.AuditLeaf.event_id, audit.AuditLeaf.idx).where(audit.AuditLeaf.event_id.in_(ids))
        leaves = {event_id: idx for event_id, idx in session.execute(query)}
        for row in rows:
            leaf = leaves.get(row.id)
            if as_json:
                emit({**audit.as_dict(row), "leaf_index": leaf}, True)
            else:
                console.print(
                    f"{row.id} {'-' if leaf is None else leaf:>6} {row.at:%Y-%m-%d %H:%M:%S} {row.outcome:<8} "
                    f"{row.action:<18} {row.subject} by {row.actor} via {row.channel}",
                    markup=False,
                    highlight=False,
                )
