"""RFC 8693 token exchange: a department's back end acting for a citizen at another department's API. Each limit
(audience, scope, lifetime, act) has a test that fails without it; every refusal issues nothing and audits nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from idp.audit.events import AuditEvent
from idp.errors import InvalidInput
from idp.oauth import tokens
from idp.oauth.clients import EXCHANGE_GRANT, NewClient, create_client
from idp.oauth.signer import InvalidToken, TokenSigner
from tests.oauth.conftest import ISSUER, Bench, forge

TAX_API = "https://api.tax.example"
HEALTH_API = "https://api.health.example"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def _department(bench: Bench, **extra: Any) -> NewClient:
    extra.setdefault("exchange_audiences", [TAX_API])
    extra.setdefault("exchange_scopes", ["openid", "profile"])
    return bench.register(
        name=extra.pop("name", "社保局"),
        grant_types=["authorization_code", "refresh_token", EXCHANGE_GRANT],
        **extra,
    )


def _exchange(bench: Bench, rp: NewClient, subject_token: str, **params: Any) -> Any:
    data: dict[str, Any] = {
        "grant_type": EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": ACCESS,
        "audience": TAX_API,
    }
    data.update(params)
    data = {k: v for k, v in data.items() if v is not None}
    assert rp.client_secret
    return bench.client.post("/token", data=data, auth=(rp.client_id, rp.client_secret))


def _claims(bench: Bench, token: str) -> dict[str, Any]:
    return TokenSigner(bench.rt).verify(token, typ="at+jwt")


def _exchanges_audited(bench: Bench) -> int:
    with bench.rt.transaction() as session:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "oauth.token_exchange")
        return int(session.scalar(query) or 0)


def _citizen_token(bench: Bench, rp: NewClient, scope: str = "openid profile phone") -> str:
    return str(bench.tokens(rp, scope=scope)["access_token"])


def test_discovery_lists_the_grant(bench: Bench) -> None:
    meta = bench.client.get("/.well-known/openid-configuration").json()
    assert EXCHANGE_GRANT in meta["grant_types_supported"]


def test_exchange_gives_a_token_for_the_other_api_naming_the_actor(bench: Bench) -> None:
    dept = _department(bench)
    subject = _citizen_token(bench, dept)
    response = _exchange(bench, dept, subject)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer"
    new, old = _claims(bench, body["access_token"]), _claims(bench, subject)
    assert new["aud"] == TAX_API and new["sub"] == old["sub"] and new["act"] == {"sub": dept.client_id}
    assert set(new["scope"].split()) == {"openid", "profile"}  # the subject's scope ∩ the client's allowance
    assert new["exp"] <= old["exp"] and new["acr"] == old["acr"]
    assert _exchanges_audited(bench) == 1


def test_an_audience_not_registered_is_invalid_target(bench: Bench) -> None:
    dept = _department(bench)
    subject = _citizen_token(bench, dept)
    for params in ({"audience": HEALTH_API}, {"audience": None, "resource": HEALTH_API}):
        response = _exchange(bench, dept, subject, **params)
        assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    both = _exchange(bench, dept, subject, audience=[TAX_API, HEALTH_API])
    assert both.json()["error"] == "invalid_target"
    assert _exchanges_audited(bench) == 0


def test_resource_alone_names_the_target(bench: Bench) -> None:
    dept = _department(bench)
    subject = _citizen_token(bench, dept)
    response = _exchange(bench, dept, subject, audience=None, resource=TAX_API)
    assert response.status_code == 200 and _claims(bench, response.json()["access_token"])["aud"] == TAX_API
    assert _exchange(bench, dept, subject, audience=None).json()["error"] == "invalid_request"


def test_scope_never_grows(bench: Bench) -> None:
    dept = _department(bench, exchange_scopes=["openid", "profile", "phone"])
    subject = _citizen_token(bench, dept, scope="openid profile")
    # phone: allowed for the client, but not in the subject token.
    wider = _exchange(bench, dept, subject, scope="openid phone")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    narrower = _exchange(bench, dept, subject, scope="profile")
    assert narrower.status_code == 200 and _claims(bench, narrower.json()["access_token"])["scope"] == "profile"
    assert _exchanges_audited(bench) == 1


def test_scope_stays_within_the_clients_registration(bench: Bench) -> None:
    dept = _department(bench, exchange_scopes=["openid"])
    subject = _citizen_token(bench, dept, scope="openid profile phone")
    refused = _exchange(bench, dept, subject, scope="openid profile")
    assert refused.json()["error"] == "invalid_scope"
    default = _exchange(bench, dept, subject)
    assert _claims(bench, default.json()["access_token"])["scope"] == "openid"


def test_the_new_token_never_outlives_the_subject(bench: Bench) -> None:
    dept = _department(bench)
    subject = _citizen_token(bench, dept)
    subject_exp = _claims(bench, subject)["exp"]
    with time_machine.travel(time.time() + 500, tick=False):  # 100 s left of the subject's 600
        response = _exchange(bench, dept, subject)
        assert response.status_code == 200, response.text
        new = _claims(bench, response.json()["access_token"])
        assert new["exp"] == subject_exp and response.json()["expires_in"] <= 100


def _chain(bench: Bench) -> tuple[NewClient, NewClient]:
    """A department that may exchange for the tax bureau's back end, which may exchange on for the health API."""
    tax_backend = bench.register(
        name="税务局后台",
        redirect_uris=[],
        grant_types=[EXCHANGE_GRANT],
        scopes=[],
        exchange_audiences=[HEALTH_API],
        exchange_scopes=["openid", "profile"],
    )
    return tax_backend, _department(bench, exchange_audiences=[TAX_API, tax_backend.client_id])


