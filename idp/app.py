"""The application factory: one FastAPI app wiring the service modules together.

`uvicorn --factory idp.app:create_app` (what `yiwang serve` runs) builds one per worker process.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from idp.errors import NotReady
from idp.logs import configure_structlog, get_logger
from idp.provider_audit import audit_hook
from idp.provider_settings import build_adapters_from_settings
from idp.runtime import open_runtime
from idp.settings import Settings
from idp.web import (
    account,
    admin,
    authorize,
    clients_api,
    csc_api,
    demo,
    health,
    home,
    login,
    logout,
    oauth_api,
    pki_routes,
    problems,
    sandbox,
    signing_api,
    sm_pki_routes,
    stepup,
)

log = get_logger("yiwang.app")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_structlog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A database that is down or not migrated must not stop the process: /healthz still answers and
        # /readyz says why it is not ready, which is what an orchestrator needs to see.
        try:
            app.state.runtime = open_runtime(settings)
            app.state.not_ready = None
        except NotReady as exc:
            app.state.not_ready = exc.detail
            log.warning("not ready", reason=exc.detail)
        if settings.sandbox:
            log.warning("SANDBOX MODE: providers are emulated; do not use with real citizens' data")
        try:
            yield
        finally:
            await app.state.adapters.aclose()
            if app.state.runtime is not None:
                app.state.runtime.close()

    app = FastAPI(title="Yiwang", version="0.1.0", lifespan=lifespan, docs_url="/admin/docs", redoc_url=None)
    app.state.settings = settings
    # Providers are wired at construction: with sandbox mode off, missing credentials or an adapter still
    # pointing at an emulator stop the service here (ProviderConfigError), before it takes any request.
    adapters, emulators = build_adapters_from_settings(settings, on_call=audit_hook(lambda: app.state.runtime))
    app.state.adapters = adapters
    app.state.sandbox = emulators
    app.state.runtime = None
    app.state.provider = None
    app.state.not_ready = "the service is starting"
    app.state.runtime_lock = threading.Lock()
    app.state.runtime_tried_at = 0.0
    problems.install(app)
    app.router.routes.insert(0, oauth_api.TOKEN_ROUTE)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "web" / "static")), name="static")
    app.include_router(health.router)
    app.include_router(home.router)
    app.include_router(admin.router)
    app.include_router(oauth_api.router)
    app.include_router(clients_api.router)
    app.include_router(account.router)
    app.include_router(authorize.router)
    app.include_router(login.router)
    app.include_router(logout.router)
    app.include_router(stepup.router)
    if settings.sandbox:
        app.include_router(sandbox.router)
        app.include_router(demo.router)
    if emulators is not None:
        emulators.mount(app, "/sandbox")
    app.include_router(pki_routes.router)
    app.include_router(sm_pki_routes.router)
    app.include_router(signing_api.router)
    app.include_router(csc_api.router)
    return app
