"""Refresh tokens rotate; presenting a used one revokes the whole family (RFC 9700 §4.14.2)."""

from __future__ import annotations

from tests.oauth.conftest import Bench


def _refresh(bench: Bench, token: str) -> tuple[int, dict[str, str]]:
    response = bench.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    return response.status_code, response.json()


def test_rotation_issues_a_new_refresh_token(bench: Bench) -> None:
    first = bench.tokens()
    status, second = _refresh(bench, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    status, third = _refresh(bench, second["refresh_token"])
    assert status == 200


def test_reuse_revokes_the_family_and_its_access_tokens(bench: Bench) -> None:
    first = bench.tokens()
    status, second = _refresh(bench, first["refresh_token"])
    assert status == 200
    status, body = _refresh(bench, first["refresh_token"])  # the old one again: theft
    assert status == 400 and body["error"] == "invalid_grant"
    status, _ = _refresh(bench, second["refresh_token"])  # the legitimate newest is dead too
    assert status == 400
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    introspected = bench.client.post("/introspect", data={"token": second["access_token"]}, auth=auth).json()
    assert introspected == {"active": False}


def test_refresh_token_bound_to_client(bench: Bench) -> None:
    first = bench.tokens()
    other = bench.register(name="别的部门")
    response = bench.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(other.client_id, other.client_secret or ""),
    )
    assert response.status_code == 400
    # The wrong client's attempt did not use up the owner's token (so it is not later taken for a replay).
    status, _ = _refresh(bench, first["refresh_token"])
    assert status == 200


def test_refresh_cannot_widen_scope(bench: Bench) -> None:
    first = bench.tokens(scope="openid offline_access")
    response = bench.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "openid phone"},
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    status, _ = _refresh(bench, first["refresh_token"])  # still the owner's to use
    assert status == 200


def test_revoking_a_refresh_token_kills_the_family(bench: Bench) -> None:
    first = bench.tokens()
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    assert bench.client.post("/revoke", data={"token": first["refresh_token"]}, auth=auth).status_code == 200
    status, _ = _refresh(bench, first["refresh_token"])
    assert status == 400
