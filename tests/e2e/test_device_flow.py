"""The device authorization grant (RFC 8628) against a real `yiwang serve`: the kiosk is panva's oauth4webapi
(`device_flow.mjs`), the citizen's phone is this driver, over HTTP, through the real pages — the user code,
the SMS sign-in, the approval page. One request approved (tokens, once), one declined (access_denied).

Needs `node` and `npm ci` in tests/e2e; skips saying why without them, fails instead under CI (CI=true).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.citizen import field, sign_in
from tests.e2e.node import HERE, node_or_skip, start_node
from tests.kit.served import yiwang_server

SCRIPT = HERE / "device_flow.mjs"
PHONE = "13912340088"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def _phone_decides(phone: httpx.Client, complete_uri: str, decision: str) -> str:
    """What a citizen does with the kiosk's QR code: open it, continue, sign in if needed, decide."""
    page = phone.get(complete_uri)
    assert page.status_code == 200, page.text
    entered = phone.post("/device", data={"user_code": field(page.text, "user_code"), "csrf": field(page.text, "csrf")})
    assert entered.status_code == 303, entered.text
    location = entered.headers["location"]
    if location.startswith("/login"):
        signed = sign_in(phone, location, PHONE)
        assert signed.status_code == 303, signed.text
        location = signed.headers["location"]
    assert location.startswith("/device/confirm?flow="), location
    confirm = phone.get(location)
    assert confirm.status_code == 200 and "oauth4webapi 自助机" in confirm.text
    form = {"flow": field(confirm.text, "flow"), "csrf": field(confirm.text, "csrf"), "decision": decision}
    done = phone.post("/device/confirm", data=form)
    assert done.status_code == 302, done.text
    return str(done.headers["location"])


def test_device_flow_with_oauth4webapi(tmp_path: Path) -> None:
    node = node_or_skip()
    decisions: list[str] = []
    result: dict[str, Any] = {}
    with yiwang_server(tmp_path, {"YIWANG_DEVICE_POLL_INTERVAL": "1"}) as served:
        base = served.base
        common = ["--grant", DEVICE_CODE, "--scope", "openid", "--scope", "profile", "--scope", "phone", "--json"]
        kiosk = served.yiwang("client", "add", "--name", "oauth4webapi 自助机", "--shared-device", *common)
        public = served.yiwang(
            "client", "add", "--name", "oauth4webapi 自助机 (public)", "--auth-method", "none", *common
        )
        flow_env = {
            "ISSUER": base,
            "CLIENT_ID": kiosk["client_id"],
            "CLIENT_SECRET": kiosk["client_secret"],
            "PUBLIC_CLIENT_ID": public["client_id"],
        }
        with (
            start_node(node, SCRIPT, flow_env) as script,
            httpx.Client(base_url=base, timeout=10, follow_redirects=False) as phone,
        ):
            assert script.stdout is not None and script.stderr is not None
            for line in script.stdout:
                event = json.loads(line)
                if event.get("event") == "authorize":
                    complete = event["verification_uri_complete"]
                    decisions.append(_phone_decides(phone, complete.removeprefix(base), event["decision"]))
                else:  # the last line: the script's report
                    result = event
            stderr = script.stderr.read()
            assert script.wait(timeout=120) == 0, f"device_flow.mjs failed: {stderr}\n{json.dumps(result)[-3000:]}"

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
