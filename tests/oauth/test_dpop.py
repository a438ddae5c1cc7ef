"""DPoP (RFC 9449) over HTTP: each proof check of §4.3 refuses with invalid_dpop_proof, the server nonce
(§8), bound access tokens (`cnf.jkt`, token_type DPoP), bound refresh tokens of public clients (§5), codes
bound by `dpop_jkt` (§10) or by a proof at PAR (§10.1), and resources that honour the binding (§7)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import time_machine
from httpx import Response
from joserfc.jwk import ECKey, RSAKey

from idp.oauth.clients import NewClient
from tests.kit.dpop import proof
from tests.oauth.conftest import ISSUER, REDIRECT, Bench, forge

TOKEN_URL = f"{ISSUER}/token"
USERINFO_URL = f"{ISSUER}/userinfo"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _nonce(bench: Bench) -> str:
    """The server's nonce, as a client learns it: a proof without one is answered use_dpop_nonce (§8)."""
    key = ECKey.generate_key("P-256")
    answer = bench.client.post(
        "/token", data={"grant_type": "client_credentials"}, headers={"DPoP": proof(key, "POST", TOKEN_URL)}
    )
    assert answer.status_code == 400 and answer.json()["error"] == "use_dpop_nonce"
    return answer.headers["dpop-nonce"]


def _machine(bench: Bench, **kwargs: Any) -> NewClient:
    return bench.register(
        name="机器客户端", redirect_uris=[], grant_types=["client_credentials"], scopes=["seal"], **kwargs
    )


def _cc(bench: Bench, rp: NewClient, dpop: str | list[str] | None) -> Response:
    headers: Any = None
    if isinstance(dpop, str):
        headers = {"DPoP": dpop}
    elif isinstance(dpop, list):
        headers = [("DPoP", value) for value in dpop]
    return bench.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "seal"},
        auth=(rp.client_id, rp.client_secret or ""),
        headers=headers,
    )


def _refused(response: Response, error: str = "invalid_dpop_proof") -> bool:
    return response.status_code == 400 and response.json()["error"] == error


def test_token_endpoint_checks_every_part_of_the_proof(bench: Bench) -> None:
    rp, key, nonce = _machine(bench), ECKey.generate_key("P-256"), _nonce(bench)
    good = _cc(bench, rp, proof(key, "POST", TOKEN_URL, nonce=nonce))
    assert good.status_code == 200, good.text
    assert good.json()["token_type"] == "DPoP"
    assert _claims(good.json()["access_token"])["cnf"] == {"jkt": key.thumbprint()}
    assert good.headers["dpop-nonce"]
    rsa = RSAKey.generate_key(2048)
    assert _cc(bench, rp, proof(rsa, "POST", TOKEN_URL, nonce=nonce, header={"alg": "PS256"})).status_code == 200

    other = ECKey.generate_key("P-256")
    signed_by_other = proof(other, "POST", TOKEN_URL, nonce=nonce, header={"jwk": key.as_dict(private=False)})
    public = key.as_dict(private=False)
    claims = {
        "jti": secrets.token_urlsafe(16),
        "htm": "POST",
        "htu": TOKEN_URL,
        "iat": int(time.time()),
        "nonce": nonce,
    }
    unsigned = forge({"typ": "dpop+jwt", "alg": "none", "jwk": public}, claims, None)
    hs256 = forge({"typ": "dpop+jwt", "alg": "HS256", "jwk": public}, claims, json.dumps(public).encode())
    too_old = int(time.time()) - bench.rt.settings.dpop_proof_max_age_s - 5
    replayed = proof(key, "POST", TOKEN_URL, nonce=nonce)
    assert _cc(bench, rp, replayed).status_code == 200
    bad = {
        "typ": proof(key, "POST", TOKEN_URL, nonce=nonce, header={"typ": "JWT"}),
        "alg none": unsigned,
        "symmetric alg": hs256,
        "private jwk": proof(key, "POST", TOKEN_URL, nonce=nonce, header={"jwk": key.as_dict(private=True)}),
        "signature": signed_by_other,
        "htm": proof(key, "GET", TOKEN_URL, nonce=nonce),
        "htu": proof(key, "POST", f"{ISSUER}/par", nonce=nonce),
        "htu host": proof(key, "POST", "https://elsewhere.example/token", nonce=nonce),
        "old iat": proof(key, "POST", TOKEN_URL, nonce=nonce, iat=too_old),
        "future iat": proof(key, "POST", TOKEN_URL, nonce=nonce, iat=int(time.time()) + 600),
        "no jti": proof(key, "POST", TOKEN_URL, nonce=nonce, jti=None),
        "replayed jti": replayed,
        "not a JWT": "not.a.jwt",
    }
    for name, value in bad.items():
        assert _refused(_cc(bench, rp, value)), name
    assert _refused(_cc(bench, rp, [proof(key, "POST", TOKEN_URL, nonce=nonce)] * 2)), "two DPoP headers"
    # A proof may leave query and fragment out of htu, and spell the scheme and host in capitals (§4.3 item 9).
    spelled = proof(key, "POST", TOKEN_URL.replace("http://", "HTTP://"), nonce=nonce)
    assert _cc(bench, rp, spelled).status_code == 200


