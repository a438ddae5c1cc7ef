"""CIBA (poll mode) against a real `yiwang serve`, driven by the independent strict client oauth4webapi
(`ciba_flow.mjs`); the citizen's approval is done here over HTTP, reading the sandbox SMS outbox."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.citizen import register, run_flow
from tests.e2e.node import HERE, node_or_skip, report
from tests.kit.served import yiwang_server

SCRIPT = HERE / "ciba_flow.mjs"
PHONE = "13912345678"
UNKNOWN = "13700137000"


def test_ciba_poll_mode_with_oauth4webapi(tmp_path: Path) -> None:
    node = node_or_skip()
    with yiwang_server(tmp_path) as served:
        base = served.base
        register(served, PHONE)
        rp = served.yiwang("client", "add", "--name", "12345 市民热线",
                           "--grant", "urn:openid:params:grant-type:ciba", "--backchannel-delivery-mode", "poll",
                           "--scope", "openid", "--scope", "profile", "--json")  # fmt: skip
        flow_env = {
            "ISSUER": base,
            "CLIENT_ID": rp["client_id"],
            "CLIENT_SECRET": rp["client_secret"],
            "PHONE": PHONE,
            "UNKNOWN_PHONE": UNKNOWN,
        }
        done = run_flow(node, SCRIPT, flow_env, base, PHONE)
        unknown_outbox = httpx.get(f"{base}/sandbox/sms/outbox", params={"phone": UNKNOWN}).json()["messages"]

    result = report(SCRIPT, done, served.log())
    steps = result["steps"]
    assert result["ok"] is True
    assert steps["discovery"]["modes"] == ["poll", "ping"] and steps["discovery"]["user_code"] is False
    assert steps["backchannel_authentication"]["interval"] == 5
    assert steps["pending"]["error"] == "authorization_pending"
    # An unregistered number: the same acknowledgement, no SMS, still pending (it will expire).
    assert steps["unknown_phone"]["same_shape"] is True and steps["unknown_phone"]["status"] == 200
    assert steps["unknown_still_pending"]["error"] == "authorization_pending"
    assert unknown_outbox == []
    # The grant response passed oauth4webapi's strict ID token checks and its signature verified.
    assert steps["token"]["id_token_signature_verified"] is True
    claims = result["id_token_claims"]
    assert claims["iss"] == base and claims["aud"] == rp["client_id"] and claims["acr"] == "urn:yiwang:loa:1"
    assert steps["single_use"]["error"] == "invalid_grant"
