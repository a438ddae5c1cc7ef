"""`signing.cli.host.CliHost` for the app's CLI: signing's commands get the app's services through this, and
nothing else. Kept apart (and importing lazily) so the CLI's entry point stays light."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signing.ports import Services


class SigningCliHost:
    @contextmanager
    def services(self) -> Iterator[Services]:
        from idp.cli.common import runtime
        from idp.signing_wiring import services

        with runtime() as rt:
            yield services(rt)
