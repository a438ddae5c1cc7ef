"""Wiring the staff console into the app: its refusal handler and its routers."""

from __future__ import annotations

from fastapi import FastAPI

from idp.web.console import (
    audit_trail,
    clients,
    counter,
    dashboard,
    docs,
    guard,
    health,
    orgs,
    persons,
    seals,
    signatures,
    signin,
    staff,
)


def install(app: FastAPI) -> None:
    guard.install(app)
    for module in (
        signin,
        counter,
        persons,
        staff,
        docs,
        clients,
        orgs,
        seals,
        signatures,
        audit_trail,
        health,
        dashboard,
    ):
        app.include_router(module.router)
