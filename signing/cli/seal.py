"""`yiwang seal ...`: organisation e-seals — create, list, show, policy, revoke, and seal a PDF."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from keys.schema import new_id
from signing import pades, pkcs11_keys, sealing, seals
from signing.cli.host import JsonOpt, console, emit, fail, services, signing_context
from signing.policy import Policy, Requester
from signing.ports import AuditEvent

app = typer.Typer(help="Organisation e-seals: certificate, image, policy; seal PDFs.", no_args_is_help=True)

SealId = Annotated[str, typer.Argument(help="The seal's id (from `seal create` or `seal list`).")]


def _emit(view: seals.SealView, as_json: bool) -> None:
    data = view.to_dict()
    lines = [(k, v) for k, v in data.items() if k not in ("certificate", "org", "policy")]
    lines.insert(1, ("org", f"{view.org_name} ({view.org_uscc})"))
    lines += [(f"policy.{k}", ", ".join(v) if isinstance(v, list) else v) for k, v in view.policy.items()]
    emit(data, as_json, lines)


def _policy(
    clients: list[str] | None, kinds: list[str] | None, cap: int | None, members: frozenset[str] = frozenset()
) -> Policy:
    return Policy(
        clients=frozenset(c.strip() for c in clients or ()),
        members=members,
        document_kinds=frozenset(k.strip() for k in kinds or ()),
        daily_cap=cap,
    )


ClientOpt = Annotated[list[str] | None, typer.Option("--client", help="OAuth client id allowed to use it (repeat).")]
MemberOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--member-id-number", help="ID number of a member (seal_keeper or signer) allowed to use it (repeat)."
    ),
]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", help="Document kind it may seal (repeat; none: any).")]
CapOpt = Annotated[int | None, typer.Option("--daily-cap", help="Most signatures per UTC day.", min=1)]


@app.command("create")
def create(
    cli: typer.Context,
    org: Annotated[str, typer.Option("--org", help="The organisation's USCC.")],
    seal_type: Annotated[str, typer.Option("--type", help=f"One of: {', '.join(seals.TYPES)}.")],
    image: Annotated[Path | None, typer.Option("--image", help="PNG image of the seal (default: drawn).")] = None,
    clients: ClientOpt = None,
    members: MemberOpt = None,
    kinds: KindOpt = None,
    daily_cap: CapOpt = None,
    key_alg: Annotated[str, typer.Option("--key-alg", help="ec-p256 or rsa-2048.")] = "ec-p256",
    days: Annotated[int, typer.Option("--days", help="Certificate validity in days.", min=1, max=3650)] = 3 * 365,
    pkcs11: Annotated[
        bool, typer.Option("--pkcs11", help="Generate the key in the PKCS#11 token (YIWANG_PKCS11_*).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a seal for an organisation: key pair, certificate from our issuing CA, image, policy."""
    png = None
    if image is not None:
        try:
            png = image.read_bytes()
        except OSError as exc:
            fail(f"cannot read {image}: {exc.strerror}")
    with signing_context(cli) as ctx:
        directory = ctx.services.directory

        def work(session: Session) -> seals.SealView:
            org_row = directory.organisation(session, org)
            member_ids = seals.member_ids(session, directory, org_row, members or [])
            material = None
            seal_id = None
            if pkcs11:
                seal_id = new_id()
                material = pkcs11_keys.generate(pkcs11_keys.configured(ctx.services.pkcs11), seal_id, key_alg)
            seal = seals.create(
                session,
                ctx,
                uscc=org,
                seal_type=seal_type,
                policy=_policy(clients, kinds, daily_cap, member_ids),
                image_png=png,
                key_alg=key_alg,
                validity=timedelta(days=days),
                key_material=material,
                seal_id=seal_id,
            )
            return seals.view(session, directory, seal)

        refusal = AuditEvent(action="seal.create", subject=org.strip()[:18], detail={"type": seal_type})
        view = ctx.run(work, refusal=refusal)
    if as_json:
        emit({"id": view.id, **view.to_dict()}, True)
    else:
        _emit(view, False)


