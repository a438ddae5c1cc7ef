"""A cluster node whose provider emulators can be slowed or broken from outside: `yiwang serve`, plus a watcher
in every worker that applies the fault file the harness writes ($YIWANG_BENCH_FAULTS_FILE, see
`Cluster.set_provider_faults`) to the in-process emulators' `Faults` (adapters/sandbox/faults.py).

    python -m bench.cluster_node serve --port P --workers W     (started by bench.cluster, not by hand)

The emulators' faults live in each worker's memory; a file every worker polls is the one way to reach them all.
Only for the bench: the service itself has no way to change its providers' behaviour from outside.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from pathlib import Path

from fastapi import FastAPI

from idp import serve as serving
from idp.app import create_app
from idp.cli.common import load_settings
from idp.runtime import initialise
from idp.settings import Settings

POLL_S = 0.5


def _apply(app: FastAPI, path: Path) -> None:
    seen = ""
    stop = threading.Event()
    while not stop.wait(POLL_S):
        try:
            text = path.read_text()
        except OSError:
            continue
        if text == seen:
            continue
        seen = text
        wanted = json.loads(text or "{}")
        for name, faults in app.state.sandbox.faults.items():
            faults.reset()
            for key, value in wanted.get(name, {}).items():
                setattr(faults, key, value)


def create_faultable_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    path = os.environ.get("YIWANG_BENCH_FAULTS_FILE")
    if path and app.state.sandbox is not None:
        threading.Thread(target=_apply, args=(app, Path(path)), daemon=True, name="bench-faults").start()
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["serve"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    settings = load_settings()
    initialise(settings)
    settings = serving.listening_issuer(settings, args.host, args.port)
    serving.run(settings, args.host, args.port, args.workers, create_faultable_app)


if __name__ == "__main__":
    main()
