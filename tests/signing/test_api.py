"""The signing HTTP API in-process (TestClient, lifespan included): organisation seals under policy with
client_credentials tokens from our own /token, records, verification, and a citizen's confirmed signature."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.app import create_app
from idp.oauth import sessions
from idp.oauth.clients import ClientCache, NewClient, create_client
from idp.oauth.signer import TokenSigner
from idp.oauth.tokens import AT_TYP, access_token_claims
from idp.records import organisations, people
from idp.runtime import Runtime
from idp.settings import Settings
from signing import pades, seals
from signing.context import SigningContext
from signing.models import SignatureRecord, SignConfirmation
from signing.policy import Policy
from signing.sample import one_page_pdf

USCC = "91110000600037341L"
OTHER_USCC = "91350100M000100Y43"
ID_NUMBER = "11010519491231002X"
OTHER_ID = "110105198001010016"
NAME = "张三"
LOA3 = "urn:yiwang:loa:3"


@pytest.fixture(scope="module")
def client(module_rt: Runtime, module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings)) as c:
        yield c


def _register(rt: Runtime, **kwargs: Any) -> NewClient:
    kwargs.setdefault("redirect_uris", [])
    with rt.transaction() as session:
        return create_client(session, **kwargs)


def _cc_token(client: TestClient, app: NewClient, scope: str = "seal") -> str:
    got = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(app.client_id, app.client_secret or ""),
    )
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


@pytest.fixture(scope="module")
def world(module_rt: Runtime, ctx: SigningContext, client: TestClient) -> dict[str, Any]:
    rt = module_rt
    portal = _register(rt, name="合同系统", grant_types=["client_credentials"], scopes=["seal"])
    stranger = _register(rt, name="别的系统", grant_types=["client_credentials"], scopes=["seal", "sign"])
    with rt.transaction() as session:
        organisations.add(
            session, rt.protector, rt.uscc_rules, uscc=USCC, name="北京某某科技有限公司", kind="enterprise"
        )
        organisations.add(
            session, rt.protector, rt.uscc_rules, uscc=OTHER_USCC, name="福州某某有限公司", kind="enterprise"
        )
        allowed = seals.create(
            session,
            ctx,
            uscc=USCC,
            seal_type="contract",
            policy=Policy(clients=frozenset({portal.client_id})),
        )
        other = seals.create(
            session,
            ctx,
            uscc=OTHER_USCC,
            seal_type="official",
            policy=Policy(clients=frozenset({stranger.client_id})),
        )
        person = people.add(session, rt.protector, id_number=ID_NUMBER, name=NAME)
        someone = people.add(session, rt.protector, id_number=OTHER_ID, name="李四")
    return {
        "portal": portal,
        "stranger": stranger,
        "seal": allowed.id,
        "other_seal": other.id,
        "person": person.id,
        "someone": someone.id,
        "token": _cc_token(client, portal),
        "stranger_token": _cc_token(client, stranger),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def records(rt: Runtime) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.count()).select_from(SignatureRecord)) or 0


PDF = one_page_pdf()


def upload(data: bytes = PDF, **fields: str) -> dict[str, Any]:
    return {"files": {"file": ("doc.pdf", data, "application/pdf")}, "data": fields}


# --- organisation seals ------------------------------------------------------------------------------------


def test_a_client_seals_a_pdf_and_anyone_verifies_it(
    client: TestClient, world: dict[str, Any], module_rt: Runtime
) -> None:
    before = records(module_rt)
    sealed = client.post(
        f"/signing/v1/seals/{world['seal']}/sign",
        headers=bearer(world["token"]),
        **upload(page="1", x="60", y="60", width="140", kind="contract"),
    )
    assert sealed.status_code == 200, sealed.text
    assert sealed.headers["content-type"] == "application/pdf"
    assert sealed.headers["x-pades-level"] == "B-LT" and sealed.headers["x-timestamp-serial"]
    assert sealed.headers["x-document-sha256"] == hashlib.sha256(PDF).hexdigest()
    assert records(module_rt) == before + 1

    report = client.post("/signing/v1/verify", **upload(sealed.content))
    assert report.status_code == 200
    body = report.json()
    assert body["valid"] and body["signatures"][0]["uscc"] == USCC and body["signatures"][0]["long_term"]

    listed = client.get("/signing/v1/signatures", params={"org": USCC}, headers=bearer(world["token"]))
    assert listed.status_code == 200
    (record,) = [r for r in listed.json()["signatures"] if r["id"] == sealed.headers["x-signature-record"]]
    assert record["requester"] == world["portal"].client_id and record["document_kind"] == "contract"
    assert record["tsa_serial"] == sealed.headers["x-timestamp-serial"]
    usable = client.get("/signing/v1/seals", headers=bearer(world["token"])).json()["seals"]
    assert [s["id"] for s in usable] == [world["seal"]]


def test_policy_and_tokens_are_enforced(client: TestClient, world: dict[str, Any], module_rt: Runtime) -> None:
    before = records(module_rt)
    url = f"/signing/v1/seals/{world['seal']}/sign"
    anonymous = client.post(url, **upload())
    # RFC 6750 §3.1: without credentials the challenge carries no error code; with a bad token it does.
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == 'Bearer realm="yiwang"'
    bad = client.post(url, headers=bearer("not-a-token"), **upload())
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    forbidden = client.post(url, headers=bearer(world["stranger_token"]), **upload())
    assert forbidden.status_code == 403 and "does not allow client" in forbidden.json()["detail"]
    sign_only = _cc_token(client, world["stranger"], scope="sign")
    assert client.post(url, headers=bearer(sign_only), **upload()).status_code == 403  # insufficient scope
    other = client.get("/signing/v1/signatures", params={"org": OTHER_USCC}, headers=bearer(world["token"]))
    assert other.status_code == 403
    assert records(module_rt) == before


def test_bad_uploads_are_clear_errors_and_leave_nothing(
    client: TestClient, world: dict[str, Any], module_rt: Runtime, ctx: SigningContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = records(module_rt)
    url = f"/signing/v1/seals/{world['seal']}/sign"
    auth = bearer(world["token"])
    assert client.post(url, headers=auth, **upload(b"just text")).status_code == 422
    assert client.post(url, headers=auth, **upload(PDF[: len(PDF) // 2])).status_code == 422
    assert client.post(url, headers=auth, data={"page": "1"}).status_code == 400  # no file
    assert client.post(url, headers=auth, **upload(page="9")).status_code == 400
    unknown = client.post("/signing/v1/seals/00000000-0000-0000-0000-000000000000/sign", headers=auth, **upload())
    assert unknown.status_code == 404
    with module_rt.transaction() as session:
        revoked = seals.create(
            session,
            ctx,
            uscc=USCC,
            seal_type="finance",
            policy=Policy(clients=frozenset({world["portal"].client_id})),
        )
        seals.revoke(session, ctx, revoked.id)
    assert client.post(f"/signing/v1/seals/{revoked.id}/sign", headers=auth, **upload()).status_code == 403
    monkeypatch.setattr(pades, "MAX_PDF_BYTES", 200)
    too_big = client.post(url, headers=auth, **upload())
    assert too_big.status_code == 413 and too_big.headers["content-type"].startswith("application/problem+json")
    assert records(module_rt) == before
    assert client.post("/signing/v1/verify", **upload(b"GIF89a")).status_code in (413, 422)


# --- a citizen's signature ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rp(module_rt: Runtime, world: dict[str, Any], client: TestClient) -> Iterator[NewClient]:
    made = _register(
        module_rt,
        name="办事大厅",
        redirect_uris=["https://rp.example/cb"],
        scopes=["openid", "sign"],
        subject_type="public",
    )
    # idp.web.bearer looks the client up (ClientCache, its own session) inside its own write transaction:
    # on SQLite the second BEGIN IMMEDIATE waits on the first until "database is locked". Keep the clients
    # cached until that is fixed there (reported to the bearer.py owner).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClientCache, "TTL", 3600.0)
        client.app.state.provider.clients.get(made.client_id)  # type: ignore[attr-defined]
        yield made


def person_token(rt: Runtime, rp: NewClient, person_id: str, acr: str = LOA3, age: int = 10) -> str:
    claims = access_token_claims(
        issuer=rt.settings.issuer,
        client_id=rp.client_id,
        sub=person_id,
        scope="openid sign",
        ttl=300,
        acr=acr,
        auth_time=int(time.time()) - age,
    )
    return TokenSigner(rt).sign(claims, typ=AT_TYP)


def sso_cookie(rt: Runtime, person_id: str, acr: str = LOA3) -> str:
    with rt.transaction() as session:
        value, _ = sessions.create(session, person_id, acr, ["face", "mfa"], ttl=600)
    return value


def test_citizen_signs_after_confirming_that_document(
    client: TestClient, world: dict[str, Any], rp: NewClient, module_rt: Runtime
) -> None:
    rt = module_rt
    token = person_token(rt, rp, world["person"])
    started = client.post("/signing/v1/sign", headers=bearer(token), **upload())
    assert started.status_code == 202, started.text
    pending = started.json()
    assert pending["document_sha256"] == hashlib.sha256(PDF).hexdigest()
    path = pending["confirm_url"].removeprefix(rt.settings.issuer)
    confirmation = pending["confirmation"]

    # Not yet confirmed: nothing can be signed.
    early = client.post("/signing/v1/sign", headers=bearer(token), **upload(confirmation=confirmation))
    assert early.status_code == 403

    # The page: only for the person it was sent to, signed in at loa:3.
    client.cookies.clear()
    assert client.get(path, headers={"accept": "text/html"}).status_code == 401
    client.cookies.set(sessions.COOKIE, sso_cookie(rt, world["someone"]))
    assert client.get(path).status_code == 403
    client.cookies.set(sessions.COOKIE, sso_cookie(rt, world["person"], acr="urn:yiwang:loa:2"))
    assert client.get(path).status_code == 403
    client.cookies.set(sessions.COOKIE, sso_cookie(rt, world["person"]))
    page = client.get(path)
    assert page.status_code == 200 and pending["document_sha256"] in page.text
    document_url = re.search(r'src="([^"]+)"', page.text)
    assert document_url is not None
    shown = client.get(document_url.group(1).replace("&amp;", "&"))
    assert shown.status_code == 200 and shown.content == PDF
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    secret = re.search(r'name="k" value="([^"]+)"', page.text)
    assert csrf and secret
    form = {"k": secret.group(1), "csrf": csrf.group(1)}
    wrong = client.post(f"/signing/v1/confirm/{confirmation}", data={**form, "document_sha256": "0" * 64})
    assert wrong.status_code == 403
    no_csrf = client.post(
        f"/signing/v1/confirm/{confirmation}", data={**form, "csrf": "x", "document_sha256": pending["document_sha256"]}
    )
    assert no_csrf.status_code == 400
    done = client.post(
        f"/signing/v1/confirm/{confirmation}", data={**form, "document_sha256": pending["document_sha256"]}
    )
    assert done.status_code == 200 and "已确认" in done.text
    client.cookies.clear()

    # The confirmation signs that document only, once.
    other_doc = one_page_pdf(("a different document",))
    swapped = client.post("/signing/v1/sign", headers=bearer(token), **upload(other_doc, confirmation=confirmation))
    assert swapped.status_code == 403 and "differs" in swapped.json()["detail"]
    before = records(rt)
    signed = client.post("/signing/v1/sign", headers=bearer(token), **upload(confirmation=confirmation))
    assert signed.status_code == 200, signed.text
    assert records(rt) == before + 1
    again = client.post("/signing/v1/sign", headers=bearer(token), **upload(confirmation=confirmation))
    assert again.status_code == 409
    with rt.transaction() as session:
        row = session.get(SignConfirmation, confirmation)
        assert row is not None and row.status == "signed" and row.document_ct == b""
        record = session.get(SignatureRecord, signed.headers["x-signature-record"])
        assert record is not None and record.person_id == world["person"] and record.seal_id is None

    report = client.post("/signing/v1/verify", **upload(signed.content)).json()
    (sig,) = report["signatures"]
    assert report["valid"] and sig["signer"] == NAME and sig["uscc"] is None
    assert ID_NUMBER not in signed.content.decode("latin-1")  # the certificate names the person, not the ID


def test_citizen_signature_needs_a_fresh_loa3_person_token(
    client: TestClient, world: dict[str, Any], rp: NewClient, module_rt: Runtime
) -> None:
    rt = module_rt
    refusals = {
        "loa2": person_token(rt, rp, world["person"], acr="urn:yiwang:loa:2"),
        "stale": person_token(rt, rp, world["person"], age=600),
        "machine": _cc_token(client, world["stranger"], scope="sign"),
    }
    with rt.transaction() as session:
        before = session.scalar(select(func.count()).select_from(SignConfirmation))
    for label, token in refusals.items():
        refused = client.post("/signing/v1/sign", headers=bearer(token), **upload())
        assert refused.status_code == 403, (label, refused.text)
    with rt.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SignConfirmation)) == before
