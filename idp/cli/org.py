"""`yiwang org ...`: organisations by unified social credit code, and their members."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from idp import audit
from idp.cli.common import JsonOpt, emit, runtime
from idp.records import organisations

app = typer.Typer(help="Organisations: departments and enterprises, keyed by USCC.", no_args_is_help=True)

UsccOpt = Annotated[str, typer.Option("--uscc", help="Unified social credit code (18 characters).")]


def _emit(view: organisations.OrganisationView, as_json: bool) -> None:
    data = view.to_dict()
    lines = [(k, v) for k, v in data.items() if k != "members"]
    lines += [("member", f"{m['name']} ({m['role']}) {m['person']}") for m in view.members]
    emit(data, as_json, lines)


@app.command("add")
def add(
    uscc: UsccOpt,
    name: Annotated[str, typer.Option("--name", help="Registered name.")],
    kind: Annotated[str, typer.Option("--kind", help="department, enterprise or other.")],
    legal_rep: Annotated[
        str | None, typer.Option("--legal-rep-id-number", help="ID number of the legal representative.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an organisation."""
    with runtime() as rt:
        rules = rt.uscc_rules

        def work(session: Session) -> organisations.OrganisationView:
            org = organisations.add(
                session, rt.protector, rules, uscc=uscc, name=name, kind=kind, legal_rep_id_number=legal_rep
            )
            return organisations.view(session, rt.protector, rules, org)

        refusal = audit.Event(action="org.add", subject=uscc.strip()[:18], actor="operator")
        _emit(rt.run(work, refusal=refusal), as_json)


@app.command("show")
def show(uscc: UsccOpt, as_json: JsonOpt = False) -> None:
    """Show an organisation with its members (names masked)."""
    with runtime() as rt:
        rules = rt.uscc_rules
        view = rt.run(lambda s: organisations.view(s, rt.protector, rules, organisations.get_by_uscc(s, uscc, rules)))
        _emit(view, as_json)


@app.command("add-member")
def add_member(
    uscc: UsccOpt,
    id_number: Annotated[str, typer.Option("--id-number", help="The member's ID number.")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(organisations.ROLES)}.")],
) -> None:
    """Give a registered person a role in an organisation."""
    with runtime() as rt:
        rules = rt.uscc_rules
        rt.run(lambda s: organisations.add_member(s, rt.protector, rules, uscc=uscc, id_number=id_number, role=role))
        emit({"status": "added", "role": role}, False)
