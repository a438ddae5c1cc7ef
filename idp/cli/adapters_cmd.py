"""`yiwang adapters check`: call every configured provider (the emulators in sandbox mode), one line each."""

from __future__ import annotations

import json
import sys

import anyio
import typer

from adapters.base import CheckResult
from idp.cli.common import JsonOpt, console, err_console, load_settings

app = typer.Typer(help="External providers: SMS, UnionPay, Alipay, population registry, face.", no_args_is_help=True)


async def _run() -> list[CheckResult]:
    from idp.provider_settings import ProviderConfigError, build_adapters_from_settings

    settings = load_settings()
    try:
        adapters, _ = build_adapters_from_settings(settings)
    except ProviderConfigError as exc:
        return [CheckResult("config", False, "-", problem) for problem in exc.problems]
    try:
        return await adapters.check_all()
    finally:
        await adapters.aclose()


@app.command("check")
def check(as_json: JsonOpt = False) -> None:
    """Exit 0 when every adapter answered as expected, 1 otherwise."""
    if load_settings().sandbox:
        err_console.print("[bold black on yellow] SANDBOX MODE [/] checking the in-process emulators")
    results = anyio.run(_run)
    if as_json:
        sys.stdout.write(json.dumps([r.__dict__ for r in results], ensure_ascii=False) + "\n")
    else:
        for r in results:
            console.print(
                f"{r.name:<9} {'ok' if r.ok else 'FAIL':<4} {r.target}  {r.detail} ({r.latency_ms:g} ms)",
                markup=False,
                highlight=False,
            )
    if not all(r.ok for r in results):
        raise typer.Exit(1)