@app.command("list")
def list_(
    cli: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's seals (USCC).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List seals (id, organisation, type, status)."""
    with services(cli) as opened, opened.transaction() as session:
        directory = opened.directory
        views = [seals.view(session, directory, seal) for seal in seals.list_seals(session, directory, org)]
    if as_json:
        emit({"seals": [{k: v for k, v in view.to_dict().items() if k != "certificate"} for view in views]}, True)
        return
    for view in views:
        console.print(
            f"{view.id}  {view.status:8}  {view.type:10}  {view.org_uscc}  {view.name}", markup=False, highlight=False
        )


@app.command("show")
def show(cli: typer.Context, seal_id: SealId, as_json: JsonOpt = False) -> None:
    """Show a seal: certificate serial, validity, status, policy (and the certificate PEM with --json)."""
    with services(cli) as opened, opened.transaction() as session:
        view = seals.view(session, opened.directory, seals.get(session, seal_id))
    _emit(view, as_json)


@app.command("image")
def image(
    cli: typer.Context, seal_id: SealId, out: Annotated[Path, typer.Argument(help="Where to write the PNG.")]
) -> None:
    """Write the seal's image (PNG)."""
    with services(cli) as opened, opened.transaction() as session:
        png = seals.get(session, seal_id).image_png
    out.write_bytes(png)


@app.command("policy")
def policy(
    cli: typer.Context,
    seal_id: SealId,
    clients: ClientOpt = None,
    members: MemberOpt = None,
    kinds: KindOpt = None,
    daily_cap: CapOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a seal's policy (options not given become empty: nobody by that route, any kind, no cap)."""
    with signing_context(cli) as ctx:
        directory = ctx.services.directory

        def work(session: Session) -> seals.SealView:
            seal = seals.get(session, seal_id)
            org_row = directory.organisation_by_id(session, seal.org_id)
            member_ids = seals.member_ids(session, directory, org_row, members or [])
            changed = seals.set_policy(session, ctx.services, seal_id, _policy(clients, kinds, daily_cap, member_ids))
            return seals.view(session, directory, changed)

        _emit(ctx.run(work, refusal=AuditEvent(action="seal.policy", subject=seal_id[:36])), as_json)


@app.command("revoke")
def revoke(
    cli: typer.Context,
    seal_id: SealId,
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="unspecified, key_compromise, affiliation_changed, superseded, cessation_of_operation."
        ),
    ] = "cessation_of_operation",
    as_json: JsonOpt = False,
) -> None:
    """Revoke a seal: it signs nothing more, and CRL and OCSP say so at once."""
    with signing_context(cli) as ctx:
        refusal = AuditEvent(action="seal.revoke", subject=seal_id[:36])
        directory = ctx.services.directory
        view = ctx.run(lambda s: seals.view(s, directory, seals.revoke(s, ctx, seal_id, reason)), refusal=refusal)
    _emit(view, as_json)


@app.command("sign")
def sign(
    cli: typer.Context,
    seal_id: SealId,
    infile: Annotated[Path, typer.Argument(help="The PDF to seal.")],
    outfile: Annotated[Path, typer.Argument(help="Where to write the sealed PDF (written only on success).")],
    page: Annotated[int, typer.Option("--page", help="Page for the visible seal: 1 is the first, -1 the last.")] = 1,
    x: Annotated[float, typer.Option("--x", help="Left edge of the seal, in points from the page's left.")] = 380.0,
    y: Annotated[float, typer.Option("--y", help="Bottom edge of the seal, in points from the page's bottom.")] = 80.0,
    width: Annotated[float, typer.Option("--width", help="Seal width in points (72 per inch).")] = 120.0,
    level: Annotated[str, typer.Option("--level", help="PAdES level: B-B, B-T or B-LT.")] = pades.B_LT,
    kind: Annotated[str | None, typer.Option("--kind", help="Document kind, checked against the policy.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal a PDF: PAdES with a visible seal, B-LT by default; recorded and audited."""
    try:
        size = infile.stat().st_size
        if size > pades.MAX_PDF_BYTES:
            fail(f"{infile} is larger than {pades.MAX_PDF_BYTES} bytes")
        document = infile.read_bytes()
    except OSError as exc:
        fail(f"cannot read {infile}: {exc.strerror}")
    with signing_context(cli) as ctx:
        result = sealing.seal_document(
            ctx,
            seal_id,
            document,
            pades.Placement(page=page, x=x, y=y, width=width),
            requester=Requester(kind="operator", name="operator", channel="cli"),
            document_kind=kind,
            level=level,
        )
    # Write next to the target, then rename: a reader never sees a half-written file.
    try:
        with tempfile.NamedTemporaryFile(dir=outfile.resolve().parent, prefix=".sealing-", delete=False) as tmp:
            tmp.write(result.signed.data)
        os.replace(tmp.name, outfile)
    except OSError as exc:
        fail(f"cannot write {outfile}: {exc.strerror}")
    signed = result.signed
    emit(
        {
            "record": result.record_id,
            "seal": seal_id,
            "out": str(outfile),
            "level": signed.level,
            "document_sha256": signed.document_sha256,
            "signed_sha256": signed.signed_sha256,
            "tsa_serial": format(signed.tsa_serial, "x") if signed.tsa_serial is not None else None,
            "tsa_time": signed.tsa_time.isoformat() if signed.tsa_time else None,
        },
        as_json,
    )
