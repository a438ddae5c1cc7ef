"""Verification is open to anyone, so the work one upload can cause is bounded: a cap on signature fields, each
distinct signature value validated once, a deadline (the verifying child process is killed) and a cap on
verifications at once. The hostile PDF is built here: many signature fields, all pointing at one signature.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from idp.app import create_app
from idp.cli.main import app as cli_app
from idp.runtime import Runtime
from idp.settings import Settings
from signing import verify
from signing.context import SigningContext
from signing.errors import UnprocessablePdf
from signing.ports import VerifyLimits
from signing.verify_worker import VerificationTimeout, Verifier, VerifierBusy
from tests.signing.hostile import many_fields_one_signature, self_signed_signer, signed_pdf

SIGNER = self_signed_signer()


@pytest.fixture(scope="module")
def client(module_rt: Runtime, module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def hostile() -> bytes:
    return many_fields_one_signature(500, signed_pdf(SIGNER))


def _trust(ctx: SigningContext) -> verify.Trust:
    with ctx.services.transaction() as session:
        return verify.trust_from(session, ctx.authority)


def _upload(data: bytes) -> dict[str, Any]:
    return {"files": {"file": ("doc.pdf", data, "application/pdf")}}


def test_the_hostile_pdf_is_refused_at_the_api_with_a_clear_message(client: TestClient, hostile: bytes) -> None:
    got = client.post("/signing/v1/verify", **_upload(hostile))
    assert got.status_code == 422, got.text
    assert got.json()["detail"] == "the PDF has more than 50 signatures; it is not verified"


def test_the_hostile_pdf_is_refused_by_the_cli_in_one_line(hostile: bytes, workdir: Path) -> None:
    path = workdir / "hostile.pdf"
    path.write_bytes(hostile)
    result = CliRunner().invoke(cli_app, ["verify", str(path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: the PDF has more than 50 signatures; it is not verified\n"


def test_the_cap_on_signatures_is_a_setting(ctx: SigningContext) -> None:
    document = many_fields_one_signature(5, signed_pdf(SIGNER))  # six fields in all
    with pytest.raises(UnprocessablePdf, match="more than 5 signatures"):
        verify.verify_pdf(document, _trust(ctx), VerifyLimits(max_signatures=5))
    assert len(verify.verify_pdf(document, _trust(ctx), VerifyLimits(max_signatures=6)).signatures) == 6


def test_one_signature_value_is_validated_once_however_many_fields_carry_it(
    ctx: SigningContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Count pyHanko's validations (the real function is called every time).
    calls: list[str] = []
    real = verify.async_validate_pdf_signature

    async def counting(sig: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(sig.field_name)
        return await real(sig, *args, **kwargs)

    monkeypatch.setattr(verify, "async_validate_pdf_signature", counting)
    report = verify.verify_pdf(many_fields_one_signature(40, signed_pdf(SIGNER)), _trust(ctx))
    assert calls == ["Sig1"]
    assert len(report.signatures) == 41 and not report.valid
    copies = [s for s in report.signatures if s.field_name != "Sig1"]
    assert all(s.problems == ["the field carries the same signature value as field Sig1"] for s in copies)
    assert not any(s.valid for s in copies)


def test_too_many_revisions_are_refused(ctx: SigningContext) -> None:
    document = many_fields_one_signature(1, signed_pdf(SIGNER))  # three revisions: page, signature, copy
    with pytest.raises(UnprocessablePdf, match="more than 2 revisions"):
        verify.verify_pdf(document, _trust(ctx), VerifyLimits(max_revisions=2))


def test_past_the_deadline_the_verification_is_refused(ctx: SigningContext) -> None:
    verifier = Verifier(VerifyLimits(timeout_s=0.001))
    with pytest.raises(VerificationTimeout, match="longer than 0.001 s to verify") as caught:
        verifier.verify(signed_pdf(SIGNER), _trust(ctx))
    assert caught.value.status == 422
    # The slot is given back: the next verification (with time enough) runs.
    assert Verifier(VerifyLimits()).verify(signed_pdf(SIGNER), _trust(ctx)).signatures[0].field_name == "Sig1"


def test_busy_verifiers_refuse_more_work_at_once(ctx: SigningContext) -> None:
    verifier = Verifier(VerifyLimits(workers=1))
    with verifier.slot(), pytest.raises(VerifierBusy):
        verifier.verify(signed_pdf(SIGNER), _trust(ctx))
    assert verifier.verify(signed_pdf(SIGNER), _trust(ctx)).signatures


def test_busy_is_a_503_with_retry_after_at_the_api(client: TestClient) -> None:
    assert client.post("/signing/v1/verify", **_upload(signed_pdf(SIGNER))).status_code == 200
    signing: SigningContext = client.app.state.signing[1]  # type: ignore[attr-defined]  # the app's own context
    with signing.verifier.slot(), signing.verifier.slot():  # both of the default two slots taken
        got = client.post("/signing/v1/verify", **_upload(signed_pdf(SIGNER)))
    assert got.status_code == 503 and got.headers["Retry-After"] == "2"
    assert "try again" in got.json()["detail"]
    assert client.post("/signing/v1/verify", **_upload(signed_pdf(SIGNER))).status_code == 200
