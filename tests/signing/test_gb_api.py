"""The signing API with OFD documents and national-format seals: a client seals an OFD with its gb38540 seal
through `POST /signing/v1/seals/{id}/sign`, anyone verifies it with `POST /signing/v1/verify`, and the policy
refuses other clients exactly as for PDF. Real HTTP through the app, tokens from our own /token."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.app import create_app
from idp.oauth.clients import NewClient, create_client
from idp.records import organisations
from idp.runtime import Runtime
from idp.settings import Settings
from signing import gb_seals, seal_image
from signing.models import SignatureRecord
from signing.ofd_sample import one_page_ofd
from signing.policy import Policy
from tests.signing.national_kit import audit_sink, gb_context

USCC = "91110000600037341L"
OFD = one_page_ofd()


@pytest.fixture(scope="module")
def client(module_rt: Runtime, module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings)) as c:
        yield c


def _token(client: TestClient, app: NewClient) -> str:
    got = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "seal"},
        auth=(app.client_id, app.client_secret or ""),
    )
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


@pytest.fixture(scope="module")
def world(module_rt: Runtime, client: TestClient) -> dict[str, Any]:
    rt = module_rt
    authority = gb_context(rt).authority  # before the write transaction: SQLite has one writer
    with rt.transaction() as session:
        portal = create_client(
            session, name="公文系统", grant_types=["client_credentials"], scopes=["seal"], redirect_uris=[]
        )
        other = create_client(
            session, name="别的系统", grant_types=["client_credentials"], scopes=["seal"], redirect_uris=[]
        )
        org = organisations.add(
            session, rt.protector, rt.uscc_rules, uscc=USCC, name="某某市人民政府办公室", kind="department"
        )
        seal = gb_seals.create(
            session,
            authority,
            rt.master,
            audit_sink,
            org_id=org.id,
            org_name=org.name,
            uscc=org.uscc,
            seal_type="official",
            seal_name=f"{org.name}公章",
            policy=Policy(clients=frozenset({portal.client_id}), document_kinds=frozenset({"notice"})),
            image_png=seal_image.draw_seal(org.name, "公章"),
            image_source="drawn",
            validity=timedelta(days=365),
        )
    return {"seal": seal.id, "token": _token(client, portal), "other": _token(client, other)}


def upload(data: bytes = OFD, **fields: str) -> dict[str, Any]:
    return {"files": {"file": ("doc.ofd", data, "application/ofd")}, "data": fields}


def records(rt: Runtime) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.count()).select_from(SignatureRecord)) or 0


def test_a_client_seals_an_ofd_and_anyone_verifies_it(
    client: TestClient, world: dict[str, Any], module_rt: Runtime
) -> None:
    before = records(module_rt)
    sealed = client.post(
        f"/signing/v1/seals/{world['seal']}/sign",
        headers={"Authorization": f"Bearer {world['token']}"},
        **upload(kind="notice", x="20", y="240", width="40"),
    )
    assert sealed.status_code == 200, sealed.text
    assert sealed.headers["content-type"] == "application/ofd" and sealed.headers["x-seal-level"] == "SES-T"
    assert sealed.headers["x-timestamp-serial"] and records(module_rt) == before + 1
    names = zipfile.ZipFile(io.BytesIO(sealed.content)).namelist()
    assert "Doc_0/Signs/Sign_0/SignedValue.dat" in names
    report = client.post("/signing/v1/verify", **upload(sealed.content))
    assert report.status_code == 200
    body = report.json()
    assert body["format"] == "ofd" and body["valid"], body
    assert body["signatures"][0]["boundary"] == "20 240 40 40"


def test_policy_refuses_other_clients_and_kinds_and_bad_packages(
    client: TestClient, world: dict[str, Any], module_rt: Runtime
) -> None:
    before = records(module_rt)
    url = f"/signing/v1/seals/{world['seal']}/sign"
    assert client.post(url, **upload(kind="notice")).status_code == 401
    other = client.post(url, headers={"Authorization": f"Bearer {world['other']}"}, **upload(kind="notice"))
    assert other.status_code == 403 and "does not allow client" in other.json()["detail"]
    kind = client.post(url, headers={"Authorization": f"Bearer {world['token']}"}, **upload(kind="contract"))
    assert kind.status_code == 403 and "kind contract" in kind.json()["detail"]
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("OFD.xml", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    bad = client.post(
        url, headers={"Authorization": f"Bearer {world['token']}"}, **upload(broken.getvalue(), kind="notice")
    )
    assert bad.status_code == 422 and "DTD" in bad.json()["detail"]
    assert client.post("/signing/v1/verify", **upload(broken.getvalue())).status_code == 422
    assert records(module_rt) == before
