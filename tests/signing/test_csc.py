"""The CSC API v2 over real HTTP (uvicorn on a free port), driven by pyHanko's `CSCSigner` as the independent
client: it fetches the credential, asks `credentials/authorize` for a SAD bound to its hash (SCAL2) and calls
`signatures/signHash`; the PDF it produces must verify. Then the SCAL2 refusals, and signDoc."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from typing import Any

import aiohttp
import httpx
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCCredentialInfo,
    CSCServiceSessionInfo,
    CSCSigner,
    fetch_certs_in_csc_credential,
)
from sqlalchemy import func, select

from idp.oauth.clients import ClientCache, NewClient, create_client
from idp.records import organisations
from idp.runtime import Runtime
from signing import seals, verify
from signing.context import SigningContext
from signing.models import SignatureRecord
from signing.policy import Policy
from signing.sample import one_page_pdf

USCC = "91110000600037341L"
PDF = one_page_pdf()


class AuthorizeEachTime(CSCAuthorizationManager):  # type: ignore[misc]
    """SCAL2: ask credentials/authorize for a SAD bound to exactly the hashes about to be signed."""

    def __init__(self, info: CSCServiceSessionInfo, credential: CSCCredentialInfo, session: aiohttp.ClientSession):
        super().__init__(info, credential)
        self.session = session

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        request = self.format_csc_auth_request(hash_b64s=hash_b64s)
        url = self.csc_session_info.endpoint_url("credentials/authorize")
        async with self.session.post(url, json=request, headers=self.auth_headers, raise_for_status=True) as reply:
            return self.parse_csc_auth_response(await reply.json())


@pytest.fixture(scope="module")
def world(server: str, module_rt: Runtime, ctx: SigningContext) -> Any:
    rt = module_rt
    with rt.transaction() as session:
        app = create_client(
            session, name="签章服务", redirect_uris=[], grant_types=["client_credentials"], scopes=["seal"]
        )
        other = create_client(
            session, name="别人", redirect_uris=[], grant_types=["client_credentials"], scopes=["seal"]
        )
        organisations.add(session, rt.protector, rt.uscc_rules, uscc=USCC, name="某某市财政局", kind="department")
        seal = seals.create(
            session,
            ctx,
            uscc=USCC,
            seal_type="official",
            policy=Policy(clients=frozenset({app.client_id})),
        )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ClientCache, "TTL", 3600.0)  # see test_api.py: bearer.py's nested transaction on SQLite
        yield {
            "app": app,
            "other": other,
            "seal": seal.id,
            "token": token(server, app),
            "other_token": token(server, other),
        }


def token(server: str, app: NewClient) -> str:
    got = httpx.post(
        f"{server}/token",
        data={"grant_type": "client_credentials", "scope": "seal"},
        auth=(app.client_id, app.client_secret or ""),
    )
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


def call(server: str, world: Any, endpoint: str, body: dict[str, Any], which: str = "token") -> httpx.Response:
    return httpx.post(
        f"{server}/csc/v2/{endpoint}", json=body, headers={"Authorization": f"Bearer {world[which]}"}, timeout=30
    )


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_info_and_credentials(server: str, world: Any) -> None:
    info = httpx.post(f"{server}/csc/v2/info").json()
    assert info["specs"].startswith("2.") and "signatures/signHash" in info["methods"]
    assert set(info) >= {
        "name",
        "region",
        "lang",
        "authType",
        "oauth2",
        "signAlgorithms",
        "signature_formats",
        "conformance_levels",
    }
    assert call(server, world, "credentials/list", {}).json()["credentialIDs"] == [world["seal"]]
    assert call(server, world, "credentials/list", {}, "other_token").json()["credentialIDs"] == []
    described = call(server, world, "credentials/info", {"credentialID": world["seal"]}).json()
    assert (
        described["SCAL"] == "2"
        and described["key"]["status"] == "enabled"
        and len(described["cert"]["certificates"]) == 3
    )
    refused = call(server, world, "credentials/info", {"credentialID": world["seal"]}, "other_token")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert httpx.post(f"{server}/csc/v2/credentials/list", json={}).status_code == 401


def test_pyhanko_csc_signer_makes_a_valid_seal(
    server: str, world: Any, ctx: SigningContext, module_rt: Runtime
) -> None:
    async def run() -> bytes:
        async with aiohttp.ClientSession() as session:
            info = CSCServiceSessionInfo(
                service_url=server, credential_id=world["seal"], oauth_token=world["token"], api_ver="v2"
            )
            credential = await fetch_certs_in_csc_credential(session, info)
            assert credential.hash_pinning_required  # SCAL2 understood by the client
            signer = CSCSigner(session, auth_manager=AuthorizeEachTime(info, credential, session))
            meta = signers.PdfSignatureMetadata(
                field_name="CSC", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
            )
            out = await signers.PdfSigner(meta, signer=signer).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(PDF)))
            return bytes(out.getvalue())

    with module_rt.transaction() as session:
        before = session.scalar(
            select(func.count()).select_from(SignatureRecord).where(SignatureRecord.level == "hash")
        )
    signed = asyncio.run(run())
    with module_rt.transaction() as session:
        trust = verify.trust_from(session, ctx.authority)
        after = session.scalar(select(func.count()).select_from(SignatureRecord).where(SignatureRecord.level == "hash"))
    report = verify.verify_pdf(signed, trust)
    assert report.valid, report
    assert report.signatures[0].uscc == USCC and report.signatures[0].trusted
    assert after == (before or 0) + 1


def test_scal2_binds_the_sad_to_its_hashes(server: str, world: Any) -> None:
    good, other = b64_sha256(b"document one"), b64_sha256(b"document two")
    sad = call(
        server, world, "credentials/authorize", {"credentialID": world["seal"], "numSignatures": 1, "hashes": [good]}
    ).json()["SAD"]
    sign = {
        "credentialID": world["seal"],
        "SAD": sad,
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
        "signAlgo": "1.2.840.10045.4.3.2",
    }
    stranger = call(server, world, "signatures/signHash", {**sign, "hashes": [good]}, "other_token")
    assert stranger.status_code == 400
    swapped = call(server, world, "signatures/signHash", {**sign, "hashes": [other]})
    assert swapped.status_code == 400 and "not authorised" in swapped.json()["error_description"]
    done = call(server, world, "signatures/signHash", {**sign, "hashes": [good]})
    assert done.status_code == 200 and len(done.json()["signatures"]) == 1
    again = call(server, world, "signatures/signHash", {**sign, "hashes": [good]})
    assert again.status_code == 400  # each hash once; the SAD is spent
    too_many = call(
        server, world, "credentials/authorize", {"credentialID": world["seal"], "numSignatures": 2, "hashes": [good]}
    )
    assert too_many.status_code == 400
    wrong_algo = call(
        server, world, "credentials/authorize", {"credentialID": world["seal"], "numSignatures": 1, "hashes": [good]}
    )
    bad = call(
        server,
        world,
        "signatures/signHash",
        {**sign, "SAD": wrong_algo.json()["SAD"], "hashes": [good], "signAlgo": "1.2.840.113549.1.1.11"},
    )
    assert bad.status_code == 400 and "signAlgo" in bad.json()["error_description"]


def test_sign_doc_returns_pades(server: str, world: Any, ctx: SigningContext, module_rt: Runtime) -> None:
    sad = call(
        server,
        world,
        "credentials/authorize",
        {"credentialID": world["seal"], "numSignatures": 1, "hashes": [b64_sha256(PDF)]},
    ).json()["SAD"]
    other = one_page_pdf(("not the authorised one",))
    body = {
        "credentialID": world["seal"],
        "SAD": sad,
        "documents": [
            {"document": base64.b64encode(other).decode(), "signature_format": "P", "conformance_level": "Ades-B-T"}
        ],
    }
    assert call(server, world, "signatures/signDoc", body).status_code == 400
    body["documents"][0]["document"] = base64.b64encode(PDF).decode()
    done = call(server, world, "signatures/signDoc", body)
    assert done.status_code == 200, done.text
    signed = base64.b64decode(done.json()["DocumentWithSignature"][0])
    with module_rt.transaction() as session:
        trust = verify.trust_from(session, ctx.authority)
    report = verify.verify_pdf(signed, trust)
    assert report.valid and report.signatures[0].timestamp is not None
