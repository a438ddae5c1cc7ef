"""`yiwang keys ...`: rotate data keys (re-encrypting every field) and token signing keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy import select

from idp import audit
from idp.cli.common import JsonOpt, console, emit, fail, runtime
from idp.db import utcnow
from keys import rotation
from keys import store as keystore

app = typer.Typer(help="The key hierarchy and token signing keys.", no_args_is_help=True)


@app.command("rotate")
def rotate() -> None:
    """Make a new data key and re-encrypt every protected field under it, with the service running."""
    with runtime() as rt:
        job = rt.key_rotation()
        total = rotation.count_rows(job)
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("re-encrypting", total=max(total, 1))
            report = rotation.rotate(job, progress=lambda n: bar.advance(task, n))
        console.print(
            f"data key {report.new_version} active; {report.rewritten} values re-encrypted; "
            f"retired: {', '.join(map(str, report.retired)) or 'none'}"
        )
        if report.remaining:
            fail(f"{report.remaining} older key version(s) still in use; run `yiwang keys rotate` again")


@app.command("rotate-signing")
def rotate_signing(
    alg: Annotated[str, typer.Option("--alg", help="ES256 or RS256.")] = "ES256",
) -> None:
    """A new token signing key; the old one signs no more but stays published until its tokens expire."""
    if alg not in ("ES256", "RS256"):
        fail("--alg must be ES256 or RS256")
    with runtime() as rt, rt.transaction() as session:
        row = keystore.add_signing_key(session, rt.master, alg)
        audit.record(session, audit.Event(action="keys.rotate_signing", subject=row.kid, detail={"alg": alg}))
        lifetime = timedelta(seconds=rt.settings.max_token_lifetime_s)
        dropped = keystore.drop_expired_signing_keys(session, utcnow(), lifetime)
    console.print(f"new {alg} signing key {row.kid}; {dropped} expired key(s) removed")


@app.command("list")
def list_keys(as_json: JsonOpt = False) -> None:
    """Data keys and signing keys, with their status (never the key material)."""
    with runtime() as rt, rt.transaction() as session:
        data = [
            {
                "kind": "data",
                "id": str(k.version),
                "purpose": k.purpose,
                "status": k.status,
                "created_at": k.created_at.isoformat(),
            }
            for k in session.scalars(select(keystore.DataKey).order_by(keystore.DataKey.version))
        ] + [
            {
                "kind": "signing",
                "id": k.kid,
                "purpose": k.alg,
                "status": "retired" if k.retired_at else "active",
                "created_at": k.created_at.isoformat(),
            }
            for k in session.scalars(select(keystore.SigningKey).order_by(keystore.SigningKey.created_at))
        ]
    for item in data:
        if as_json:
            emit(item, True)
        else:
            console.print(
                f"{item['kind']:<8} {item['id']:<44} {item['purpose']:<8} {item['status']:<9} {item['created_at']}"
            )
