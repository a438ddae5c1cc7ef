"""The staff console at /console: sign-in through our own provider, role-guarded pages, /docs for staff."""

from __future__ import annotations

from fastapi import FastAPI

from idp.web.console import counter, docs, guard, persons, signin, staff


def install(app: FastAPI) -> None:
    guard.install(app)
    for module in (signin, counter, persons, staff, docs):
        app.include_router(module.router)
