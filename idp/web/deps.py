"""FastAPI dependencies: the runtime, a transaction per request, the operator behind a bearer token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from idp import operators
from idp.authn.engine import Engine
from idp.errors import NotReady
from idp.oauth.provider import Provider
from idp.runtime import Runtime, open_runtime

RETRY_SECONDS = 2.0


def get_runtime(request: Request) -> Runtime:
    """The app's runtime; if start-up found the database down or unmigrated, try again (rate-limited).

    /healthz keeps answering while the database is away, so nothing would restart the process: it has to
    recover by itself once `yiwang init` has run or the database is back.
    """
    state = request.app.state
    runtime: Runtime | None = state.runtime
    if runtime is not None:
        return runtime
    with state.runtime_lock:
        now = time.monotonic()
        if state.runtime is None and now - state.runtime_tried_at >= RETRY_SECONDS:
            state.runtime_tried_at = now
            try:
                state.runtime, state.not_ready = open_runtime(state.settings), None
            except NotReady as exc:
                state.not_ready = exc.detail
    runtime = state.runtime
    if runtime is None:
        raise NotReady(state.not_ready or "the service is starting")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.transaction() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_operator(request: Request, runtime: RuntimeDep) -> str:
    checked = request.scope.get("state", {}).get("operator")  # by `operator_first`, before the body was read
    if isinstance(checked, str):
        return checked
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    with runtime.transaction() as session:
        return operators.authenticate(session, token.strip() if scheme.lower() == "bearer" else None)


OperatorDep = Annotated[str, Depends(get_operator)]


def get_provider(request: Request) -> Provider:
    """The OAuth provider, built once per process when the runtime is there."""
    state = request.app.state
    provider: Provider | None = state.provider
    if provider is not None:
        return provider
    runtime = get_runtime(request)
    with state.runtime_lock:
        if state.provider is None:
            state.provider = Provider(runtime, state.adapters)
    return state.provider  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    """The authentication engine over the provider, built once per process."""
    state = request.app.state
    engine: Engine | None = getattr(state, "engine", None)
    if engine is not None:
        return engine
    provider = get_provider(request)
    with state.runtime_lock:
        if getattr(state, "engine", None) is None:
            state.engine = Engine(provider)
    return state.engine  # type: ignore[no-any-return]
