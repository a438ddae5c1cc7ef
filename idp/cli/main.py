"""`yiwang`: initialise, serve, and operate the service.

Commands are registered by name and loaded on first use (`LazyGroup`): `yiwang --help` and `yiwang id check`
do not import FastAPI, SQLAlchemy, pyHanko or the face models, which cost seconds. Each command's module
imports what it needs at its top, and is imported only when that command (or its `--help`) runs.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# name → ("module:attribute", the one line `yiwang --help` shows); the attribute is a Typer app (a group of
# commands) or a function (one command). tests/cli/test_startup.py checks each line against the module's.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("idp.cli.service_cmd:init", "Create the data directory, the database schema and the keys (idempotent)."),
    "serve": ("idp.cli.service_cmd:serve", "Run the service (initialising it on first run)."),
    "db": ("idp.cli.db_cmd:app", "Database schema (Alembic migrations)."),
    "id": ("idp.cli.idcheck:app", "Check identifiers: ID numbers, permits, USCC, phones, social-security cards."),
    "person": ("idp.cli.person:app", "Persons: citizens and residents, keyed by ID number."),
    "org": ("idp.cli.org:app", "Organisations: departments and enterprises, keyed by USCC."),
    "keys": ("idp.cli.keys_cmd:app", "The key hierarchy and token signing keys."),
    "audit": (
        "idp.cli.audit_cmd:app",
        "The append-only audit trail, sealed into a Merkle tree with signed tree heads.",
    ),
    "operator": ("idp.cli.operator_cmd:app", "Operator API credentials."),
    "alerts": ("idp.cli.alerts_cmd:app", "Operator alerts: spending caps reached and warning thresholds passed."),
    "staff": ("idp.cli.staff_cmd:app", "Console staff: roles granted to an ID number."),
    "face": ("idp.cli.face_cmd:app", "Face matching (face_recognition): compare two photos."),
    "adapters": ("idp.cli.adapters_cmd:app", "External providers: SMS, UnionPay, Alipay, population registry, face."),
    "client": ("idp.cli.client_cmd:app", "OAuth 2.0 / OpenID Connect clients (relying parties and services)."),
    "kiosk": ("idp.cli.kiosk_cmd:app", "Self-service kiosks (人证合一): register, list, revoke, simulate."),
    "ca": ("signing.cli.ca:app", "The PKI: root and issuing CA certificates (PEM)."),
    "seal": ("signing.cli.seal:app", "Organisation e-seals (PAdES or GB/T 38540): certificate, image, policy; seal."),
    "verify": (
        "signing.cli.verify:verify_command",
        "Verify every signature in a PDF or seal in an OFD (exit 0 all valid, 1 any invalid, 2 unreadable input).",
    ),
    "backup": (
        "idp.cli.backup_cmd:backup_command",
        "Write a backup of the database (its sealed keys included) to a file sealed under the master key.",
    ),
    "restore": (
        "idp.cli.backup_cmd:restore_command",
        "Restore a backup into a new, empty database (YIWANG_DATABASE_URL), with the master key that made it.",
    ),
    "render": (
        "signing.cli.render:render_command",
        "Render an OFD page (the first by default) with every seal placed on it, to PNG.",
    ),
}


def load_command(name: str) -> Any:
    """Import the command's module and build its click command, as `add_typer` / `command` would."""
    module, _, attribute = COMMANDS[name][0].partition(":")
    target: Any = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
        holder.command("-")(lambda: None)  # two commands: Typer builds a group, as it does for the root
    group: Any = typer.main.get_command(holder)
    return group.commands[name]


class LazyGroup(TyperGroup):
    """The root group: commands are loaded when run; the list in `--help` comes from `COMMANDS`."""

    _listing = False

    # Click's types are Typer's private copy of click (typer._click): hence Any for its context and formatter.
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        loaded = super().get_command(ctx, cmd_name)
        if loaded is not None or cmd_name not in COMMANDS:
            return loaded
        if self._listing:  # listing commands for --help: their one line is enough
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1], short_help=COMMANDS[cmd_name][1])
        command = load_command(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyGroup,
    rich_markup_mode=None,
    help="Yiwang (一网): unified identity and e-signature for city government services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    from idp.cli.signing_host import SigningCliHost
    from idp.logs import install_masking

    install_masking()  # libraries' warnings (pyHanko names certificate subjects) reach stderr masked
    # Signing's commands reach the app's services through this (see signing.cli.host).
    ctx.obj = SigningCliHost()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
