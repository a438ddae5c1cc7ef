"""`yiwang ca ...`: our certification authorities' certificates, for whoever must trust or chain to them."""

from __future__ import annotations

import sys

import typer

from signing import pki
from signing.cli.host import fail, services

app = typer.Typer(help="The PKI: root and issuing CA certificates (PEM).", no_args_is_help=True)


def _authority(cli: typer.Context) -> pki.Authority:
    with services(cli) as opened, opened.transaction() as session:
        try:
            return pki.load(session, opened.master, opened.issuer)
        except LookupError as exc:
            fail(str(exc))


@app.command("export-root")
def export_root(cli: typer.Context) -> None:
    """Print the root CA certificate (PEM): what a validator installs as its trust anchor."""
    sys.stdout.write(pki.pem([_authority(cli).root.cert]))


@app.command("export-chain")
def export_chain(cli: typer.Context) -> None:
    """Print the issuing chain (PEM), issuing CA first, then the root."""
    sys.stdout.write(pki.pem(_authority(cli).chain()))
