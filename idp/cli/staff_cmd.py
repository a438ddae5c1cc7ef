"""`yiwang staff ...`: console roles, granted to an ID number (output masked; every change audited)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from idp.cli.common import JsonOpt, console, emit, runtime
from idp.masking import mask
from idp.staff import roles

app = typer.Typer(help="Console staff: roles granted to an ID number.", no_args_is_help=True)

IdNumberOpt = Annotated[str, typer.Option("--id-number", help="The staff member's ID number.")]
RoleOpt = Annotated[str, typer.Option("--role", help=f"One of {', '.join(roles.ROLES)}.")]


@app.command("grant")
def grant(
    id_number: IdNumberOpt,
    role: RoleOpt,
    hall: Annotated[str | None, typer.Option("--hall", help="Bind a counter role to one hall.")] = None,
) -> None:
    """Grant a role to an ID number; it applies once the number's holder has proven owning it (loa:2)."""
    with runtime() as rt:
        halls = {h.id for h in rt.settings.halls}
        rt.run(
            lambda s: roles.grant(
                s, rt.protector, id_number=id_number, role=role, hall=hall, halls=halls, actor="operator", channel="cli"
            )
        )
    emit({"status": "granted", "role": role, "id_number": mask(id_number, "id_number")}, False)


@app.command("revoke")
def revoke(id_number: IdNumberOpt, role: RoleOpt) -> None:
    """Revoke a role from an ID number."""
    with runtime() as rt:
        rt.run(lambda s: roles.revoke(s, rt.protector, id_number=id_number, role=role, actor="operator", channel="cli"))
    emit({"status": "revoked", "role": role, "id_number": mask(id_number, "id_number")}, False)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every role grant, its holder masked ('-' while nobody has proven the number)."""
    with runtime() as rt:
        rows = rt.run(lambda s: roles.listing(s, rt.protector))
    if as_json:
        emit({"staff": [asdict(r) for r in rows]}, True)
        return
    if not rows:
        console.print("no staff", markup=False, highlight=False)
    for r in rows:
        hall = f" @{r.hall}" if r.hall else ""
        console.print(
            f"{r.role}{hall}: {r.id_number or '-'} {r.name or '-'} (granted {r.granted_at} by {r.granted_by})",
            markup=False,
            highlight=False,
        )
