"""Discovery is complete; userinfo releases by scope and consent; consent can be withdrawn."""

from __future__ import annotations

from idp.oauth.acr import LEVELS
from tests.oauth.conftest import ISSUER, Bench, form_value


def test_discovery_document_is_complete(bench: Bench) -> None:
    meta = bench.client.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ):
        assert meta[key].startswith(ISSUER + "/")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["acr_values_supported"] == list(LEVELS)
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(meta["grant_types_supported"])
    assert meta["response_types_supported"] == ["code"]
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} <= set(
        meta["token_endpoint_auth_methods_supported"]
    )
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    assert {"openid", "profile", "phone", "real_name", "id_card", "org"} <= set(meta["scopes_supported"])
    assert meta["backchannel_logout_supported"] is True


def test_jwks_publishes_public_keys_only(bench: Bench) -> None:
    keys = bench.client.get("/jwks").json()["keys"]
    assert keys and all("d" not in k and k["kid"] and k["use"] == "sig" for k in keys)


def test_userinfo_releases_claims_by_scope(bench: Bench) -> None:
    narrow = bench.tokens(scope="openid")
    info = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {narrow['access_token']}"}).json()
    assert set(info) == {"sub"}


def test_pairwise_subjects_differ_between_sectors(bench: Bench) -> None:
    other = bench.register(name="另一部门", redirect_uris=["https://rp.example/cb"], sector="other.example")
    a = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {bench.tokens()['access_token']}"}).json()
    b = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {bench.tokens(other)['access_token']}"}).json()
    assert a["sub"] != b["sub"] and len(a["sub"]) == 64


def test_public_subject_when_registered_so(bench: Bench) -> None:
    public = bench.register(name="公共标识", subject_type="public")
    info = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {bench.tokens(public)['access_token']}"})
    assert len(info.json()["sub"]) == 36  # the person's id


def test_withdrawn_consent_stops_release_and_kills_refresh_tokens(bench: Bench) -> None:
    tokens = bench.tokens()
    page = bench.client.get("/account/consents")
    assert bench.rp.client_id in page.text
    withdrawn = bench.client.post(
        "/account/consents/revoke", data={"csrf": form_value(page.text, "csrf"), "client_id": bench.rp.client_id}
    )
    assert withdrawn.status_code == 303
    info = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert "phone_number" not in info
    refreshed = bench.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    assert refreshed.status_code == 400
    # And the next authorization asks for consent again.
    assert bench.authorize(**bench.auth_params()).headers["location"].startswith("/consent")


def test_revoked_access_token_is_refused_by_userinfo(bench: Bench) -> None:
    tokens = bench.tokens()
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    bench.client.post("/revoke", data={"token": tokens["access_token"]}, auth=auth)
    response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401


def test_token_endpoint_errors_are_rfc6749_json(bench: Bench) -> None:
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    for data in ({"grant_type": "password"}, {"grant_type": "authorization_code"}, {}):
        response = bench.client.post("/token", data=data, auth=auth)
        assert response.status_code == 400 and "error" in response.json()
        assert response.headers["cache-control"] == "no-store"
    wrong_type = bench.client.post("/token", json={"grant_type": "client_credentials"}, auth=auth)
    assert wrong_type.status_code == 400 and wrong_type.json()["error"] == "invalid_request"


def test_client_cli_round_trip(bench: Bench) -> None:
    import json

    from typer.testing import CliRunner

    from idp.cli.main import app

    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "client",
            "add",
            "--name",
            "命令行部门",
            "--redirect-uri",
            "https://cli.example/cb",
            "--scope",
            "openid",
            "--scope",
            "phone",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    data = json.loads(made.stdout)
    assert data["client_id"].startswith("yw_") and len(data["client_secret"]) > 30
    shown = runner.invoke(app, ["client", "show", data["client_id"], "--json"])
    assert shown.exit_code == 0 and data["client_secret"] not in shown.stdout
    assert data["client_id"] in runner.invoke(app, ["client", "list"]).stdout
    bad = runner.invoke(app, ["client", "add", "--name", "x", "--redirect-uri", "javascript:alert(1)"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error:")
    assert runner.invoke(app, ["client", "remove", data["client_id"]]).exit_code == 0
    assert runner.invoke(app, ["client", "show", data["client_id"]]).exit_code == 1


def test_operator_api_manages_clients(bench: Bench) -> None:
    from idp import operators

    with bench.rt.transaction() as session:
        token = operators.create(session, "ops")
    body = {"name": "接口部门", "redirect_uris": ["https://api.example/cb"], "scopes": ["openid"]}
    assert bench.client.post("/admin/v1/clients", json=body).status_code == 401
    headers = {"Authorization": f"Bearer {token}"}
    made = bench.client.post("/admin/v1/clients", json=body, headers=headers)
    assert made.status_code == 201 and made.json()["client_secret"]
    client_id = made.json()["client_id"]
    listed = bench.client.get("/admin/v1/clients", headers=headers).json()["clients"]
    assert client_id in [c["client_id"] for c in listed] and "secret_hash" not in str(listed)
    bad = bench.client.post("/admin/v1/clients", json={**body, "redirect_uris": ["javascript:x"]}, headers=headers)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    assert bench.client.delete(f"/admin/v1/clients/{client_id}", headers=headers).status_code == 204
    assert bench.client.get(f"/admin/v1/clients/{client_id}", headers=headers).status_code == 404


def test_client_lookup_inside_a_write_transaction_does_not_wait_on_itself(bench: Bench) -> None:
    """SQLite: an expired client-cache entry is re-read while userinfo holds its transaction open."""
    tokens = bench.tokens()
    bench.client.app.state.provider.clients.TTL = 0  # type: ignore[attr-defined]
    response = bench.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200
