"""HTTP hardening: security headers on every response, body limits checked while streaming, the operator
token checked before a body is read, X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from idp import operators
from idp.app import create_app
from idp.runtime import Runtime
from idp.settings import Settings
from idp.web.security_headers import CSP

SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """HTTP behaviour, not storage: SQLite is enough here."""
    return f"sqlite:///{tmp_path / 'yiwang.db'}"


@pytest.fixture
def client(rt: Runtime, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


@pytest.fixture
def operator(rt: Runtime) -> str:
    with rt.transaction() as session:
        return operators.create(session, "hardening-test")


# --- security headers (issue 11 #8) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/logout", "/account/consents", "/login?flow=nope", "/.well-known/openid-configuration", "/no/such/page"],
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert "strict-transport-security" not in response.headers  # plain http: HSTS would lock it out


def test_refusals_from_the_middleware_carry_them_too(client: TestClient) -> None:
    response = client.post("/admin/v1/persons", content=b"{}")
    assert response.status_code == 401
    assert response.headers["x-frame-options"] == "DENY"


def test_hsts_when_the_issuer_is_https(rt: Runtime, settings: Settings) -> None:
    https = settings.model_copy(update={"issuer": "https://id.example.gov.cn"})
    with TestClient(create_app(https), base_url="https://id.example.gov.cn") as c:
        response = c.get("/.well-known/openid-configuration")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


# --- body limits (issue 11 #5) -------------------------------------------------------------------------


def _call(app: FastAPI, path: str, chunks: Iterator[bytes], headers: dict[str, str]) -> tuple[int, bytes, int]:
    """Drive the ASGI app directly, the body arriving chunk by chunk: (status, body, chunks the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "app": app,
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def _endless(size: int = 16 * 1024, cap: int = 4096) -> Iterator[bytes]:
    """A chunked body with no Content-Length, 64 MB if read to the end."""
    return iter([b"x" * size] * cap)


def test_a_chunked_body_is_cut_at_the_limit_while_streaming(client: TestClient, operator: str) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    status, body, pulled = _call(
        app,
        "/admin/v1/persons",
        _endless(),
        {"authorization": f"Bearer {operator}", "content-type": "application/json"},
    )
    assert status == 413 and pulled <= 5  # 64 KiB in 16 KiB chunks, and not one chunk more
    assert json.loads(body)["type"] == "urn:yiwang:problem:payload-too-large"
    status, body, pulled = _call(app, "/token", _endless(), {"content-type": "application/x-www-form-urlencoded"})
    assert status == 413 and pulled <= 5
    assert json.loads(body)["error"] == "invalid_request"  # RFC 6749 JSON at an OAuth endpoint


def test_a_declared_oversized_body_is_refused_before_reading(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)

    def untouched() -> Iterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    for path in ("/token", "/admin/v1/persons", "/stepup/face", "/signing/v1/verify"):
        status, _, _ = _call(app, path, untouched(), {"content-length": str(200 * 1024 * 1024)})
        assert status == 413, path


def test_routes_that_take_uploads_get_room_for_them(client: TestClient) -> None:
    """A 1 MB body at the face step passes the limit (and is then judged by the route itself)."""
    app = client.app
    assert isinstance(app, FastAPI)
    status, _, pulled = _call(
        app, "/stepup/face", iter([b"{" + b" " * (1024 * 1024)]), {"content-type": "application/json"}
    )
    assert status != 413 and pulled == 1
    form = {"content-type": "application/x-www-form-urlencoded"}
    status, _, _ = _call(app, "/consent", iter([b"a=" + b"b" * (1024 * 1024)]), form)
    assert status == 413


def test_the_operator_token_is_checked_before_the_body_is_read(client: TestClient) -> None:
    """Without a valid token the body is never read, let alone parsed: 401, where FastAPI alone answers 422."""
    app = client.app
    assert isinstance(app, FastAPI)

    def untouched() -> Iterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    for token in ({}, {"authorization": "Bearer yw_op_not-a-real-token"}):
        headers = {"content-type": "application/json", "content-length": "9", **token}
        status, _, _ = _call(app, "/admin/v1/persons", untouched(), headers)
        assert status == 401, token
        response = client.post("/admin/v1/persons", content=b"{not json", headers=headers)
        assert response.status_code == 401, token


# --- trusted proxies (issue 11 #4) ---------------------------------------------------------------------


def _probe(settings: Settings, client_host: str) -> TestClient:
    app = create_app(settings)

    async def whoami(request: Request) -> dict[str, str]:
        return {"ip": request.client.host if request.client else "", "scheme": request.url.scheme}

    app.add_api_route("/_test/whoami", whoami)
    return TestClient(app, client=(client_host, 40000))


def test_forwarded_headers_count_only_from_a_trusted_proxy(rt: Runtime, settings: Settings) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with _probe(settings, "10.0.0.7") as c:  # default: no proxy trusted
        assert c.get("/_test/whoami", headers=forwarded).json() == {"ip": "10.0.0.7", "scheme": "http"}
    trusting = settings.model_copy(update={"trusted_proxies": "10.0.0.0/24"})
    with _probe(trusting, "10.0.0.7") as c:
        assert c.get("/_test/whoami", headers=forwarded).json() == {"ip": "203.0.113.9", "scheme": "https"}
        # A client that prepends its own X-Forwarded-For gets the address the proxy saw, not the one it wrote.
        spoofed = {"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}
        assert c.get("/_test/whoami", headers=spoofed).json()["ip"] == "203.0.113.9"
    with _probe(trusting, "192.0.2.50") as c:  # not one of the proxies
        assert c.get("/_test/whoami", headers=forwarded).json()["ip"] == "192.0.2.50"


def test_a_trusted_proxy_setting_must_be_addresses(settings: Settings) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(data_dir=settings.data_dir, trusted_proxies="proxy.internal")


def test_only_the_document_under_signature_may_be_framed_and_only_by_us(client: TestClient) -> None:
    """The confirmation page shows the PDF in an iframe of ours: that one response allows our own origin."""
    document = client.get("/signing/v1/confirm/abc/document", params={"k": "x"})
    assert document.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in document.headers["content-security-policy"]
    page = client.get("/signing/v1/confirm/abc", params={"k": "x"})
    assert page.headers["x-frame-options"] == "DENY"
