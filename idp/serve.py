"""Running the service under uvicorn, with the settings built once in the parent and handed to every worker.

Workers are spawned processes: uvicorn pickles its `Config` into each of them, and our app factory travels in
it as `functools.partial(create_app, settings)`. So a worker runs with exactly the settings the parent
validated (and adjusted: the issuer defaults to where we listen), without reading or changing the environment
and without writing secrets to a file.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from idp import metrics
from idp.app import create_app
from idp.logs import logging_config
from idp.settings import Settings

STARTUP_FAILURE = 3  # uvicorn's own exit status when the app cannot start


def listening_issuer(settings: Settings, host: str, port: int) -> Settings:
    """Unless the issuer was configured, it is where we listen (a wildcard address names the loopback)."""
    if "issuer" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return settings.model_copy(update={"issuer": f"http://{shown}:{port}"})


KEEP_ALIVE_S = 75


def config(
    settings: Settings, host: str, port: int, workers: int, factory: Callable[[Settings], FastAPI] = create_app
) -> uvicorn.Config:
    """`factory` builds each worker's app from the settings (a module-level function: it is pickled)."""
    return uvicorn.Config(
        functools.partial(factory, settings),
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings.log_level),
        timeout_graceful_shutdown=15,
        # Longer than a balancer keeps an idle connection to us (HAProxy's pool 5 s, nginx upstream keepalive
        # 60 s): at uvicorn's 5 s both sides closed at once now and then, and the balancer, its reused
        # connection gone, dropped the client's request unanswered (one in 110,000 in the soak).
        timeout_keep_alive=KEEP_ALIVE_S,
        access_log=settings.access_log,
        # A worker imports the whole service (PDF signing, face models) before it answers its first ping.
        timeout_worker_healthcheck=60,
        proxy_headers=False,  # the app trusts X-Forwarded-* from YIWANG_TRUSTED_PROXIES only
    )


def run(
    settings: Settings, host: str, port: int, workers: int, factory: Callable[[Settings], FastAPI] = create_app
) -> None:
    """What `uvicorn.run` does, for an app factory that is an object rather than an import string."""
    cfg = config(settings, host, port, workers, factory)
    server = uvicorn.Server(cfg)
    try:
        if workers > 1:
            # Workers write their metrics to files one scrape merges (per port: nodes may share a data dir).
            metrics.use_directory(settings.data_dir / "metrics" / str(port))
            Multiprocess(cfg, sockets=[cfg.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        sys.exit(STARTUP_FAILURE)
