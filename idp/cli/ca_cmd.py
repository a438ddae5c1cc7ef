"""`yiwang ca ...`: our certification authorities' certificates, for whoever must trust or chain to them."""

from __future__ import annotations

import sys

import typer

from idp.cli.common import fail, runtime
from signing import pki

app = typer.Typer(help="The PKI: root and issuing CA certificates (PEM).", no_args_is_help=True)


def _authority() -> pki.Authority:
    with runtime() as rt, rt.transaction() as session:
        try:
            return pki.load(session, rt.master, rt.settings.issuer)
        except LookupError as exc:
            fail(str(exc))


@app.command("export-root")
def export_root() -> None:
    """Print the root CA certificate (PEM): what a validator installs as its trust anchor."""
    sys.stdout.write(pki.pem([_authority().root.cert]))


@app.command("export-chain")
def export_chain() -> None:
    """Print the issuing chain (PEM), issuing CA first, then the root."""
    sys.stdout.write(pki.pem(_authority().chain()))
