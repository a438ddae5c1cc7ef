"""`yiwang init` and `yiwang serve`: first run, and running the service."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.cli.common import console, err_console, fail, load_settings, refusals
from idp.runtime import initialise
from idp.settings import Settings


def _announce_sandbox(settings: Settings) -> None:
    if settings.sandbox:
        err_console.print(
            "[bold black on yellow] SANDBOX MODE [/] providers are emulated and demo pages are on; "
            "set YIWANG_SANDBOX=false for production."
        )


def init() -> None:
    """Create the data directory, the database schema and the keys (idempotent)."""
    settings = load_settings()
    with refusals():
        created = initialise(settings)
    console.print(f"data directory: {settings.data_dir.resolve()}")
    console.print(f"created: {', '.join(created) if created else 'nothing (already initialised)'}")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Run the service (initialising it on first run)."""
    settings = load_settings()
    _announce_sandbox(settings)
    if not settings.sandbox:
        problems = settings.providers.problems()
        if problems:
            fail(f"sandbox mode is off but the providers are not ready: {'; '.join(problems)}")
    with refusals():
        created = initialise(settings)
    if created:
        console.print(f"first run: created {', '.join(created)} in {settings.data_dir.resolve()}")
    from idp import serve as serving

    settings = serving.listening_issuer(settings, host, port)
    console.print(f"Yiwang is starting: point a browser at [bold]{settings.issuer}/[/]  (Ctrl+C stops it)")
    serving.run(settings, host, port, workers)
