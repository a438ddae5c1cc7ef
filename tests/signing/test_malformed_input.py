"""Malformed input is a 4xx (or, for commands, one line and a non-zero exit) with our own words, never a 500 or
a traceback: non-finite seal placements, JSON that is not an object or is nested absurdly deep, and PDFs with
bytes flipped, cut or dropped (a seeded mutation of a real signed PDF, at verify and at sign).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from idp.app import create_app
from idp.cli.main import app as cli_app
from idp.oauth.clients import NewClient, create_client
from idp.records import organisations
from idp.runtime import Runtime
from idp.settings import Settings
from signing import ofd_seal, pades, seals
from signing.context import SigningContext
from signing.errors import InvalidInput
from signing.ofd_sample import one_page_ofd
from signing.policy import Policy
from signing.sample import one_page_pdf
from signing.web.json_body import depth

USCC = "91110000600037341L"
BAD_NUMBERS = ("nan", "NaN", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e400")
NOT_OBJECTS = (b"[]", b'"x"', b"1", b"null", b"true", b"[{}]")
DEEP = b"[" * 30_000 + b"]" * 30_000  # within the 64 KB body limit of JSON APIs, far beyond Python's recursion
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
MUTANTS = 24


def cli(*args: object) -> Result:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


def one_line_error(result: Result) -> None:
    assert result.exit_code != 0, result.stdout
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def client(module_rt: Runtime, module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def world(module_rt: Runtime, ctx: SigningContext, client: TestClient) -> dict[str, Any]:
    with module_rt.transaction() as session:
        app: NewClient = create_client(
            session, name="合同系统", grant_types=["client_credentials"], scopes=["seal"], redirect_uris=[]
        )
        organisations.add(
            session,
            module_rt.protector,
            module_rt.uscc_rules,
            uscc=USCC,
            name="北京某某科技有限公司",
            kind="enterprise",
        )
        seal = seals.create(
            session, ctx, uscc=USCC, seal_type="contract", policy=Policy(clients=frozenset({app.client_id}))
        )
    got = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "seal"},
        auth=(app.client_id, app.client_secret or ""),
    )
    assert got.status_code == 200, got.text
    token = got.json()["access_token"]
    signed = client.post(
        f"/signing/v1/seals/{seal.id}/sign",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("doc.pdf", one_page_pdf(), "application/pdf")},
        data={"level": "B-T"},
    )
    assert signed.status_code == 200, signed.text
    return {"seal": seal.id, "auth": {"Authorization": f"Bearer {token}"}, "signed": signed.content}


def _upload(data: bytes, **fields: str) -> dict[str, Any]:
    return {"files": {"file": ("doc.pdf", data, "application/pdf")}, "data": fields}


# --- seal placement ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["x", "y", "width"])
def test_non_finite_or_huge_placements_are_400_at_the_api(
    client: TestClient, world: dict[str, Any], field: str
) -> None:
    for value in BAD_NUMBERS:
        got = client.post(
            f"/signing/v1/seals/{world['seal']}/sign",
            headers=world["auth"],
            **_upload(one_page_pdf(), **{field: value}),
        )
        assert got.status_code == 400, (value, got.text)
        detail = got.json()["detail"]
        assert "finite" in detail or "fit on the page" in detail or "width must be" in detail, detail


def test_non_finite_placements_are_one_line_at_the_cli(world: dict[str, Any], workdir: Path) -> None:
    pdf, ofd = workdir / "plain.pdf", workdir / "plain.ofd"
    pdf.write_bytes(one_page_pdf())
    ofd.write_bytes(one_page_ofd())
    for source in (pdf, ofd):
        for value in ("nan", "inf", "-inf", "1e308"):
            result = cli("seal", "sign", world["seal"], source, workdir / "out", "--x", value)
            one_line_error(result)
            assert not (workdir / "out").exists()


def test_placements_check_their_numbers() -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(InvalidInput, match="finite"):
            pades.Placement(x=value)
        with pytest.raises(InvalidInput, match="finite"):
            ofd_seal.StampPlacement(width=value)
    with pytest.raises(InvalidInput):
        ofd_seal.StampPlacement(x=1e308)


# --- JSON bodies ----------------------------------------------------------------------------------------------


def test_the_depth_count_skips_strings() -> None:
    assert depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert depth(b'["\\"[[[", [[]]]') == 3
    assert depth(DEEP) == 30_000


@pytest.mark.parametrize("path", ["credentials/list", "credentials/info", "signatures/signHash", "signatures/signDoc"])
def test_csc_refuses_json_that_is_not_an_object_or_too_deep(
    client: TestClient, world: dict[str, Any], path: str
) -> None:
    for body in (*NOT_OBJECTS, b"{", b"\xff\xfe", DEEP, DEEP_OBJECT):
        got = client.post(
            f"/csc/v2/{path}", headers={**world["auth"], "content-type": "application/json"}, content=body
        )
        assert got.status_code == 400, (body[:20], got.text)
        assert got.json()["error"] == "invalid_request"
    nested = client.post(f"/csc/v2/{path}", headers=world["auth"], content=DEEP)
    assert "nested more than 32 levels" in nested.json()["error_description"]


def test_face_step_refuses_json_that_is_not_an_object_or_too_deep(client: TestClient) -> None:
    for path in ("/stepup/face", "/stepup/face/challenge"):
        for body in (*NOT_OBJECTS, b"{", DEEP, DEEP_OBJECT):
            got = client.post(path, headers={"content-type": "application/json"}, content=body)
            assert got.status_code == 400, (path, body[:20], got.text)
            assert got.json() == {"error": "invalid JSON"}


# --- mutated PDFs -----------------------------------------------------------------------------------------------


def mutants(signed: bytes, count: int, seed: int) -> Iterator[bytes]:
    """Copies of `signed` with bytes flipped, cut short, a range dropped or repeated (deterministic per seed)."""
    rng = random.Random(seed)
    for i in range(count):
        data = bytearray(signed)
        kind = i % 4
        if kind == 0:  # flip a few bytes anywhere (structure, xref, signature, content streams)
            for _ in range(rng.randint(1, 12)):
                at = rng.randrange(len(data))
                data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # cut short
            del data[rng.randrange(16, len(data)) :]
        elif kind == 2:  # drop a range
            at = rng.randrange(16, len(data) - 1)
            del data[at : at + rng.randint(1, 400)]
        else:  # repeat a range
            at = rng.randrange(16, len(data) - 1)
            data[at:at] = data[at : at + rng.randint(1, 400)]
        yield bytes(data)


def test_mutated_pdfs_are_never_a_server_error_at_verify_or_sign(client: TestClient, world: dict[str, Any]) -> None:
    for mutant in mutants(world["signed"], MUTANTS, seed=11):
        got = client.post("/signing/v1/verify", **_upload(mutant))
        assert got.status_code in (200, 400, 422), got.text
        if got.status_code == 200:
            assert "problems" in got.text and "Error" not in json.dumps(got.json()["signatures"])
        else:
            assert "Error" not in got.json()["detail"] and "Traceback" not in got.text
    for mutant in mutants(world["signed"], MUTANTS, seed=12):
        got = client.post(f"/signing/v1/seals/{world['seal']}/sign", headers=world["auth"], **_upload(mutant))
        assert got.status_code in (200, 400, 422), got.text
        if got.status_code != 200:
            assert "Error" not in got.json()["detail"]


def test_mutated_pdfs_are_one_line_at_the_cli(world: dict[str, Any], workdir: Path) -> None:
    path, out = workdir / "mutant.pdf", workdir / "mutant-sealed.pdf"
    for mutant in mutants(world["signed"], MUTANTS // 2, seed=13):
        path.write_bytes(mutant)
        verified = cli("verify", path, "--json")
        assert verified.exit_code in (0, 1, 2)
        if verified.exit_code == 2:
            one_line_error(verified)
        else:
            json.loads(verified.stdout)
        sealed = cli("seal", "sign", world["seal"], path, out)
        if sealed.exit_code != 0:
            one_line_error(sealed)
