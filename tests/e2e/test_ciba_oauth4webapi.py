"""CIBA (poll mode) against a real `yiwang serve`, driven by the independent strict client oauth4webapi
(`ciba_flow.mjs`); the citizen's approval is done here over HTTP, reading the sandbox SMS outbox."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.citizen import run_flow, yiwang_server
from tests.e2e.test_oauth4webapi import _node_or_skip, _yiwang

HERE = Path(__file__).resolve().parent
PHONE = "13912345678"
UNKNOWN = "13700137000"


def test_ciba_poll_mode_with_oauth4webapi(tmp_path: Path) -> None:
    node = _node_or_skip()
    with yiwang_server(tmp_path) as (base, env):
        _yiwang(env, tmp_path, "person", "add", "--id-number", "11010519491231002X", "--name", "张三",
                "--phone", PHONE, "--json")  # fmt: skip
        rp = _yiwang(env, tmp_path, "client", "add", "--name", "12345 市民热线",
                     "--grant", "urn:openid:params:grant-type:ciba", "--backchannel-delivery-mode", "poll",
                     "--scope", "openid", "--scope", "profile", "--json")  # fmt: skip
        flow_env = {
            "ISSUER": base,
            "CLIENT_ID": rp["client_id"],
            "CLIENT_SECRET": rp["client_secret"],
            "PHONE": PHONE,
            "UNKNOWN_PHONE": UNKNOWN,
        }
        code, out, err = run_flow(node, HERE / "ciba_flow.mjs", flow_env, base, PHONE)
        unknown_outbox = httpx.get(f"{base}/sandbox/sms/outbox", params={"phone": UNKNOWN}).json()["messages"]
        server_log = (tmp_path / "server.log").read_text(errors="replace")

    assert code == 0, f"ciba_flow.mjs failed:\n{err}\n{out[-4000:]}\n--- server log ---\n{server_log[-4000:]}"
    result = json.loads(out.strip().splitlines()[-1])
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