def test_token_endpoint_demands_a_current_server_nonce(bench: Bench) -> None:
    rp, key = _machine(bench), ECKey.generate_key("P-256")
    missing = _cc(bench, rp, proof(key, "POST", TOKEN_URL))
    assert _refused(missing, "use_dpop_nonce") and missing.headers["dpop-nonce"]
    assert _refused(_cc(bench, rp, proof(key, "POST", TOKEN_URL, nonce="made-up")), "use_dpop_nonce")
    nonce = missing.headers["dpop-nonce"]
    assert _cc(bench, rp, proof(key, "POST", TOKEN_URL, nonce=nonce)).status_code == 200
    rotation = bench.rt.settings.dpop_nonce_rotation_s
    with time_machine.travel(time.time() + 2 * rotation + 1, tick=True):
        stale = _cc(bench, rp, proof(key, "POST", TOKEN_URL, nonce=nonce))
        assert _refused(stale, "use_dpop_nonce") and stale.headers["dpop-nonce"] != nonce


def test_a_client_registered_for_dpop_must_send_a_proof(bench: Bench) -> None:
    rp = _machine(bench, dpop_bound_access_tokens=True)
    assert _refused(_cc(bench, rp, None), "invalid_request")
    key = ECKey.generate_key("P-256")
    assert _cc(bench, rp, proof(key, "POST", TOKEN_URL, nonce=_nonce(bench))).status_code == 200
    # Other clients may still use plain bearer tokens; the fast path is unchanged.
    plain = _cc(bench, _machine(bench), None)
    assert plain.status_code == 200 and plain.json()["token_type"] == "Bearer"


def _public_tokens(bench: Bench, key: Any, nonce: str) -> tuple[NewClient, dict[str, Any]]:
    spa = bench.register(name="公众号应用", auth_method="none")
    result = bench.code_flow(spa)
    data = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": bench.verifier,
        "client_id": spa.client_id,
    }
    answer = bench.client.post("/token", data=data, headers={"DPoP": proof(key, "POST", TOKEN_URL, nonce=nonce)})
    assert answer.status_code == 200, answer.text
    return spa, dict(answer.json())


def _refresh(bench: Bench, spa: NewClient, refresh_token: str, dpop: str | None) -> Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": spa.client_id}
    return bench.client.post("/token", data=data, headers={"DPoP": dpop} if dpop else None)


def test_public_clients_refresh_tokens_are_bound_to_the_key(bench: Bench) -> None:
    key, nonce = ECKey.generate_key("P-256"), _nonce(bench)
    spa, tokens = _public_tokens(bench, key, nonce)
    assert tokens["token_type"] == "DPoP" and _claims(tokens["access_token"])["cnf"]["jkt"] == key.thumbprint()
    thief = ECKey.generate_key("P-256")
    stolen = _refresh(bench, spa, tokens["refresh_token"], proof(thief, "POST", TOKEN_URL, nonce=nonce))
    assert _refused(stolen, "invalid_grant")
    assert _refused(_refresh(bench, spa, tokens["refresh_token"], None), "invalid_grant")
    # The refusals used nothing up: the holder of the key refreshes.
    renewed = _refresh(bench, spa, tokens["refresh_token"], proof(key, "POST", TOKEN_URL, nonce=nonce))
    assert renewed.status_code == 200 and renewed.json()["token_type"] == "DPoP"
    second = renewed.json()["refresh_token"]
    assert _refused(_refresh(bench, spa, second, proof(thief, "POST", TOKEN_URL, nonce=nonce)), "invalid_grant")


def _userinfo(bench: Bench, authorization: str, dpop: str | None = None) -> Response:
    headers = {"Authorization": authorization}
    if dpop:
        headers["DPoP"] = dpop
    return bench.client.get("/userinfo", headers=headers)


def _challenge_error(response: Response) -> str:
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") and 'algs="' in challenge, challenge
    return challenge.split('error="', 1)[1].split('"', 1)[0]


