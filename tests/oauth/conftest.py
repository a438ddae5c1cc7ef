"""An OIDC test bench: the app in-process, a registered client, and a 'browser' that signs in by SMS."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from idp.app import create_app
from idp.oauth.clients import NewClient, create_client
from idp.runtime import Runtime
from idp.settings import Settings
from tests.kit.hashcash import proof_for

ISSUER = "http://127.0.0.1:8000"
REDIRECT = "https://rp.example/cb"
PHONE = "13800138000"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A JWS made by hand, the way an attacker would: `alg: none`, or HS256 keyed with public key bytes."""
    import hmac as _hmac
    import json as _json

    signing_input = f"{_b64(_json.dumps(header).encode())}.{_b64(_json.dumps(claims).encode())}"
    if hmac_key is None:
        return signing_input + "."
    return signing_input + "." + _b64(_hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest())


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in page"
    return found.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Bench:
    client: TestClient
    rt: Runtime
    rp: NewClient
    verifier: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def register(self, **kwargs: Any) -> NewClient:
        kwargs.setdefault("name", "测试部门")
        kwargs.setdefault("redirect_uris", [REDIRECT])
        kwargs.setdefault("scopes", ["openid", "profile", "phone", "real_name", "offline_access"])
        with self.rt.transaction() as session:
            return create_client(session, **kwargs)

    def auth_params(self, rp: NewClient | None = None, **overrides: str) -> dict[str, str]:
        rp = rp or self.rp
        self.verifier, challenge = pkce()
        params = {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid profile phone offline_access",
            "state": "state-" + secrets.token_hex(4),
            "nonce": "nonce-" + secrets.token_hex(4),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v != ""}

    def authorize(self, **params: str) -> Response:
        return self.client.get("/authorize", params=params)

    def outbox_code(self, phone: str = PHONE) -> str:
        messages = self.client.get("/sandbox/sms/outbox", params={"phone": phone}).json()["messages"]
        return str(messages[0]["code"])

    def sign_in(self, login_location: str, phone: str = PHONE, **extra: str) -> Response:
        """From a /login?flow=… redirect to the response after the SMS code was accepted: phone, code, the
        user agreement and the consent shown on the same page, as a person fills it in."""
        page = self.client.get(login_location)
        flow, csrf = form_value(page.text, "flow"), form_value(page.text, "csrf")
        proof = proof_for(page.text)  # as the page's script does before a send
        sent = self.client.post("/login/sms", data={"flow": flow, "csrf": csrf, "phone": phone, "proof": proof})
        assert sent.status_code == 200 and 'name="code"' in sent.text, sent.text
        form = {"flow": flow, "csrf": csrf, "phone": phone, "code": self.outbox_code(phone), "agree": "yes"}
        return self.client.post("/login/code", data={**form, "decision": "approve", **extra})

    def follow(self, response: Response) -> Response:
        """Follow our own redirects until one leaves for the client (or a page is shown)."""
        while response.status_code in (302, 303) and not response.headers["location"].startswith("https://rp."):
            response = self.client.get(response.headers["location"])
            if response.status_code == 200 and 'action="/consent"' in response.text:
                response = self.client.post(
                    "/consent",
                    data={
                        "flow": form_value(response.text, "flow"),
                        "csrf": form_value(response.text, "csrf"),
                        "decision": "approve",
                    },
                )
        return response

    def code_flow(self, rp: NewClient | None = None, phone: str = PHONE, **overrides: str) -> dict[str, str]:
        """Authorize → (login) → (consent) → the client's redirect, as query parameters."""
        params = self.auth_params(rp, **overrides)
        first = self.authorize(**params)
        assert first.status_code in (302, 303), first.text
        response = first
        if first.headers["location"].startswith("/login"):
            response = self.sign_in(first.headers["location"], phone)
        final = self.follow(response)
        assert final.status_code == 302 and final.headers["location"].startswith(REDIRECT), final.text
        result = query_of(final.headers["location"])
        result["_state_sent"] = params["state"]
        result["_nonce_sent"] = params.get("nonce", "")
        return result

    def exchange(self, code: str, rp: NewClient | None = None, verifier: str | None = None) -> Response:
        rp = rp or self.rp
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        if verifier is not None or self.verifier:
            data["code_verifier"] = verifier if verifier is not None else self.verifier
        if rp.client_secret:
            return self.client.post("/token", data=data, auth=(rp.client_id, rp.client_secret))
        return self.client.post("/token", data={**data, "client_id": rp.client_id})

    def tokens(self, rp: NewClient | None = None, **overrides: str) -> dict[str, Any]:
        result = self.code_flow(rp, **overrides)
        response = self.exchange(result["code"], rp)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def bench(rt: Runtime, settings: Settings) -> Iterator[Bench]:
    with TestClient(create_app(settings), base_url=ISSUER, follow_redirects=False) as client:
        b = Bench(client, rt, NewClient("", None))
        b.rp = b.register()
        yield b
