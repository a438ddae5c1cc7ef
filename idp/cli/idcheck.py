"""`yiwang id check VALUE`: what an identifier is and what it says, with the number itself masked."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.cli.common import JsonOpt, emit, fail, load_settings
from idp.identity import KINDS, InvalidIdentifier, UsccRules, check_identifier
from idp.masking import mask

app = typer.Typer(help="Check identifiers: ID numbers, permits, USCC, phones, social-security cards.")


@app.command("check")
def check(
    value: Annotated[str, typer.Argument(help="The identifier to check.")],
    kind: Annotated[str | None, typer.Option("--kind", help=f"Only try this kind: {', '.join(KINDS)}.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the kind and the parsed facts. Exit 0 when valid, 1 with a one-line reason when not."""
    if kind is not None and kind not in KINDS:
        fail(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", code=2)
    rules = UsccRules(allowed=load_settings().uscc_allow_list)
    try:
        checked = check_identifier(value, kind=kind, uscc_rules=rules)
    except InvalidIdentifier as exc:
        fail(f"invalid {exc.kind}: {exc.reason}")
    # An organisation's code is public registry data; everything else identifies a person.
    shown = (
        checked.normalized
        if checked.kind == "uscc"
        else mask(checked.normalized, "phone" if checked.kind == "mobile" else "id_number")
    )
    data = {"kind": checked.kind, "value": shown, **checked.facts}
    emit(data, as_json)
