"""The whole authorization-code flow against a real `yiwang serve`, driven by an independent strict client:
panva's oauth4webapi (Node), see `oidc_flow.mjs` beside this file.

Needs `node` and `npm ci` in tests/e2e; skips saying why without them, fails instead under CI (CI=true)
(`tests/e2e/node.py`).
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.node import HERE, node_or_skip, report, run_node
from tests.kit.served import yiwang_server

SCRIPT = HERE / "oidc_flow.mjs"
PHONE = "13912345678"


def test_authorization_code_flow_with_oauth4webapi(tmp_path: Path) -> None:
    node = node_or_skip()
    with yiwang_server(tmp_path) as served:
        base = served.base
        rp = served.yiwang(
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
        spa = served.yiwang(
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
            "ISSUER": base,
            "CLIENT_ID": rp["client_id"],
            "CLIENT_SECRET": rp["client_secret"],
            "REDIRECT_URI": f"{base}/rp/cb",
            "POST_LOGOUT_REDIRECT_URI": f"{base}/rp/bye",
            "PHONE": PHONE,
            "PUBLIC_CLIENT_ID": spa["client_id"],
            "PUBLIC_REDIRECT_URI": f"{base}/rp/public-cb",
        }
        done = run_node(node, SCRIPT, flow_env)

    result = report(SCRIPT, done, served.log())
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
