"""The device authorization grant (RFC 8628) against a real `yiwang serve`: the kiosk is panva's oauth4webapi
(`device_flow.mjs`), the citizen's phone is this driver, over HTTP, through the real pages — the user code,
the SMS sign-in, the approval page. One request approved (tokens, once), one declined (access_denied).

Needs `node` and `npm ci` in tests/e2e; skips saying why without them, fails instead under CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_oauth4webapi import _free_port, _node_or_skip, _wait_healthy, _yiwang

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "device_flow.mjs"
PHONE = "13912340088"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def _phone_decides(phone: httpx.Client, complete_uri: str, decision: str) -> str:
    """What a citizen does with the kiosk's QR code: open it, continue, sign in if needed, decide."""
    page = phone.get(complete_uri)
    assert page.status_code == 200, page.text
    entered = phone.post(
        "/device", data={"user_code": _field(page.text, "user_code"), "csrf": _field(page.text, "csrf")}
    )
    assert entered.status_code == 303, entered.text
    location = entered.headers["location"]
    if location.startswith("/login"):
        login = phone.get(location)
        form = {"flow": _field(login.text, "flow"), "csrf": _field(login.text, "csrf"), "phone": PHONE}
        assert phone.post("/login/sms", data=form).status_code == 200
        code = phone.get("/sandbox/sms/outbox", params={"phone": PHONE}).json()["messages"][0]["code"]
        signed = phone.post("/login/code", data={**form, "code": code, "agree": "yes", "decision": "approve"})
        assert signed.status_code == 303, signed.text
        location = signed.headers["location"]
    assert location.startswith("/device/confirm?flow="), location
    confirm = phone.get(location)
    assert confirm.status_code == 200 and "oauth4webapi 自助机" in confirm.text
    form = {"flow": _field(confirm.text, "flow"), "csrf": _field(confirm.text, "csrf"), "decision": decision}
    done = phone.post("/device/confirm", data=form)
    assert done.status_code == 302, done.text
    return str(done.headers["location"])


def test_device_flow_with_oauth4webapi(tmp_path: Path) -> None:
    node = _node_or_skip()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {
        "YIWANG_DATA_DIR": str(tmp_path / "var"),
        "YIWANG_ISSUER": base,
        "YIWANG_DEVICE_POLL_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "server.log").open("wb")
    cmd = [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    decisions: list[str] = []
    result: dict[str, Any] = {}
    try:
        _wait_healthy(base, proc, 240)  # a cold start (migrations, keys) on a busy machine
        common = ["--grant", DEVICE_CODE, "--scope", "openid", "--scope", "profile", "--scope", "phone", "--json"]
        kiosk = _yiwang(env, tmp_path, "client", "add", "--name", "oauth4webapi 自助机", "--shared-device", *common)
        public = _yiwang(
            env, tmp_path, "client", "add", "--name", "oauth4webapi 自助机 (public)", "--auth-method", "none", *common
        )
        flow_env = {
            "PATH": os.environ.get("PATH", ""),
            "ISSUER": base,
            "CLIENT_ID": kiosk["client_id"],
            "CLIENT_SECRET": kiosk["client_secret"],
            "PUBLIC_CLIENT_ID": public["client_id"],
        }
        with (
            subprocess.Popen(
                [node, str(SCRIPT)], cwd=HERE, env=flow_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            ) as script,
            httpx.Client(base_url=base, timeout=10, follow_redirects=False) as phone,
        ):
            assert script.stdout is not None and script.stderr is not None
            for line in script.stdout:
                event = json.loads(line)
                if event["event"] == "authorize":
                    complete = event["verification_uri_complete"]
                    decisions.append(_phone_decides(phone, complete.removeprefix(base), event["decision"]))
                elif event["event"] == "done":
                    result = event
            stderr = script.stderr.read()
            assert script.wait(timeout=120) == 0, f"device_flow.mjs failed: {stderr}\n{json.dumps(result)[-3000:]}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    steps = result["steps"]
    assert steps["discovery"]["device_authorization_endpoint"] == f"{base}/device_authorization"
    assert DEVICE_CODE in steps["discovery"]["grant_types_supported"]
    authorization = steps["device_authorization"]
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", authorization["user_code"])
    assert authorization["verification_uri"] == f"{base}/device"
    assert authorization["interval"] == 1 and authorization["expires_in"] == 600
    assert steps["slow_down"]["answers"] == ["authorization_pending", "slow_down"]
    assert decisions == ["/device/done?result=approved", "/device/done?result=denied"]
    approved = steps["approved"]
    assert approved["token_type"] == "bearer" and approved["has_refresh_token"] is False  # a shared device
    claims = approved["id_token_claims"]
    assert claims["iss"] == base and claims["aud"] == kiosk["client_id"] and claims["acr"] == "urn:yiwang:loa:1"
    assert steps["userinfo"]["sub"] == claims["sub"] and steps["userinfo"]["phone_number"].endswith(PHONE[-4:])
    assert steps["single_use"]["error"] == "invalid_grant"
    declined = steps["declined"]
    assert declined["error"] == "access_denied" and declined["status"] == 400
