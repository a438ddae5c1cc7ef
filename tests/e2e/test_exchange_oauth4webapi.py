"""Token exchange (RFC 8693) against a real `yiwang serve`, driven by oauth4webapi (`exchange_flow.mjs`): a
department's back end exchanges a citizen's token (got by CIBA, approved here over HTTP) for another API."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.citizen import register, run_flow
from tests.e2e.node import HERE, node_or_skip, report
from tests.kit.served import yiwang_server

SCRIPT = HERE / "exchange_flow.mjs"
PHONE = "13912345678"
TAX_API = "https://api.tax.example"


def test_token_exchange_with_oauth4webapi(tmp_path: Path) -> None:
    node = node_or_skip()
    with yiwang_server(tmp_path) as served:
        base = served.base
        register(served, PHONE)
        rp = served.yiwang("client", "add", "--name", "社保局后台",
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
        done = run_flow(node, SCRIPT, flow_env, base, PHONE)

    result = report(SCRIPT, done, served.log())
    steps = result["steps"]
    assert result["ok"] is True
    exchanged = steps["exchange"]
    assert exchanged["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert exchanged["same_sub"] is True and exchanged["not_longer"] is True
    claims = result["exchanged_claims"]
    assert claims["aud"] == TAX_API and claims["act"] == {"sub": rp["client_id"]} and claims["scope"] == "openid"
    assert steps["other_audience"]["error"] == "invalid_target"
    assert steps["wider_scope"]["error"] == "invalid_scope"