def test_act_is_nested_along_a_chain(bench: Bench) -> None:
    tax_backend, dept = _chain(bench)
    subject = _citizen_token(bench, dept)
    first = _exchange(bench, dept, subject, audience=tax_backend.client_id).json()["access_token"]
    second = _exchange(bench, tax_backend, first, audience=HEALTH_API)
    assert second.status_code == 200, second.text
    act = _claims(bench, second.json()["access_token"])["act"]
    assert act == {"sub": tax_backend.client_id, "act": {"sub": dept.client_id}}


def test_revoked_expired_foreign_and_forged_subject_tokens_are_refused(bench: Bench) -> None:
    dept = _department(bench)
    other = _department(bench, name="另一部门")
    subject = _citizen_token(bench, dept)
    # Issued to another client: that client's token is not this one's to exchange.
    foreign = _exchange(bench, other, subject)
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_request"
    # Forged: our claims, signed by nobody.
    claims = _claims(bench, subject)
    forged = forge({"alg": "none", "typ": "at+jwt"}, {**claims, "exp": claims["exp"] + 3600}, None)
    assert _exchange(bench, dept, forged).json()["error"] == "invalid_request"
    with time_machine.travel(time.time() + 601, tick=False):
        assert _exchange(bench, dept, subject).json()["error"] == "invalid_request"
    assert dept.client_secret
    revoked = bench.client.post("/revoke", data={"token": subject}, auth=(dept.client_id, dept.client_secret))
    assert revoked.status_code == 200
    assert _exchange(bench, dept, subject).json()["error"] == "invalid_request"
    assert _exchanges_audited(bench) == 0


def test_a_clients_own_token_is_not_a_citizens(bench: Bench) -> None:
    dept = bench.register(
        name="机器客户端",
        redirect_uris=[],
        grant_types=["client_credentials", EXCHANGE_GRANT],
        scopes=["openid"],
        exchange_audiences=[TAX_API],
        exchange_scopes=["openid"],
    )
    assert dept.client_secret
    own = bench.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "openid"},
        auth=(dept.client_id, dept.client_secret),
    ).json()["access_token"]
    assert _exchange(bench, dept, own).json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "params",
    [
        {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"subject_token_type": None},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"actor_token": "x", "actor_token_type": ACCESS},
    ],
)
def test_malformed_requests_are_invalid_request(bench: Bench, params: dict[str, Any]) -> None:
    dept = _department(bench)
    subject = _citizen_token(bench, dept)
    response = _exchange(bench, dept, subject, **params)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert _exchanges_audited(bench) == 0


def test_a_client_without_the_grant_is_unauthorized(bench: Bench) -> None:
    subject = _citizen_token(bench, bench.rp)
    response = _exchange(bench, bench.rp, subject)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_registration_rules(bench: Bench) -> None:
    with bench.rt.transaction() as session:
        with pytest.raises(InvalidInput):
            create_client(session, name="x", grant_types=["client_credentials"], exchange_audiences=[TAX_API])
        with pytest.raises(InvalidInput):
            create_client(session, name="x", grant_types=[EXCHANGE_GRANT], exchange_audiences=[])
        with pytest.raises(InvalidInput):
            create_client(session, name="x", grant_types=[EXCHANGE_GRANT], exchange_audiences=["has space"])


def _live(bench: Bench, token: str) -> bool:
    with bench.rt.transaction() as session:
        try:
            tokens.verify_access_token(TokenSigner(bench.rt), session, token, ISSUER)
        except InvalidToken:
            return False
    return True


def test_revoking_a_token_revokes_every_token_exchanged_from_it_and_nothing_above(bench: Bench) -> None:
    tax_backend, dept = _chain(bench)
    subject = _citizen_token(bench, dept)
    first = _exchange(bench, dept, subject, audience=tax_backend.client_id).json()["access_token"]
    second = _exchange(bench, tax_backend, first, audience=HEALTH_API).json()["access_token"]
    sibling = _exchange(bench, dept, subject).json()["access_token"]
    assert all(_live(bench, t) for t in (subject, first, second, sibling))
    assert dept.client_secret
    # Revoking the middle of the chain (by the client it was issued to) ends what came from it, not what it
    # came from.
    bench.client.post("/revoke", data={"token": first}, auth=(dept.client_id, dept.client_secret))
    assert not _live(bench, first) and not _live(bench, second)
    assert _live(bench, subject) and _live(bench, sibling)
    bench.client.post("/revoke", data={"token": subject}, auth=(dept.client_id, dept.client_secret))
    assert not _live(bench, subject) and not _live(bench, sibling)