def test_userinfo_and_introspection_honour_the_binding(bench: Bench) -> None:
    key, nonce = ECKey.generate_key("P-256"), _nonce(bench)
    _, tokens = _public_tokens(bench, key, nonce)
    at = tokens["access_token"]
    ok = _userinfo(bench, f"DPoP {at}", proof(key, "GET", USERINFO_URL, token=at))
    assert ok.status_code == 200 and ok.json()["sub"]
    other = ECKey.generate_key("P-256")
    refusals = {
        "bearer downgrade": (_userinfo(bench, f"Bearer {at}"), "invalid_token"),
        "no proof": (_userinfo(bench, f"DPoP {at}"), "invalid_dpop_proof"),
        "other key": (
            _userinfo(bench, f"DPoP {at}", proof(other, "GET", USERINFO_URL, token=at)),
            "invalid_dpop_proof",
        ),
        "no ath": (_userinfo(bench, f"DPoP {at}", proof(key, "GET", USERINFO_URL)), "invalid_dpop_proof"),
        "wrong ath": (
            _userinfo(bench, f"DPoP {at}", proof(key, "GET", USERINFO_URL, token=at + "x")),
            "invalid_dpop_proof",
        ),
        "htm": (_userinfo(bench, f"DPoP {at}", proof(key, "POST", USERINFO_URL, token=at)), "invalid_dpop_proof"),
        "htu": (_userinfo(bench, f"DPoP {at}", proof(key, "GET", TOKEN_URL, token=at)), "invalid_dpop_proof"),
    }
    for name, (response, error) in refusals.items():
        assert response.status_code == 401 and _challenge_error(response) == error, name
    replay = proof(key, "GET", USERINFO_URL, token=at)
    assert _userinfo(bench, f"DPoP {at}", replay).status_code == 200
    assert _challenge_error(_userinfo(bench, f"DPoP {at}", replay)) == "invalid_dpop_proof"
    # An unbound token presented with the DPoP scheme is not a DPoP token.
    plain = bench.tokens()["access_token"]
    unbound = _userinfo(bench, f"DPoP {plain}", proof(key, "GET", USERINFO_URL, token=plain))
    assert _challenge_error(unbound) == "invalid_token"
    # Introspection (RFC 9449 §6.2): the binding and the token type.
    mine = _machine(bench)
    cc = _cc(bench, mine, proof(key, "POST", TOKEN_URL, nonce=nonce)).json()["access_token"]
    seen = bench.client.post("/introspect", data={"token": cc}, auth=(mine.client_id, mine.client_secret or "")).json()
    assert seen["active"] is True and seen["cnf"] == {"jkt": key.thumbprint()} and seen["token_type"] == "DPoP"


def test_signing_api_bearer_check_honours_the_binding(bench: Bench) -> None:
    rp, key = _machine(bench), ECKey.generate_key("P-256")
    at = _cc(bench, rp, proof(key, "POST", TOKEN_URL, nonce=_nonce(bench))).json()["access_token"]
    url = f"{ISSUER}/csc/v2/credentials/list"
    downgrade = bench.client.post(url, json={}, headers={"Authorization": f"Bearer {at}"})
    assert downgrade.status_code == 401 and _challenge_error(downgrade) == "invalid_token"
    wrong = proof(ECKey.generate_key("P-256"), "POST", url, token=at)
    refused = bench.client.post(url, json={}, headers={"Authorization": f"DPoP {at}", "DPoP": wrong})
    assert refused.status_code == 401 and _challenge_error(refused) == "invalid_dpop_proof"
    good = bench.client.post(
        url, json={}, headers={"Authorization": f"DPoP {at}", "DPoP": proof(key, "POST", url, token=at)}
    )
    assert good.status_code == 200, good.text


def test_dpop_jkt_binds_the_authorization_code(bench: Bench) -> None:
    key, thief, nonce = ECKey.generate_key("P-256"), ECKey.generate_key("P-256"), _nonce(bench)
    result = bench.code_flow(dpop_jkt=key.thumbprint())
    stolen = bench.client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": bench.verifier,
        },
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
        headers={"DPoP": proof(thief, "POST", TOKEN_URL, nonce=nonce)},
    )
    assert _refused(stolen, "invalid_grant")
    assert _refused(bench.exchange(result["code"]), "invalid_grant")  # no proof at all
    owner = bench.client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": bench.verifier,
        },
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
        headers={"DPoP": proof(key, "POST", TOKEN_URL, nonce=nonce)},
    )
    assert owner.status_code == 200 and owner.json()["token_type"] == "DPoP"
    # A confidential client's refresh token is not bound (§5): it refreshes without a proof.
    refreshed = bench.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": owner.json()["refresh_token"]},
        auth=(bench.rp.client_id, bench.rp.client_secret or ""),
    )
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "Bearer"


def test_a_proof_at_par_binds_the_code(bench: Bench) -> None:
    key, thief = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    par_url = f"{ISSUER}/par"
    auth = (bench.rp.client_id, bench.rp.client_secret or "")
    mismatch = bench.client.post(
        "/par",
        data=bench.auth_params(dpop_jkt=thief.thumbprint()),
        auth=auth,
        headers={"DPoP": proof(key, "POST", par_url)},
    )
    assert _refused(mismatch)
    params = bench.auth_params()
    pushed = bench.client.post("/par", data=params, auth=auth, headers={"DPoP": proof(key, "POST", par_url)})
    assert pushed.status_code == 201, pushed.text
    first = bench.authorize(client_id=bench.rp.client_id, request_uri=pushed.json()["request_uri"])
    final = bench.follow(bench.sign_in(first.headers["location"]))
    code = final.headers["location"].split("code=", 1)[1].split("&", 1)[0]
    assert _refused(bench.exchange(code), "invalid_grant")
