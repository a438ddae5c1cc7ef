"""`yiwang person ...`: register and show persons (personal data always masked in output)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from idp import audit
from idp.cli.common import JsonOpt, console, emit, runtime
from idp.errors import NotFound
from idp.records import people
from idp.records.models import Person
from idp.runtime import Runtime

app = typer.Typer(help="Persons: citizens and residents, keyed by ID number.", no_args_is_help=True)

IdNumberOpt = Annotated[str, typer.Option("--id-number", help="Citizen ID or permanent-residence card number.")]


def _find(rt: Runtime, session: Session, id_number: str) -> Person:
    person = people.find_by_id_number(session, rt.protector, id_number)
    if person is None:
        raise NotFound("no person with that ID number")
    return person


@app.command("add")
def add(
    id_number: IdNumberOpt,
    name: Annotated[str, typer.Option("--name", help="Full name as on the ID document.")],
    phone: Annotated[str | None, typer.Option("--phone", help="Mainland mobile number.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a person. Refused (exit 1) for an invalid or already registered ID number."""
    with runtime() as rt:

        def work(session: Session) -> people.PersonView:
            person = people.add(session, rt.protector, id_number=id_number, name=name, phone=phone)
            return people.view(session, rt.protector, person)

        view = rt.run(work, refusal=audit.Event(action="person.add", subject="-", actor="operator"))
        emit(view.to_dict(), as_json)


@app.command("show")
def show(id_number: IdNumberOpt, as_json: JsonOpt = False) -> None:
    """Show a person, masked."""
    with runtime() as rt:
        view = rt.run(lambda session: people.view(session, rt.protector, _find(rt, session, id_number)))
        emit(view.to_dict(), as_json)


@app.command("bind-ss-card")
def bind_ss_card(
    id_number: IdNumberOpt,
    card_number: Annotated[str, typer.Option("--card-number", help="Social-security card number (9 characters).")],
) -> None:
    """Bind a (re)issued social-security card to a person; the previous card is marked replaced."""
    with runtime() as rt:
        rt.run(
            lambda session: people.bind_ss_card(
                session, rt.protector, _find(rt, session, id_number).id, card_number, actor="operator"
            )
        )
        emit({"status": "bound"}, False)


@app.command("conflicts")
def conflicts(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Conflicts over ID numbers: a stronger proof that took a binding over (`revoked`), or a claim refused
    against an equal or stronger one (`refused`). Persons by internal id; no personal data."""
    from dataclasses import asdict

    from idp.proofing import binding

    with runtime() as rt:
        rows = rt.run(lambda session: binding.conflicts(session, limit))
    if as_json:
        emit({"conflicts": [asdict(r) for r in rows]}, True)
        return
    if not rows:
        console.print("no conflicts", markup=False, highlight=False)
    for r in rows:
        console.print(
            f"{r.at} {r.outcome}: holder {r.holder or '-'} (proof {r.holder_proof}) vs claimant "
            f"{r.claimant or '-'} (proof {r.claimant_proof}, {r.source})",
            markup=False,
            highlight=False,
        )
