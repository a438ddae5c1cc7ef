"""Emulators served over real HTTP (uvicorn in a background thread), and photos for the face tests.

One `Sandbox` (generated keys, seeded dataset) is served for the whole session at http://127.0.0.1:<port>/<provider>;
faults are reset after every test. Face photos come from PyPI packages (always there with the dev
dependencies) and from ../shared/testdata/faces when present.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import uvicorn

from adapters.config import AdaptersConfig, HttpConfig
from adapters.sandbox import Sandbox, dataset
from tests.kit.waiting import wait_until

FAST = HttpConfig(connect_timeout_s=1.0, read_timeout_s=1.0, deadline_s=5.0, retry_backoff_s=0.01)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _read_package_file(package: str, *parts: str) -> bytes:
    pytest.importorskip(package)
    return resources.files(package).joinpath(*parts).read_bytes()


@pytest.fixture(scope="session")
def grace_hopper() -> bytes:
    """matplotlib's sample photo of Grace Hopper (JPEG, 512×600, one face)."""
    return _read_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")


@pytest.fixture(scope="session")
def astronaut() -> bytes:
    """scikit-image's astronaut (Eileen Collins, PNG 512×512, one face)."""
    return _read_package_file("skimage", "data", "astronaut.png")


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """Skipped with the reason on a clean clone; a failure under CI=true, where the photos must be."""
    from tests.kit.liveness_frames import faces_dir

    return faces_dir()


class _Server:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            sandbox.asgi_app(), log_level="warning", lifespan="off", ws="none", http="h11", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, within_s: float = 10.0) -> None:
        self.thread.start()
        wait_until(lambda: bool(self.server.started) or not self.thread.is_alive(), within_s, "the emulators starting")
        if not self.server.started:
            raise RuntimeError("the emulator server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="session")
def sandbox(grace_hopper: bytes) -> Sandbox:
    zhang = dataset.PEOPLE[0]
    return Sandbox(photos={zhang.id_number: grace_hopper})


@pytest.fixture(scope="session")
def emulator_url(sandbox: Sandbox) -> Iterator[str]:
    server = _Server(sandbox)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset_faults()


@pytest.fixture
def fast_http() -> HttpConfig:
    return FAST


@pytest.fixture
def config(sandbox: Sandbox, emulator_url: str) -> AdaptersConfig:
    return sandbox.adapters_config(emulator_url, http=FAST, unionpay_query_interval_s=0.01)


class Recorder:
    """An audit hook that keeps what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, dict[str, object]]] = []

    def __call__(self, provider: str, operation: str, outcome: str, detail: dict[str, object]) -> None:
        self.calls.append((provider, operation, outcome, detail))

    @property
    def last(self) -> tuple[str, str, str, dict[str, object]]:
        return self.calls[-1]

    def text(self) -> str:
        return repr(self.calls)


@pytest.fixture
def audit() -> Recorder:
    return Recorder()
