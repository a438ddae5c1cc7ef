"""Operator API for clients (`/admin/v1/clients`), the same service calls as `yiwang client`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from idp.oauth import clients
from idp.web.deps import OperatorDep, RuntimeDep

router = APIRouter(prefix="/admin/v1/clients", tags=["operator"])


class ClientIn(BaseModel):
    name: str = Field(max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    grant_types: list[str] | None = Field(None, max_length=7)
    auth_method: str = "client_secret_basic"
    scopes: list[str] | None = Field(None, max_length=20)
    jwks: dict[str, Any] | None = None
    sector: str | None = Field(None, max_length=255)
    subject_type: str = "pairwise"
    default_acr: str | None = None
    backchannel_logout_uri: str | None = Field(None, max_length=1000)
    shared_device: bool = False
    backchannel_token_delivery_mode: str | None = Field(None, max_length=8)
    backchannel_client_notification_endpoint: str | None = Field(None, max_length=1000)
    exchange_audiences: list[str] = Field(default_factory=list, max_length=20)
    exchange_scopes: list[str] = Field(default_factory=list, max_length=20)


@router.post("", status_code=201)
def add_client(body: ClientIn, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        made = clients.create_client(session, **body.model_dump(), actor=operator)
        return {"client_id": made.client_id, "client_secret": made.client_secret}

    return runtime.run(work)


@router.get("")
def list_clients(runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    return {"clients": runtime.run(clients.list_clients)}


@router.get("/{client_id}")
def show_client(client_id: str, runtime: RuntimeDep, operator: OperatorDep) -> dict[str, Any]:
    return runtime.run(lambda s: clients.describe(clients.get_row(s, client_id)))


@router.delete("/{client_id}", status_code=204)
def remove_client(client_id: str, runtime: RuntimeDep, operator: OperatorDep) -> None:
    runtime.run(lambda s: clients.remove_client(s, client_id, actor=operator))
