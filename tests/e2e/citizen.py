"""The citizen's side over plain HTTP, as a phone's browser does it: the sign-in by SMS code (read from the sandbox
outbox), and for CIBA the SMS link, the approval page, approve or decline. For the end-to-end drivers beside this
file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

from tests.e2e.node import start_node
from tests.kit.served import Served

LINK = re.compile(r"/ciba/([A-Za-z0-9_-]{20,64})")


def field(html: str, name: str) -> str:
    """The value of a page's (hidden) input `name`."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def register(served: Served, phone: str) -> None:
    """A registered person with `phone`: whom a back end can name in a CIBA request."""
    served.yiwang("person", "add", "--id-number", "11010519491231002X", "--name", "张三", "--phone", phone, "--json")


def _outbox(http: httpx.Client, phone: str) -> list[dict[str, str]]:
    response = http.get("/sandbox/sms/outbox", params={"phone": phone})
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def sign_in(http: httpx.Client, login_page: str, phone: str) -> httpx.Response:
    """Sign in by SMS on the login page at `login_page`: send the code, read it from the sandbox outbox, post it
    (agreeing and approving on the same page). Returns the provider's answer to the code."""
    login = http.get(login_page)
    form = {"flow": field(login.text, "flow"), "csrf": field(login.text, "csrf"), "phone": phone}
    sent = http.post("/login/sms", data=form)
    assert sent.status_code == 200, sent.text
    code = str(_outbox(http, phone)[0]["code"])
    return http.post("/login/code", data={**form, "code": code, "agree": "yes", "decision": "approve"})


def answer(base: str, phone: str, decision: str = "approve") -> str:
    """Open the newest CIBA link sent to `phone`, sign in, and answer. Returns the page's text afterwards."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30, headers={"accept-language": "en"}) as http:
        texts = [m["text"] for m in _outbox(http, phone)]
        link = next(found.group(1) for text in texts if (found := LINK.search(text)))
        page = http.get(f"/ciba/{link}")
        assert page.status_code == 200, page.text
        started = http.post(f"/ciba/{link}/sign-in", data={"csrf": field(page.text, "csrf")})
        assert started.status_code == 303, started.text
        response = sign_in(http, started.headers["location"], phone)
        while response.status_code in (302, 303):
            response = http.get(response.headers["location"])
        assert 'value="approve"' in response.text, response.text
        done = http.post(f"/ciba/{link}/decide", data={"csrf": field(response.text, "csrf"), "decision": decision})
        assert done.status_code == 200, done.text
        return done.text


def run_flow(
    node: str, script: Path, flow_env: dict[str, str], base: str, phone: str
) -> subprocess.CompletedProcess[str]:
    """Run a Node flow that prints `WAITING` when the citizen must approve; approve, tell it, collect its output."""
    flow = start_node(node, script, flow_env, stdin=True)
    assert flow.stdout is not None and flow.stdin is not None
    try:
        first = flow.stdout.readline()
        if first.strip() == "WAITING":
            assert "allowed it" in answer(base, phone, "approve")
            flow.stdin.write("APPROVED\n")
            flow.stdin.flush()
            out, err = flow.communicate(timeout=120)
            return subprocess.CompletedProcess(flow.args, flow.returncode, out, err)
        out, err = flow.communicate(timeout=60)
        return subprocess.CompletedProcess(flow.args, flow.returncode, first + out, err)
    finally:
        if flow.poll() is None:
            flow.kill()
            flow.wait()
