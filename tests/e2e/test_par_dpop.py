"""PAR + PKCE + DPoP end to end against a real `yiwang serve`, driven by oauth4webapi (`par_dpop_flow.mjs`):
a PAR-only, DPoP-bound public client. Same harness as `test_oauth4webapi.py`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_oauth4webapi import HERE, PHONE, _free_port, _node_or_skip, _wait_healthy, _yiwang

SCRIPT = HERE / "par_dpop_flow.mjs"


def test_par_pkce_dpop_flow_with_oauth4webapi(tmp_path: Path) -> None:
    node = _node_or_skip()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "YIWANG_ISSUER": base, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(base, proc, seconds=240)  # a loaded machine starts slowly
        app = _yiwang(
            env,
            tmp_path,
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
        flow_env = {
            "PATH": os.environ.get("PATH", ""),
            "ISSUER": base,
            "CLIENT_ID": app["client_id"],
            "REDIRECT_URI": f"{base}/rp/app-cb",
            "PHONE": PHONE,
        }
        done = subprocess.run([node, str(SCRIPT)], cwd=HERE, env=flow_env, capture_output=True, text=True, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    server_log = (tmp_path / "server.log").read_text(errors="replace")
    assert done.returncode == 0, (
        f"par_dpop_flow.mjs failed:\n{done.stderr}\n{done.stdout[-4000:]}\n--- server log (tail) ---\n{server_log[-4000:]}"
    )
    result = json.loads(done.stdout)
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
