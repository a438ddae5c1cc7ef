"""Wiring the staff console into the app: its refusal handler and its routers."""

from __future__ import annotations

from fastapi import FastAPI

from idp.web.console import clients, counter, docs, guard, orgs, persons, signin, staff


def install(app: FastAPI) -> None:
    guard.install(app)
    for module in (signin, counter, persons, staff, docs, clients, orgs):
        app.include_router(module.router)
