"""Signing fixtures: one initialised service (SQLite, PKI included) per test module, and external tools.

Building a PKI and sealing PDFs is the expensive part, so modules share one data directory; tests that need
isolation (the database layer) use the function-scoped `rt` fixture from tests/conftest.py instead.
A test that needs a tool we did not write (openssl, pdfsig, certutil, softhsm2-util) skips when it is missing,
saying which Debian package provides it — and fails under CI, which installs them (.ci/run).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from idp.app import create_app
from idp.runtime import Runtime, initialise, open_runtime
from idp.settings import Settings
from idp.signing_wiring import open_signing
from signing.context import SigningContext
from tests.kit.waiting import wait_until

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PACKAGES = {"openssl": "openssl", "pdfsig": "poppler-utils", "certutil": "libnss3-tools", "softhsm2-util": "softhsm2"}


def _need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} not found (Debian package {PACKAGES.get(name, name)})"
        if IN_CI:
            pytest.fail(f"{reason}: CI must run this test")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for one module's service; exported as YIWANG_* so in-process CLI commands see the same."""
    base = tmp_path_factory.mktemp("signing")
    data_dir = base / "var"
    url = f"sqlite:///{base / 'yiwang.db'}"
    # The issuer is where the `server` fixture will listen: certificates point validators (pdfsig fetches the
    # CRL named in them) at the real endpoints.
    issuer = f"http://127.0.0.1:{_free_port()}"
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("YIWANG_") and not key.startswith("YIWANG_TEST_"):
                mp.delenv(key)
        mp.setenv("YIWANG_DATA_DIR", str(data_dir))
        mp.setenv("YIWANG_DATABASE_URL", url)
        mp.setenv("YIWANG_ISSUER", issuer)
        mp.chdir(base)
        yield Settings(data_dir=data_dir, database_url=url, issuer=issuer)


@pytest.fixture(scope="module")
def module_rt(module_settings: Settings) -> Iterator[Runtime]:
    initialise(module_settings)
    runtime = open_runtime(module_settings)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def ctx(module_rt: Runtime) -> SigningContext:
    return open_signing(module_rt)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="session")
def tool() -> Callable[[str], str]:
    """`tool("openssl")` → its path, or skip (fail under CI) naming the Debian package."""
    return _need_tool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(module_rt: Runtime, module_settings: Settings) -> Iterator[str]:
    """The whole app served by uvicorn in a thread on a free port; yields its base URL."""
    port = int(module_settings.issuer.rsplit(":", 1)[1])
    config = uvicorn.Config(create_app(module_settings), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: bool(srv.started) or not thread.is_alive(), 30, "the test server starting")
    if not srv.started:
        raise AssertionError("test server did not start")
    try:
        yield module_settings.issuer
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
