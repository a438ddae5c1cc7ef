"""Token exchange (RFC 8693) against a real `yiwang serve`, driven by oauth4webapi (`exchange_flow.mjs`): a
department's back end exchanges a citizen's token (got by CIBA, approved here over HTTP) for another API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.citizen import run_flow, yiwang_server
from tests.e2e.test_oauth4webapi import _node_or_skip, _yiwang

HERE = Path(__file__).resolve().parent
PHONE = "13912345678"
TAX_API = "https://api.tax.example"


def test_token_exchange_with_oauth4webapi(tmp_path: Path) -> None:
    node = _node_or_skip()
    with yiwang_server(tmp_path) as (base, env):
        _yiwang(env, tmp_path, "person", "add", "--id-number", "11010519491231002X", "--name", "张三",
                "--phone", PHONE, "--json")  # fmt: skip
        rp = _yiwang(env, tmp_path, "client", "add", "--name", "社保局后台",
                     "--grant", "urn:openid:params:grant-type:ciba", "--backchannel-delivery-mode", "poll",
                     "--grant", "urn:ietf:params:oauth:grant-type:token-exchange",
                     "--exchange-audience", TAX_API, "--exchange-scope", "openid", "--exchange-scope", "profile",
                     "--scope", "openid", "--scope", "profile", "--json")  # fmt: skip
        flow_env = {
            "ISSUER": base,
            "CLIENT_ID": rp["client_id"],
            "CLIENT_SECRET": rp["client_secret"],
            "PHONE": PHONE,
            "AUDIENCE": TAX_API,
            "OTHER_AUDIENCE": "https://api.health.example",
        }
        code, out, err = run_flow(node, HERE / "exchange_flow.mjs", flow_env, base, PHONE)
        server_log = (tmp_path / "server.log").read_text(errors="replace")

    assert code == 0, f"exchange_flow.mjs failed:\n{err}\n{out[-4000:]}\n--- server log ---\n{server_log[-4000:]}"
    result = json.loads(out.strip().splitlines()[-1])
    steps = result["steps"]
    assert result["ok"] is True
    exchanged = steps["exchange"]
    assert exchanged["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert exchanged["same_sub"] is True and exchanged["not_longer"] is True
    claims = result["exchanged_claims"]
    assert claims["aud"] == TAX_API and claims["act"] == {"sub": rp["client_id"]} and claims["scope"] == "openid"
    assert steps["other_audience"]["error"] == "invalid_target"
    assert steps["wider_scope"]["error"] == "invalid_scope"
