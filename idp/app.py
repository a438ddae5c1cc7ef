"""The application factory: one FastAPI app wiring the service modules together.

`uvicorn --factory idp.app:create_app` (what `yiwang serve` runs) builds one per worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from idp import metrics
from idp.audit import background as audit_sealer
from idp.errors import NotReady
from idp.logs import configure_structlog, get_logger
from idp.provider_audit import audit_hook
from idp.provider_settings import build_adapters_from_settings
from idp.runtime import open_runtime
from idp.settings import Settings
from idp.web import (
    account,
    account_common,
    account_data,
    account_hub,
    account_sessions,
    account_signatures,
    admin,
    audit_api,
    authorize,
    ciba,
    clients_api,
    demo,
    device,
    health,
    home,
    kiosk_api,
    kiosk_demo,
    login,
    logout,
    metrics_api,
    oauth_api,
    passkeys,
    problems,
    sandbox,
    stepup,
)
from idp.web.body_limit import BodyLimit, BodyTooLarge, Limits, handle_body_too_large
from idp.web.console.mount import install as install_console
from idp.web.observe import Observe
from idp.web.operator_first import OperatorFirst
from idp.web.security_headers import SecurityHeaders
from idp.web.signing_host import IdpSigningHost
from signing.web import api as signing_api
from signing.web import csc as signing_csc
from signing.web import pki as signing_pki
from signing.web import sm_pki as signing_sm_pki

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
        sealer = None
        if settings.audit_seal_interval_s > 0:
            # Every worker runs one; the sequencer lock lets one seal at a time and the others skip the round.
            sealer = asyncio.create_task(audit_sealer.run(lambda: app.state.runtime, settings.audit_seal_interval_s))
        app.state.audit_sealer = sealer
        try:
            yield
        finally:
            if sealer is not None:
                sealer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sealer
            await app.state.adapters.aclose()
            if app.state.runtime is not None:
                app.state.runtime.close()
            metrics.process_exiting()

    app = FastAPI(title="Yiwang", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
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
    account_common.install(app)
    app.add_exception_handler(BodyTooLarge, handle_body_too_large)
    # Outermost last: the client's address is settled first, every response gets the security headers, an
    # oversized body is refused before the operator lookup, and that lookup comes before any body is read.
    app.add_middleware(OperatorFirst)
    app.add_middleware(BodyLimit, limits=Limits.from_settings(settings))
    app.add_middleware(SecurityHeaders, https=settings.issuer.startswith("https://"))
    if settings.trusted_proxy_list:
        # X-Forwarded-For / -Proto count only when the connection comes from one of these (uvicorn's own
        # proxy handling is off in `yiwang serve`, so nothing else trusts them).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxy_list))
    app.add_middleware(Observe)  # outermost: the request id is in every log line, the latency is the whole
    app.router.routes.insert(0, oauth_api.TOKEN_ROUTE)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "web" / "static")), name="static")
    app.include_router(health.router)
    app.include_router(metrics_api.router)
    app.include_router(audit_api.router)
    app.include_router(home.router)
    app.include_router(admin.router)
    app.include_router(oauth_api.router)
    app.include_router(clients_api.router)
    app.include_router(account.router)
    app.include_router(account_hub.router)
    app.include_router(account_sessions.router)
    app.include_router(account_signatures.router)
    app.include_router(account_data.router)
    app.include_router(authorize.router)
    app.include_router(login.router)
    app.include_router(passkeys.router)
    app.include_router(logout.router)
    app.include_router(stepup.router)
    app.include_router(device.router)
    app.include_router(kiosk_api.router)
    app.include_router(ciba.router)
    install_console(app)  # /console and, for signed-in staff, /docs and /openapi.json
    if settings.sandbox:
        app.include_router(sandbox.router)
        app.include_router(demo.router)
        app.include_router(kiosk_demo.router)
    if emulators is not None:
        emulators.mount(app, "/sandbox")
    # Signing's own routes, mounted here; they reach the identity provider only through the host.
    app.state.signing_host = IdpSigningHost()
    app.include_router(signing_pki.router)
    app.include_router(signing_sm_pki.router)
    app.include_router(signing_api.router)
    app.include_router(signing_csc.router)
    return app
