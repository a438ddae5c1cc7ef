"""`yiwang kiosk ...`: register hall kiosks (a fresh key pair; the private key goes to a 0600 file, never to
the screen), list and revoke them, and simulate one against a running service."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from idp.cli.common import JsonOpt, console, emit, fail, refusals, runtime
from idp.masking import mask

app = typer.Typer(help="Self-service kiosks (人证合一): register, list, revoke, simulate.", no_args_is_help=True)


def _write_private(path: Path, pem: bytes) -> None:
    """Create the key file with mode 0600 from the start (never world-readable, not even for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


@app.command("register")
def register(
    hall: Annotated[str, typer.Option("--hall", help="The service hall the kiosk stands in (YIWANG_HALLS id).")],
    name: Annotated[str, typer.Option("--name", help="The kiosk's name, e.g. its place in the hall.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write its private key (mode 0600).")] = Path(
        "kiosk-key.pem"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Register a kiosk client with a new EC key pair; prints its client_id (the key only goes to --out)."""
    from idp.kiosk import devices

    if out.exists():
        fail(f"{out} exists: choose another --out (a key file is never overwritten)", 2)
    with runtime() as rt:

        def work(session: Session) -> devices.Registered:
            return devices.register(session, rt.settings, hall=hall, name=name)

        try:
            _write_private(out, b"")  # the file first: if it can't be written, nothing is registered
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror}", 2)
        try:
            made = rt.run(work)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        out.write_bytes(made.private_key_pem)
    if as_json:
        emit({"client_id": made.client_id, "hall": hall, "key_file": str(out), "kid": made.kid}, True)
        return
    console.print(f"client_id: {made.client_id}", markup=False, highlight=False)
    console.print(f"private key written to {out} (mode 0600; keep it on the kiosk only)", markup=False)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every kiosk: client id, hall, name, whether revoked."""
    from idp.kiosk import devices

    with runtime() as rt:
        rows = rt.run(devices.list_kiosks)
    for row in rows:
        data = {"client_id": row.client_id, "hall": row.hall, "name": row.name, "created_at": row.created_at}
        if as_json:
            emit({**data, "revoked": row.revoked}, True)
        else:
            state = "revoked" if row.revoked else "active"
            console.print(f"{row.client_id}  {row.hall}  {state}  {row.name}", markup=False, highlight=False)


@app.command("revoke")
def revoke(client_id: Annotated[str, typer.Argument(help="The kiosk's client id.")]) -> None:
    """Stop a kiosk: it can no longer identify anyone."""
    from idp.kiosk import devices

    with runtime() as rt:
        rt.run(lambda s: devices.revoke(s, client_id))
    console.print(f"revoked {client_id}", markup=False, highlight=False)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror}", 2)


def _chip(data: bytes) -> bytes:
    from PIL import UnidentifiedImageError

    from idp.kiosk import simulator

    try:
        return simulator.chip_photo(data)
    except (UnidentifiedImageError, OSError):
        fail("the chip photo is not an image", 2)


@app.command("simulate")
def simulate(
    base_url: Annotated[str, typer.Option("--base-url", help="The service, e.g. http://127.0.0.1:8000.")],
    client_id: Annotated[str, typer.Option("--client-id", help="The kiosk's client id.")],
    key: Annotated[Path, typer.Option("--key", help="The kiosk's private key (PEM).")],
    hall: Annotated[str, typer.Option("--hall", help="The hall the kiosk stands in.")],
    card_name: Annotated[str, typer.Option("--card-name", help="Name on the chip.")],
    card_number: Annotated[str, typer.Option("--card-number", help="ID number on the chip.")],
    valid_until: Annotated[str, typer.Option("--valid-until", help="YYYY-MM-DD, or 长期 (long-term).")],
    chip_photo: Annotated[Path, typer.Option("--chip-photo", help="The chip's photo (JPEG).")],
    face: Annotated[Path, typer.Option("--face", help="A frontal photo of the person at the camera.")],
    face_turned: Annotated[
        Path | None,
        typer.Option("--face-turned", help="A three-quarter photo of that person (turned to their right)."),
    ] = None,
    valid_from: Annotated[str, typer.Option("--valid-from", help="YYYY-MM-DD.")] = "2020-01-01",
    authority: Annotated[str | None, typer.Option("--authority", help="Issuing authority on the chip.")] = None,
    printed: Annotated[bool, typer.Option("--printed", help="Hold a printed still up to the camera.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Play a kiosk's card reader and camera over the HTTP API (exit 0 identified, 1 refused, 2 usage error)."""
    import httpx

    from idp.kiosk import simulator

    if face_turned is None and not printed:
        fail("--face-turned is needed to perform the turns of a liveness challenge (or use --printed)", 2)
    card = simulator.Card(
        card_name, card_number, valid_from, valid_until, _chip(_read(chip_photo, "chip photo")), authority
    )
    frontal = _read(face, "face photo")
    turned = _read(face_turned, "face photo") if face_turned is not None else None
    pem = _read(key, "key")
    with refusals(), httpx.Client(base_url=base_url, timeout=120) as http:
        try:
            kiosk = simulator.Kiosk(http, client_id, pem, hall)
            outcome = kiosk.run(card, frontal, turned, printed)
        except (ValueError, TypeError) as exc:
            fail(f"the key is not an EC private key in PEM: {exc}", 2)
        except httpx.HTTPError as exc:
            fail(f"cannot reach {base_url}: {exc}", 2)
    who = f"{mask(card_name, 'name')} {mask(card_number, 'id_number')}"
    if outcome.passed:
        claims = _claims(outcome.body["id_token"])
        result = {
            "outcome": "identified",
            "card": who,
            "acr": claims.get("acr"),
            "amr": claims.get("amr"),
            "aud": claims.get("aud"),
            "expires_in": outcome.body.get("expires_in"),
            "refresh_token": "refresh_token" in outcome.body,
        }
        emit(result, as_json)
        return
    body = outcome.body
    emit(
        {
            "outcome": "refused",
            "card": who,
            "status": outcome.status,
            "error": body.get("error"),
            "reason": body.get("reason"),
            "message": body.get("error_description"),
        },
        as_json,
    )
    raise typer.Exit(1)
