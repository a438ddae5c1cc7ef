"""Signing's CLI commands (`yiwang seal`, `yiwang ca`, `yiwang verify`), registered by the app's CLI.

The app puts a `signing.cli.host.CliHost` in the root Typer context's `obj`; commands open signing's services
through it and import nothing from `idp`.
"""
