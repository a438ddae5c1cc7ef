"""A person's sign-in driven over real HTTP, each request to whichever node the test names.

The steps are those of tests/oauth/conftest.py's Bench (authorize, the SMS page, the code, consent, the
client's redirect, the token endpoint), split so that a test can send each one to another node.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.kit.hashcash import proof_for
from tests.kit.served import Served

REDIRECT = "https://rp.example/cb"


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in page"
    return found.group(1)


@dataclass(frozen=True)
class Rp:
    client_id: str
    client_secret: str

    @property
    def auth(self) -> tuple[str, str]:
        return self.client_id, self.client_secret


def add_client(node: Served, *args: str) -> Rp:
    """A confidential web client with refresh tokens, registered with the CLI (any node's: one database)."""
    made = node.yiwang(
        "client", "add", "--name", "集群测试", "--redirect-uri", REDIRECT,
        "--grant", "authorization_code", "--grant", "refresh_token",
        "--scope", "openid", "--scope", "profile", "--scope", "phone", "--scope", "offline_access",
        *args, "--json",
    )  # fmt: skip
    return Rp(made["client_id"], made["client_secret"])


@dataclass
class Login:
    """One authorization request in one browser; `flow` and `csrf` once the login page was shown."""

    browser: httpx.Client
    rp: Rp
    verifier: str = ""
    state: str = ""
    flow: str = ""
    csrf: str = ""
    page: str = ""

    def authorize(self, node: Served, **extra: str) -> httpx.Response:
        self.verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        self.state = secrets.token_hex(8)
        params = {
            "response_type": "code",
            "client_id": self.rp.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid profile phone offline_access",
            "state": self.state,
            "nonce": secrets.token_hex(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "prompt": "consent",
            **extra,
        }
        return self.browser.get(f"{node.base}/authorize", params={k: v for k, v in params.items() if v})

    def open_login(self, node: Served, location: str) -> None:
        """The login page the authorization request redirected to, shown by `node`."""
        assert location.startswith("/login"), location
        page = self.browser.get(f"{node.base}{location}")
        assert page.status_code == 200, page.text
        self.page, self.flow, self.csrf = page.text, form_value(page.text, "flow"), form_value(page.text, "csrf")

    def start(self, first: Served, login_node: Served) -> None:
        """Authorize on `first`, the login page from `login_node`."""
        response = self.authorize(first)
        assert response.status_code in (302, 303), response.text
        self.open_login(login_node, response.headers["location"])

    def send(self, node: Served, phone: str) -> httpx.Response:
        data = {"flow": self.flow, "csrf": self.csrf, "phone": phone, "proof": proof_for(self.page)}
        return self.browser.post(f"{node.base}/login/sms", data=data, headers={"accept": "text/html"})

    def submit(self, node: Served, phone: str, code: str) -> httpx.Response:
        data = {"flow": self.flow, "csrf": self.csrf, "phone": phone, "code": code, "agree": "yes"}
        return self.browser.post(f"{node.base}/login/code", data={**data, "decision": "approve"})

    def follow(self, nodes: list[Served], response: httpx.Response) -> dict[str, str]:
        """Our redirects (and a consent page) until the client's redirect, each hop on the next of `nodes`;
        the redirect's query parameters."""
        hop = 0
        while response.status_code in (302, 303) and not response.headers["location"].startswith(REDIRECT):
            node = nodes[hop % len(nodes)]
            hop += 1
            location = response.headers["location"]
            url = location if location.startswith("http") else f"{node.base}{location}"
            response = self.browser.get(url)
            if response.status_code == 200 and 'action="/consent"' in response.text:
                node = nodes[hop % len(nodes)]
                hop += 1
                response = self.browser.post(
                    f"{node.base}/consent",
                    data={
                        "flow": form_value(response.text, "flow"),
                        "csrf": form_value(response.text, "csrf"),
                        "decision": "approve",
                    },
                )
        assert response.status_code in (302, 303), response.text
        location = response.headers["location"]
        assert location.startswith(REDIRECT), location
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query.get("state") == self.state
        return query

    def exchange(self, node: Served, code: str) -> dict[str, Any]:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        answer = httpx.post(f"{node.base}/token", data={**data, "code_verifier": self.verifier}, auth=self.rp.auth)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def outbox_code(node: Served, phone: str) -> str:
    """The newest code the node's sandbox SMS gateway sent to `phone` (each node has its own emulator)."""
    e164 = "+86" + phone
    answer = httpx.get(f"{node.base}/sandbox/sms/outbox", params={"phone": e164})
    messages = answer.json()["messages"]
    assert messages, f"no SMS for {phone} at {node.base}"
    return str(messages[0]["code"])


def sign_in(browser: httpx.Client, rp: Rp, nodes: list[Served], phone: str) -> dict[str, Any]:
    """A whole sign-in, the n-th request on nodes[n % len(nodes)]; the token response."""
    turn = iter(range(1000))

    def node() -> Served:
        return nodes[next(turn) % len(nodes)]

    login = Login(browser, rp)
    login.start(node(), node())
    sender = node()
    sent = login.send(sender, phone)
    assert sent.status_code == 200 and 'name="code"' in sent.text, sent.text
    done = login.submit(node(), phone, outbox_code(sender, phone))
    query = login.follow([node(), node()], done)
    return login.exchange(node(), query["code"])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
