"""PAR + PKCE + DPoP end to end against a real `yiwang serve`, driven by oauth4webapi (`par_dpop_flow.mjs`):
a PAR-only, DPoP-bound public client. The harness is `tests/kit/served.py` and `node.py`, as for the others."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.node import HERE, node_or_skip, report, run_node
from tests.e2e.test_oauth4webapi import PHONE
from tests.kit.served import yiwang_server

SCRIPT = HERE / "par_dpop_flow.mjs"


def test_par_pkce_dpop_flow_with_oauth4webapi(tmp_path: Path) -> None:
    node = node_or_skip()
    with yiwang_server(tmp_path) as served:
        base = served.base
        app = served.yiwang(
            "client",
            "add",
            "--name",
            "oauth4webapi app (PAR + DPoP)",
            "--redirect-uri",
            f"{base}/rp/app-cb",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--auth-method",
            "none",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--scope",
            "offline_access",
            "--require-par",
            "--dpop",
            "--json",
        )
        flow_env = {"ISSUER": base, "CLIENT_ID": app["client_id"], "REDIRECT_URI": f"{base}/rp/app-cb", "PHONE": PHONE}
        done = run_node(node, SCRIPT, flow_env)

    result = report(SCRIPT, done, served.log())
    steps = result["steps"]
    assert result["ok"] is True
    assert steps["discovery"]["pushed_authorization_request_endpoint"] == f"{base}/par"
    assert "ES256" in steps["discovery"]["dpop_signing_alg_values_supported"]
    assert steps["plain_authorization_request_refused"]["error"] == "invalid_request"
    assert steps["pushed_authorization_request"]["status"] == 201
    assert 5 <= steps["pushed_authorization_request"]["expires_in"] <= 600
    assert steps["authorization_response"]["iss"] == base
    assert steps["request_uri_reuse_refused"]["status"] == 400
    exchange = steps["code_exchange"]
    assert exchange["token_type"] == "dpop" and exchange["cnf_jkt_matches"] is True
    assert exchange["nonce_retry"] is True  # the token endpoint demanded its nonce first (RFC 9449 §8)
    assert exchange["has_refresh_token"] is True
    assert steps["userinfo_with_dpop"]["sub_matches"] is True
    assert steps["bearer_downgrade_refused"] == {"ok": True, "scheme": "dpop", "error": "invalid_token"}
    assert steps["refresh_with_another_key_refused"]["error"] == "invalid_grant"
    assert steps["refresh_with_dpop"]["token_type"] == "dpop" and steps["refresh_with_dpop"]["rotated"] is True
    assert steps["refresh_with_dpop"]["userinfo_sub_matches"] is True
