"""`yiwang seal ...`: organisation e-seals — create, list, show, export, policy, revoke, and seal a PDF or an OFD."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from keys.schema import new_id
from signing import (
    gb38540,
    gb_sealing,
    gb_seals,
    national,
    ofd,
    ofd_seal,
    pades,
    pkcs11_keys,
    seal_image,
    sealing,
    seals,
)
from signing.cli.host import JsonOpt, console, emit, fail, refusals, services, signing_context
from signing.context import SigningContext
from signing.errors import Conflict, InvalidInput, UnprocessableOfd
from signing.policy import Policy, Requester
from signing.ports import AuditEvent

app = typer.Typer(
    help="Organisation e-seals (PAdES or GB/T 38540): certificate, image, policy; seal.", no_args_is_help=True
)

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
    seal_format: Annotated[
        str, typer.Option("--format", help="pades (X.509, PDF) or gb38540 (SM2 + GB/T 38540 SESeal, OFD).")
    ] = "pades",
    as_json: JsonOpt = False,
) -> None:
    """Create a seal for an organisation: key pair, certificate from our issuing CA, image, policy."""
    png = None
    if image is not None:
        try:
            png = image.read_bytes()
        except OSError as exc:
            fail(f"cannot read {image}: {exc.strerror}")
    if seal_format not in ("pades", gb_seals.FORMAT):
        fail("--format must be pades or gb38540")
    if seal_format == gb_seals.FORMAT:
        if pkcs11 or key_alg != "ec-p256":
            fail("a gb38540 seal always has a software SM2 key: drop --pkcs11 and --key-alg")
        create_gb_seal(cli, org, seal_type, png, _policy(clients, kinds, daily_cap), members or [], days, as_json)
        return
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
    """Show a seal: certificate serial, validity, status, policy (and the certificate PEM with --json); for a
    gb38540 seal also its decoded SESeal."""
    with services(cli) as opened, opened.transaction() as session:
        seal = seals.get(session, seal_id)
        view, ses = seals.view(session, opened.directory, seal), seal.ses_seal
    if ses is None:
        _emit(view, as_json)
        return
    show_gb_seal(view, ses, as_json)


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
        if ctx.run(lambda s: seals.get(s, seal_id).format) == gb_seals.FORMAT:
            _emit(revoke_gb_seal(ctx, seal_id, reason), as_json)
            return
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
    x: Annotated[
        float | None, typer.Option("--x", help="Left edge of the seal: PDF points from the left (380), OFD mm (130).")
    ] = None,
    y: Annotated[
        float | None,
        typer.Option("--y", help="PDF: bottom edge in points from the bottom (80); OFD: top edge in mm (220)."),
    ] = None,
    width: Annotated[float | None, typer.Option("--width", help="Seal width: PDF points (120), OFD mm (42).")] = None,
    level: Annotated[str, typer.Option("--level", help="PAdES level: B-B, B-T or B-LT.")] = pades.B_LT,
    kind: Annotated[str | None, typer.Option("--kind", help="Document kind, checked against the policy.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Seal a PDF (PAdES with a visible seal, B-LT by default) or an OFD (GB/T 38540 SES_Signature with an SM2
    time-stamp, gb38540 seals; --x/--y/--width then in millimetres from the page's top-left); recorded, audited."""
    try:
        with infile.open("rb") as handle:
            head = handle.read(4)
        limit = ofd.MAX_OFD_BYTES if national.is_ofd(head) else pades.MAX_PDF_BYTES
        if infile.stat().st_size > limit:
            fail(f"{infile} is larger than {limit} bytes")
        document = infile.read_bytes()
    except OSError as exc:
        fail(f"cannot read {infile}: {exc.strerror}")
    if national.is_ofd(document):
        side = width if width is not None else 42.0
        with refusals():
            placement = ofd_seal.StampPlacement(
                page=page, x=130.0 if x is None else x, y=220.0 if y is None else y, width=side, height=side
            )
        sign_ofd(cli, seal_id, document, outfile, placement, kind, level != "B-B", as_json)
        return
    with signing_context(cli) as ctx:
        result = sealing.seal_document(
            ctx,
            seal_id,
            document,
            pades.Placement(
                page=page,
                x=380.0 if x is None else x,
                y=80.0 if y is None else y,
                width=120.0 if width is None else width,
            ),
            requester=Requester(kind="operator", name="operator", channel="cli"),
            document_kind=kind,
            level=level,
        )
    _write_atomically(outfile, result.signed.data)
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


def _write_atomically(outfile: Path, data: bytes) -> None:
    """Write next to the target, then rename: a reader never sees a half-written file."""
    try:
        with tempfile.NamedTemporaryFile(dir=outfile.resolve().parent, prefix=".sealing-", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, outfile)
    except OSError as exc:
        fail(f"cannot write {outfile}: {exc.strerror}")


# --- National-format (GB/T 38540, SM2) seals: kept apart so they move with the rest of the signing CLI. ---


