"""Browser tests: a real `yiwang` server (uvicorn in a thread, sandbox on, a temporary data directory) driven by
Debian's Chromium through Playwright, at phone and desktop widths.

`playwright install` downloads its own browser and cannot work here: we launch the system `chromium` with
`executable_path`. Without it (or without the playwright package) the tests skip, saying why; under CI
(CI=true) they fail instead, because CI installs it (`.ci/run`).
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from idp.app import create_app
from idp.runtime import initialise
from idp.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Quiet, deterministic, offline: no GPU, no QUIC, no background updates or sync reaching for the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A camera that exists and is allowed without a prompt (Chromium's synthetic test pattern).
FAKE_CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
WIDTHS = {"phone": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 800}}
_phones = iter(range(13700000001, 13799999999))


def fresh_phone() -> str:
    """A number no other browser test used: each sign-in starts clean of SMS rate limits."""
    return str(next(_phones))


try:  # imported lazily so that the rest of the suite runs without the package
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
except ImportError:  # pragma: no cover - the dev group installs it
    sync_playwright = None  # type: ignore[assignment]


def _chromium_or_skip() -> None:
    reason = None
    if sync_playwright is None:
        reason = "the playwright package is not installed (uv sync installs the dev group)"
    elif not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)


@dataclass
class LiveServer:
    base: str
    settings: Settings

    def url(self, path: str) -> str:
        return self.base + path

    def sms_code(self, phone: str) -> str:
        """The newest code the sandbox 'sent' to this phone, read as a tester reads the outbox."""
        messages = httpx.get(self.url("/sandbox/sms/outbox"), params={"phone": phone}, timeout=10).json()["messages"]
        assert messages, f"no SMS for {phone}"
        return str(messages[0]["code"])


@contextmanager
def serve(root: Path, host: str = "127.0.0.1") -> Iterator[LiveServer]:
    """`yiwang serve` in-process: uvicorn in a thread on a socket we bound first, so that requests made before
    it finishes starting simply queue in the listen backlog (no polling, no sleeps). `host` names the issuer
    (WebAuthn needs a domain, e.g. `localhost`, not an IP address); the socket is always 127.0.0.1."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    base = f"http://{host}:{sock.getsockname()[1]}"
    # Every browser test signs in from 127.0.0.1 on this one server: the per-IP SMS budget (tested in
    # tests/authn) would run out across the modules, not within a test.
    settings = Settings(
        data_dir=root / "var",
        database_url=f"sqlite:///{root / 'yiwang.db'}",
        issuer=base,
        sms_per_ip_per_10min=1000,
    )
    initialise(settings)
    config = uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="yiwang-browser-server")
    thread.start()
    try:
        local = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert httpx.get(f"{local}/healthz", timeout=60).status_code == 200
        yield LiveServer(base, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _chromium_or_skip()
    with serve(tmp_path_factory.mktemp("browser-server")) as server:
        yield server


@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    """Per module, not per session: Playwright's sync API keeps an event loop running on the main thread while
    it is open, and any later test calling `asyncio.run()` (the CLI does) would fail."""
    _chromium_or_skip()
    with sync_playwright() as p:
        yield p


def launch(p: Playwright, *extra: str) -> Browser:
    return p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra])


@pytest.fixture(scope="module")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    b = launch(playwright_session)
    yield b
    b.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shot(screenshots: Path, request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot named after the test and a label; returns its path."""

    def take(page: Page, label: str) -> Path:
        test = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)
        path = screenshots / f"{test}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def new_context(browser: Browser, width: str, **options: object) -> BrowserContext:
    """A fresh browser profile at a width; Chinese first, as most citizens' phones are set."""
    return browser.new_context(
        viewport=WIDTHS[width],  # type: ignore[arg-type]
        device_scale_factor=1,
        is_mobile=width == "phone",
        has_touch=width == "phone",
        locale="zh-CN",
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(params=list(WIDTHS))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A page at phone (375×812) and at desktop (1280×800) width."""
    context = new_context(browser, request.param)
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


def assert_no_sideways_scroll(page: Page) -> None:
    """Nothing on the page is wider than the window: a phone user never has to scroll sideways."""
    # On a phone (is_mobile) Chromium zooms the window out to fit wide content, so innerWidth grows with the
    # fault; the device width we asked for is the limit that matters.
    content, inner = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    device = page.viewport_size["width"] if page.viewport_size else inner
    limit = min(inner, device)
    assert content <= limit, f"{page.url} scrolls sideways: content {content}px > window {limit}px"


def sign_in_through_demo(page: Page, server: LiveServer, phone: str) -> None:
    """The demo relying party's sign-in as a citizen does it, checking every page on the way for sideways
    scrolling. Kept in one function: when the sign-in pages change, only this changes."""
    page.goto(server.url("/demo"))
    assert_no_sideways_scroll(page)
    page.click("form[action='/demo/login'] button")
    page.wait_for_url(re.compile(r"/login\?flow="))
    assert_no_sideways_scroll(page)
    page.fill("input[name=phone]", phone)
    page.click("button.send")  # 获取验证码: the same page comes back with the code field and a countdown
    page.wait_for_url(re.compile(r"/login/sms"))
    assert_no_sideways_scroll(page)
    page.fill("input[name=code]", server.sms_code(phone))
    page.check("#agree")  # the user agreement and privacy notice
    page.click("button[name=decision][value=approve]")  # consent is given on the same page
    page.wait_for_url(re.compile(r"/(consent|demo/callback)"))
    if "/consent" in page.url:
        assert_no_sideways_scroll(page)
        page.click("form[action='/consent'] button[value=approve]")
        page.wait_for_url(re.compile(r"/demo/callback"))
    assert_no_sideways_scroll(page)


RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(body: str) -> str:
    """A valid resident ID number from its first 17 digits (GB 11643 check character). The browser tests share
    one server: each file keeps to a birth date of its own."""
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, RESIDENT_ID_WEIGHTS, strict=True)) % 11]


def sms_sign_in(page: Page, server: LiveServer, phone: str) -> None:
    """From Yiwang's sign-in page: the phone, the sandbox's SMS code, the agreement, approve."""
    page.wait_for_url(re.compile(r"/login\?flow="))
    page.fill("input[name=phone]", phone)
    page.click("button.send")
    page.wait_for_url(re.compile(r"/login/sms"))
    page.fill("input[name=code]", server.sms_code(phone))
    page.check("#agree")
    page.click("button[name=decision][value=approve]")
