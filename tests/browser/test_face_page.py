"""The live face step in Chromium at phone width: no camera, permission denied, and a (fake) camera with the
face guide, a countdown per action, a failed check with a visible retry; the non-face alternative is on screen
in every state.

Chromium's fake camera (`--use-fake-device-for-media-stream`) shows a test pattern, not a face: the check
fails at liveness, which is the state we want to see. A context without the camera permission, in a browser
that does not auto-accept prompts, is how a person's "Block" looks to the page.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from idp.oauth import clients, sessions
from idp.proofing import binding, service
from idp.records import people
from idp.runtime import Runtime, open_runtime
from tests.browser.conftest import (
    FAKE_CAMERA_ARGS,
    LiveServer,
    assert_no_sideways_scroll,
    fresh_phone,
    launch,
    new_context,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_sequence = itertools.count(101)


def _id_number() -> str:
    """A valid resident ID number (GB 11643 MOD 11-2 check) no other test used."""
    body = f"11010519800101{next(_sequence):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


@pytest.fixture(scope="module")
def runtime(live_server: LiveServer) -> Iterator[Runtime]:
    rt = open_runtime(live_server.settings)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def rp(live_server: LiveServer, runtime: Runtime) -> str:
    with runtime.transaction() as session:
        return clients.create_client(
            session, name="人脸测试应用", redirect_uris=[live_server.url("/rp/cb")], scopes=["openid"]
        ).client_id


def open_face_step(context: BrowserContext, server: LiveServer, runtime: Runtime, client_id: str) -> Page:
    """A person at the real-name level who consented to face processing, signed in, asked for the real-person
    level by a client: the browser lands on the face step."""
    number = _id_number()
    with runtime.transaction() as session:
        person = people.add(
            session, runtime.protector, id_number=number, name="张三", phone=fresh_phone(), channel="web"
        )
        # Real name proven by the carrier check (the phone is registered to that name and number).
        binding.prove(session, runtime.protector, person.id, id_number=number, name="张三", source="carrier",
                      channel="web", deny_until=0)  # fmt: skip
        service.give_face_consent(session, person.id)
        cookie, _ = sessions.create(session, person.id, "urn:yiwang:loa:2", ["sms"], 3600)
    context.add_cookies([{"name": sessions.COOKIE, "value": cookie, "url": server.base}])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": server.url("/rp/cb"),
            "scope": "openid",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "acr_values": "urn:yiwang:loa:3",
        }
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url(f"/authorize?{query}"))
    assert re.search(r"/stepup\?flow=", page.url), page.url
    flow = page.url.split("flow=")[1]
    page.goto(server.url(f"/stepup/face?flow={flow}"))
    expect(page.locator("#face")).to_be_visible()
    return page


def _alternative_is_one_tap_away(page: Page) -> None:
    link = page.locator("#alternative")
    expect(link).to_be_visible()
    assert (link.get_attribute("href") or "").startswith("/stepup/counter?flow=")


@pytest.fixture
def camera_browser(playwright_session: Playwright) -> Iterator[Browser]:
    b = launch(playwright_session, *FAKE_CAMERA_ARGS)
    yield b
    b.close()


@pytest.fixture
def fake_device_browser(playwright_session: Playwright) -> Iterator[Browser]:
    """A camera exists, but nothing accepts the permission prompt for the person."""
    b = launch(playwright_session, "--use-fake-device-for-media-stream")
    yield b
    b.close()


def test_no_camera(
    browser: Browser, live_server: LiveServer, runtime: Runtime, rp: str, shot: Callable[[Page, str], Path]
) -> None:
    context = new_context(browser, "phone")
    page = open_face_step(context, live_server, runtime, rp)
    face = page.locator("#face")
    expect(face).to_have_attribute("data-state", "no-camera")
    expect(page.locator("#problem")).to_contain_text("没有找到可用的摄像头")
    expect(page.locator("#retry")).to_be_visible()
    expect(page.locator("#start")).to_be_hidden()
    expect(page.locator("#retry-link")).to_be_hidden()
    expect(page.locator("#stage")).to_be_hidden()
    _alternative_is_one_tap_away(page)
    assert_no_sideways_scroll(page)
    shot(page, "no-camera")
    page.click("#retry")  # still no camera: the same clear state, not a dead button
    expect(face).to_have_attribute("data-state", "no-camera")
    expect(page.locator("#retry")).to_be_visible()
    page.click("#alternative")
    page.wait_for_url(re.compile(r"/stepup/counter\?flow="))
    context.close()


def test_permission_denied(
    fake_device_browser: Browser,
    live_server: LiveServer,
    runtime: Runtime,
    rp: str,
    shot: Callable[[Page, str], Path],
) -> None:
    context = new_context(fake_device_browser, "phone")  # no camera permission granted
    page = open_face_step(context, live_server, runtime, rp)
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")
    expect(page.locator("#face")).to_have_attribute("data-state", "denied")
    expect(page.locator("#problem")).to_contain_text("摄像头权限被拒绝")
    expect(page.locator("#retry")).to_be_visible()
    expect(page.locator("#start")).to_be_hidden()
    _alternative_is_one_tap_away(page)
    assert_no_sideways_scroll(page)
    shot(page, "denied")
    context.close()


def test_camera_guide_countdown_and_retry(
    camera_browser: Browser,
    live_server: LiveServer,
    runtime: Runtime,
    rp: str,
    shot: Callable[[Page, str], Path],
) -> None:
    context = new_context(camera_browser, "phone", permissions=["camera"])
    page = open_face_step(context, live_server, runtime, rp)
    face = page.locator("#face")
    _alternative_is_one_tap_away(page)
    page.click("#start")
    expect(page.locator("#start")).to_be_hidden()
    expect(page.locator(".face-oval")).to_be_visible()
    expect(face).to_have_attribute("data-state", "ready")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^[1-3]$"))
    expect(page.locator("#steps li.current")).to_have_count(1)
    assert_no_sideways_scroll(page)
    shot(page, "ready")
    expect(face).to_have_attribute("data-state", "action")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"秒$"))
    expect(page.locator("#prompt-action")).to_contain_text("现在")
    _alternative_is_one_tap_away(page)
    shot(page, "action")
    # The test pattern is no face: the check fails, saying so, with a retry anyone can see.
    expect(face).to_have_attribute("data-state", "failed", timeout=90_000)
    expect(page.locator("#problem")).to_be_visible()
    retry = page.locator("#retry")  # a new attempt gets a new challenge from the server
    expect(retry).to_be_visible()
    expect(page.locator("#start")).to_be_hidden()
    expect(page.locator("#retry-link")).to_be_hidden()
    box = retry.bounding_box()
    assert box is not None and box["height"] >= 44  # a real button, not a tiny link
    _alternative_is_one_tap_away(page)
    assert_no_sideways_scroll(page)
    shot(page, "failed")
    retry.click()
    expect(face).to_have_attribute("data-state", "ready")  # camera on, a fresh challenge, counting down again
    expect(page.locator("#steps li")).to_have_count(3)
    context.close()
