"""The whole authorization-code flow against a real `yiwang serve`, driven by an independent strict client:
panva's oauth4webapi (Node), see `oidc_flow.mjs` beside this file.

Needs `node` and `npm ci` in tests/e2e; skips saying why without them, fails instead under CI (CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.waiting import wait_until

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "oidc_flow.mjs"
MODULE = HERE / "node_modules" / "oauth4webapi" / "package.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PHONE = "13912345678"


def _node_or_skip() -> str:
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not installed (the oauth4webapi end-to-end test needs Node 20+)"
    elif not MODULE.exists():
        reason = "oauth4webapi is not installed: run `(cd tests/e2e && npm ci)`"
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the end-to-end test)")
        pytest.skip(reason)
    assert node is not None
    return node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, seconds, "the server becoming healthy", interval=0.2)


def _yiwang(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "idp.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"yiwang {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return dict(json.loads(done.stdout))


def test_authorization_code_flow_with_oauth4webapi(tmp_path: Path) -> None:
    node = _node_or_skip()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env |= {"YIWANG_DATA_DIR": str(tmp_path / "var"), "YIWANG_ISSUER": base, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(base, proc)
        rp = _yiwang(
            env,
            tmp_path,
            "client",
            "add",
            "--name",
            "oauth4webapi RP",
            "--redirect-uri",
            f"{base}/rp/cb",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--scope",
            "phone",
            "--scope",
            "offline_access",
            "--post-logout-redirect-uri",
            f"{base}/rp/bye",
            "--json",
        )
        spa = _yiwang(
            env,
            tmp_path,
            "client",
            "add",
            "--name",
            "oauth4webapi public client",
            "--redirect-uri",
            f"{base}/rp/public-cb",
            "--grant",
            "authorization_code",
            "--auth-method",
            "none",
            "--scope",
            "openid",
            "--scope",
            "profile",
            "--json",
        )
        assert spa["client_secret"] is None
        flow_env = {
            "PATH": os.environ.get("PATH", ""),
            "ISSUER": base,
            "CLIENT_ID": rp["client_id"],
            "CLIENT_SECRET": rp["client_secret"],
            "REDIRECT_URI": f"{base}/rp/cb",
            "POST_LOGOUT_REDIRECT_URI": f"{base}/rp/bye",
            "PHONE": PHONE,
            "PUBLIC_CLIENT_ID": spa["client_id"],
            "PUBLIC_REDIRECT_URI": f"{base}/rp/public-cb",
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
        f"oidc_flow.mjs failed:\n{done.stderr}\n{done.stdout[-4000:]}\n--- server log (tail) ---\n{server_log[-4000:]}"
    )
    result = json.loads(done.stdout)
    steps = result["steps"]
    assert result["ok"] is True
    assert result["issuer"] == base
    assert steps["discovery"]["issuer"] == base

    # Authorization response: code + RFC 9207 iss + state, checked by validateAuthResponse.
    # Consent is given on the sign-in page itself: no separate consent page.
    assert steps["authorize"]["pages"] == ["login page", "sms code read from the sandbox outbox"]
    assert steps["authorization_response"]["iss"] == base

    # Code exchange: the ID token passed oauth4webapi's strict checks (iss, aud, exp, iat, nonce) and its
    # signature verified against our JWKS.
    exchange = steps["code_exchange"]
    assert exchange["token_type"] == "bearer"
    assert exchange["has_refresh_token"] is True
    assert exchange["id_token_signature_verified"] is True
    assert exchange["access_token_typ"] == "at+jwt"
    claims = result["id_token_claims"]
    assert result["acr"] == claims["acr"] == "urn:yiwang:loa:1"
    assert result["amr"] == claims["amr"] == ["sms"]
    assert claims["iss"] == base and claims["aud"] == rp["client_id"]
    assert result["sub"] == claims["sub"] and claims["sub"]
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]

    # UserInfo for the same subject (processUserInfoResponse checks sub); the phone scope was consented.
    info = steps["userinfo"]["claims"]
    assert info["sub"] == result["sub"]
    assert info.get("phone_number", "").endswith(PHONE[-4:])

    # Introspection active before, inactive after revocation; refresh rotated the refresh token.
    assert steps["introspection_active"]["active"] is True
    assert steps["introspection_active"]["sub"] == result["sub"]
    assert steps["refresh"]["new_refresh_token"] is True
    assert steps["rotated_refresh_token_inactive"]["active"] is False
    revocation = steps["revocation"]
    assert revocation["access_token"] == {"active_before": True, "active_after": False}
    assert revocation["refresh_token"] == {"active_after": False}
    assert revocation["userinfo_refused_after"] is True
    assert steps["code_replay"] == {"ok": True, "error": "invalid_grant", "first_access_token_active_after": False}

    # A public client: PKCE required; with it, single sign-on into the same session.
    assert steps["public_client_without_pkce_refused"]["error"] == "invalid_request"
    assert steps["public_client_sso"]["pages"] == ["consent page"]
    assert steps["public_client_sso"]["same_sid"] is True

    # RP-initiated logout back to the registered URI with the state; the session is gone afterwards.
    logout = steps["logout"]
    assert logout["redirected_to"] == f"{base}/rp/bye"
    assert logout["state_matches"] is True and logout["state"]
    assert logout["prompt_none_after"] == "login_required"
