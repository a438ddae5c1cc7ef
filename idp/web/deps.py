"""FastAPI dependencies: the runtime, a transaction per request, the operator behind a bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from idp import operators
from idp.errors import NotReady
from idp.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = request.app.state.runtime
    if runtime is None:
        raise NotReady(request.app.state.not_ready or "the service is starting")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.transaction() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_operator(request: Request, runtime: RuntimeDep) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    with runtime.transaction() as session:
        return operators.authenticate(session, token.strip() if scheme.lower() == "bearer" else None)


OperatorDep = Annotated[str, Depends(get_operator)]