def create_gb_seal(
    cli: typer.Context,
    org: str,
    seal_type: str,
    png: bytes | None,
    policy: Policy,
    members: list[str],
    days: int,
    as_json: bool,
) -> None:
    """`seal create --format gb38540`: SM2 key and certificate, SESeal signed by our seal-making authority."""
    if seal_type not in seals.TYPES:
        fail(f"seal type must be one of {', '.join(seals.TYPES)}")
    seals.check_policy(policy)
    with signing_context(cli) as ctx:
        gb = national.gb_context(ctx)
        directory = ctx.services.directory

        def work(session: Session) -> seals.SealView:
            org_row = directory.organisation(session, org)
            member_ids = seals.member_ids(session, directory, org_row, members)
            image, source = (seal_image.clean_upload(png), "uploaded") if png else (None, "drawn")
            if image is None:
                image = seal_image.draw_seal(org_row.name, seals.TYPES[seal_type])
            seal = gb_seals.create(
                session,
                gb.authority,
                ctx.services.master,
                national.audit_sink(ctx),
                org_id=org_row.id,
                org_name=org_row.name,
                uscc=org_row.uscc,
                seal_type=seal_type,
                seal_name=f"{org_row.name}{seals.TYPES[seal_type]}",
                policy=Policy(policy.clients, member_ids, policy.document_kinds, policy.daily_cap),
                image_png=image,
                image_source=source,
                validity=timedelta(days=days),
            )
            return seals.view(session, directory, seal)

        refusal = AuditEvent(action="seal.create", subject=org.strip()[:18], detail={"type": seal_type})
        view = ctx.run(work, refusal=refusal)
    if as_json:
        emit({"id": view.id, "format": gb_seals.FORMAT, **view.to_dict()}, True)
    else:
        _emit(view, False)


def show_gb_seal(view: seals.SealView, ses_seal: bytes, as_json: bool) -> None:
    facts = gb38540.decode_seal(ses_seal).to_dict()
    if as_json:
        emit({**view.to_dict(), "format": gb_seals.FORMAT, "ses_seal": facts}, True)
        return
    _emit(view, False)
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(f"{c['subject']} (serial {c['serial']})" for c in value)
        console.print(f"ses_seal.{key}: {value}", markup=False, highlight=False)


@app.command("export")
def export(
    cli: typer.Context,
    seal_id: SealId,
    out: Annotated[
        Path | None, typer.Argument(help="Where to write the DER SESeal (default: standard output).")
    ] = None,
) -> None:
    """Write a gb38540 seal's GB/T 38540 SESeal (DER)."""
    with services(cli) as opened, opened.transaction() as session:
        ses = seals.get(session, seal_id).ses_seal
    if ses is None:
        fail(f"seal {seal_id.strip()[:36]} is a PAdES seal: only gb38540 seals have an SESeal")
    if out is None:
        sys.stdout.buffer.write(ses)
        sys.stdout.buffer.flush()
        return
    _write_atomically(out, ses)


def revoke_gb_seal(ctx: SigningContext, seal_id: str, reason: str) -> seals.SealView:
    gb = national.gb_context(ctx)

    def work(session: Session) -> seals.SealView:
        seal = seals.get(session, seal_id, lock=True)
        if seal.status == "revoked":
            raise Conflict(f"seal {seal.id} is already revoked")
        try:
            gb_seals.revoke(session, gb.authority, seal, reason, national.audit_sink(ctx))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return seals.view(session, ctx.services.directory, seal)

    return ctx.run(work, refusal=AuditEvent(action="seal.revoke", subject=seal_id[:36]))


def sign_ofd(
    cli: typer.Context,
    seal_id: str,
    document: bytes,
    outfile: Path,
    placement: ofd_seal.StampPlacement,
    kind: str | None,
    timestamp: bool,
    as_json: bool,
) -> None:
    """`seal sign` on an OFD: the same policy checks, record and audit as for PDF."""
    with signing_context(cli) as ctx:
        gb = national.gb_context(ctx)
        requester = Requester(kind="operator", name="operator", channel="cli")
        refusal = AuditEvent(
            action="seal.sign", subject=seal_id.strip()[:36], actor="operator", detail={"kind": kind, "format": "ofd"}
        )
        try:
            result = gb_sealing.seal_ofd(
                gb,
                national.runner(ctx, refusal),
                national.audit_sink(ctx),
                seal_id,
                document,
                placement,
                requester=requester,
                document_kind=kind,
                timestamp=timestamp,
            )
        except UnprocessableOfd as exc:  # bad input found while sealing: audited like a policy refusal
            ctx.audit_refusal(refusal, exc)
            raise
    _write_atomically(outfile, result.data)
    emit(
        {
            "record": result.record_id,
            "seal": seal_id,
            "out": str(outfile),
            "level": result.level,
            "signature": result.signature_path,
            "document_sha256": result.document_sha256,
            "signed_sha256": result.signed_sha256,
            "tsa_serial": format(result.tsa_serial, "x") if result.tsa_serial is not None else None,
            "tsa_time": result.tsa_time.isoformat() if result.tsa_time else None,
        },
        as_json,
    )
