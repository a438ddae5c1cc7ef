"""`yiwang`: initialise, serve, and operate the service."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from idp import migrate
from idp.cli import (
    adapters_cmd,
    audit_cmd,
    ca_cmd,
    client_cmd,
    face_cmd,
    idcheck,
    keys_cmd,
    operator_cmd,
    org,
    person,
    render_cmd,
    seal_cmd,
    verify_cmd,
)
from idp.cli.common import console, err_console, fail, refusals, runtime
from idp.db import make_engine
from idp.logs import logging_config
from idp.runtime import initialise
from idp.settings import Settings

app = typer.Typer(
    help="Yiwang (一网): unified identity and e-signature for city government services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(idcheck.app, name="id")
app.add_typer(person.app, name="person")
app.add_typer(org.app, name="org")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(operator_cmd.app, name="operator")
app.add_typer(face_cmd.app, name="face")
app.add_typer(adapters_cmd.app, name="adapters")
app.add_typer(client_cmd.app, name="client")
app.add_typer(ca_cmd.app, name="ca")
app.add_typer(seal_cmd.app, name="seal")
app.command("verify")(verify_cmd.verify_command)
app.command("render")(render_cmd.render_command)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _announce_sandbox(settings: Settings) -> None:
    if settings.sandbox:
        err_console.print(
            "[bold black on yellow] SANDBOX MODE [/] providers are emulated and demo pages are on; "
            "set YIWANG_SANDBOX=false for production."
        )


@app.command()
def init() -> None:
    """Create the data directory, the database schema and the keys (idempotent)."""
    settings = Settings()
    with refusals():
        created = initialise(settings)
    console.print(f"data directory: {settings.data_dir.resolve()}")
    console.print(f"created: {', '.join(created) if created else 'nothing (already initialised)'}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Run the service (initialising it on first run)."""
    settings = Settings()
    _announce_sandbox(settings)
    if not settings.sandbox:
        from idp.provider_settings import ProviderSettings

        problems = ProviderSettings().problems()
        if problems:
            fail(f"sandbox mode is off but the providers are not ready: {'; '.join(problems)}")
    with refusals():
        created = initialise(settings)
    if created:
        console.print(f"first run: created {', '.join(created)} in {settings.data_dir.resolve()}")
    if "YIWANG_ISSUER" not in os.environ and settings.issuer == Settings.model_fields["issuer"].default:
        # Workers read settings from the environment: make the issuer match where we actually listen.
        os.environ["YIWANG_ISSUER"] = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    browse = os.environ.get("YIWANG_ISSUER", settings.issuer)
    console.print(f"Yiwang is starting: point a browser at [bold]{browse}/[/]  (Ctrl+C stops it)")
    uvicorn.run(
        "idp.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings.log_level),
        timeout_graceful_shutdown=15,
        access_log=settings.access_log,
        # A worker imports the whole service (PDF signing, face models) before it answers its first ping.
        timeout_worker_healthcheck=60,
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION."""
    engine = make_engine(Settings().db_url)
    try:
        migrate.upgrade(engine, revision)
        console.print(f"schema at {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base` drops everything).")],
) -> None:
    """Revert migrations down to REVISION."""
    engine = make_engine(Settings().db_url)
    try:
        migrate.downgrade(engine, revision)
        console.print(f"schema at {migrate.current_revision(engine) or 'base'}")
    finally:
        engine.dispose()


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision; exit 1 when it is not the newest."""
    engine = make_engine(Settings().db_url)
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
    finally:
        engine.dispose()
    console.print(f"current: {current or 'none'}  head: {head}")
    if current != head:
        fail("schema is not current: run `yiwang init`")


@db_app.command("purge")
def db_purge() -> None:
    """Delete expired codes, flows, sessions, revocation entries and counters."""
    from idp.oauth.maintenance import purge

    with runtime() as rt:
        removed = rt.run(purge)
    console.print(", ".join(f"{name}: {count}" for name, count in removed.items()))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
