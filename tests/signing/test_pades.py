"""Sealing PDFs end to end through `yiwang seal sign` and `yiwang verify`, judged by tools we did not write.

poppler's `pdfsig`, given an NSS database (made with `certutil`) that trusts our root, must call the seal valid
and the certificate trusted; it fetches the CRL named in the certificate, so the app is served for real on the
issuer URL. `openssl cms` checks the CMS pdfsig dumps against the signed byte ranges. A tampered copy must fail.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import time_machine
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from idp.audit import AuditEvent
from idp.cli.main import app as cli_app
from idp.records import organisations
from idp.runtime import Runtime
from signing import pades, pki
from signing.context import SigningContext
from signing.models import SignatureRecord
from signing.sample import one_page_pdf
from tests.kit.waiting import wait_until

Tool = Callable[[str], str]
USCC = "91110000600037341L"


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def refused(result: Result, fragment: str) -> None:
    assert result.exit_code == 1, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.stdout == "" and result.stderr.startswith("error: ") and fragment in result.stderr, result.stderr


def records(rt: Runtime) -> int:
    with rt.transaction() as session:
        return session.scalar(select(func.count()).select_from(SignatureRecord)) or 0


@pytest.fixture(scope="module")
def org(module_rt: Runtime) -> str:
    with module_rt.transaction() as session:
        organisations.add(
            session,
            module_rt.protector,
            module_rt.uscc_rules,
            uscc=USCC,
            name="北京某某科技有限公司",
            kind="enterprise",
        )
    return USCC


def new_seal(*extra: str) -> str:
    made = ok(cli("seal", "create", "--org", USCC, "--type", "official", "--json", *extra))
    return str(json.loads(made.stdout)["id"])


@pytest.fixture(scope="module")
def seal_id(org: str) -> str:
    return new_seal()


@pytest.fixture(scope="module")
def document(workdir: Path) -> Path:
    path = workdir / "in.pdf"
    path.write_bytes(one_page_pdf())
    return path


@pytest.fixture(scope="module")
def sealed(seal_id: str, document: Path, workdir: Path) -> Path:
    out = workdir / "sealed.pdf"
    ok(cli("seal", "sign", seal_id, document, out))
    return out


@pytest.fixture(scope="module")
def nssdb(tool: Tool, ctx: SigningContext, workdir: Path) -> Path:
    tool("certutil")
    db = workdir / "nss"
    db.mkdir()
    root = workdir / "trusted-root.pem"
    root.write_text(pki.pem([ctx.authority.root.cert]))
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{db}", "-n", "yiwang-root", "-t", "CT,C,C", "-a", "-i", str(root)],
        check=True,
        capture_output=True,
    )
    return db


def pdfsig(tool: Tool, db: Path, pdf: Path, *extra: str) -> str:
    tool("pdfsig")
    done = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", *extra, str(pdf)], capture_output=True, text=True, timeout=60, cwd=pdf.parent
    )
    return done.stdout + done.stderr


def verify_json(pdf: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = cli("verify", pdf, "--json")
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}


# --- sealing and our own verification ---------------------------------------------------------------------------


def test_seal_sign_makes_a_recorded_b_lt_document(
    module_rt: Runtime, seal_id: str, document: Path, workdir: Path
) -> None:
    before = records(module_rt)
    out = workdir / "recorded.pdf"
    made = json.loads(
        ok(
            cli(
                "seal",
                "sign",
                seal_id,
                document,
                out,
                "--page",
                "1",
                "--x",
                "60",
                "--y",
                "60",
                "--width",
                "150",
                "--json",
            )
        ).stdout
    )
    assert made["level"] == "B-LT"
    assert made["document_sha256"] == hashlib.sha256(document.read_bytes()).hexdigest()
    assert made["signed_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert records(module_rt) == before + 1
    with module_rt.transaction() as session:
        record = session.get(SignatureRecord, made["record"])
        assert record is not None
        assert (record.seal_id, record.level, record.requester, record.channel) == (seal_id, "B-LT", "operator", "cli")
        assert record.tsa_serial == made["tsa_serial"] and record.tsa_time is not None
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "seal.sign", AuditEvent.outcome == "success")
            .order_by(AuditEvent.at.desc())
        )
        assert event is not None and event.detail["record"] == record.id

    code, report = verify_json(out)
    assert code == 0, report
    (sig,) = report["signatures"]
    assert sig["valid"] and sig["intact"] and sig["trusted"] and sig["long_term"]
    assert sig["uscc"] == USCC and sig["organisation"] == "北京某某科技有限公司"
    assert sig["coverage"] == "entire_revision" and sig["changes_after_signing"] == "validation_data"
    assert sig["revocation"] == "good" and sig["timestamp"]["serial"] == made["tsa_serial"]
    # The seal is visible where asked: a widget on page 1 with that rectangle.
    reader = PdfFileReader(io.BytesIO(out.read_bytes()), strict=False)
    (embedded,) = reader.embedded_signatures
    rect = [float(v) for v in embedded.sig_field["/Rect"]]
    assert rect[:3] == [60.0, 60.0, 210.0]


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_lower_levels(seal_id: str, document: Path, workdir: Path, level: str) -> None:
    out = workdir / f"{level}.pdf"
    ok(cli("seal", "sign", seal_id, document, out, "--level", level))
    code, report = verify_json(out)
    assert code == 0
    (sig,) = report["signatures"]
    assert sig["coverage"] == "entire_file" and sig["changes_after_signing"] == "none"
    assert (sig["timestamp"] is None) == (level == "B-B") and not sig["long_term"]


def test_a_second_seal_leaves_the_first_valid(org: str, sealed: Path, workdir: Path) -> None:
    twice = workdir / "twice.pdf"
    ok(cli("seal", "sign", new_seal(), sealed, twice, "--x", "60"))
    code, report = verify_json(twice)
    assert code == 0
    first, second = report["signatures"]
    assert first["valid"] and first["changes_after_signing"] == "form_filling"
    assert second["valid"] and second["changes_after_signing"] == "validation_data"


def test_tampering_is_detected(sealed: Path, workdir: Path) -> None:
    tampered = workdir / "tampered.pdf"
    data = bytearray(sealed.read_bytes())
    at = data.find(b"Seal below")
    data[at : at + 4] = b"Fake"
    tampered.write_bytes(bytes(data))
    code, report = verify_json(tampered)
    assert code == 1
    assert not report["valid"] and not report["signatures"][0]["intact"]
    assert any("altered" in p for p in report["signatures"][0]["problems"])


def test_verify_exit_codes(document: Path, workdir: Path) -> None:
    assert cli("verify", document).exit_code == 1  # unsigned: nothing valid to report
    assert "no signatures" in cli("verify", document).stdout
    not_pdf = workdir / "notes.txt"
    not_pdf.write_text("hello")
    for path in (not_pdf, workdir / "missing.pdf"):
        result = cli("verify", path)
        assert result.exit_code == 2 and result.stderr.startswith("error: "), result.stderr


def test_revoked_after_signing_stays_valid_unless_the_key_was_compromised(
    org: str, document: Path, workdir: Path
) -> None:
    for reason, valid, revocation in (
        ("superseded", True, "revoked_after_signing"),
        ("key_compromise", False, "revoked"),
    ):
        seal = new_seal()
        out = workdir / f"revoked-{reason}.pdf"
        ok(cli("seal", "sign", seal, document, out))
        # CRLs and time-stamps count whole seconds: the revocation comes strictly later than the signature.
        revoked_at = time.time() + 2
        with time_machine.travel(revoked_at, tick=True):
            ok(cli("seal", "revoke", seal, "--reason", reason))
        # Verification runs in a worker process the travel doesn't reach: it validates once the real clock
        # has passed the CRL's time (else "CRL is too recent").
        wait_until(lambda at=revoked_at: time.time() > at + 1, 10, "the real clock passing the revocation")
        code, report = verify_json(out)
        (sig,) = report["signatures"]
        assert (code == 0) is valid and sig["valid"] is valid and sig["revocation"] == revocation, sig
        assert sig["revoked_at"] is not None


# --- bad input: a clear error, no record, nothing written --------------------------------------------------------


def _encrypted(document: Path) -> bytes:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(document.read_bytes())))
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_bad_input_is_refused_and_leaves_nothing(
    module_rt: Runtime, org: str, seal_id: str, document: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = document.read_bytes()
    cases = {
        "not.pdf": (b"GIF89a not a pdf", "not a PDF"),
        "encrypted.pdf": (_encrypted(document), "encrypted"),
        "truncated.pdf": (good[: len(good) // 3], "broken"),
        "garbage.pdf": (b"%PDF-1.7\n" + b"\x00garbage" * 100, "broken"),
    }
    revoked = new_seal()
    ok(cli("seal", "revoke", revoked))
    narrow = new_seal("--kind", "contract")
    before_records = records(module_rt)
    out = workdir / "never.pdf"
    for name, (data, message) in cases.items():
        path = workdir / name
        path.write_bytes(data)
        refused(cli("seal", "sign", seal_id, path, out), message)
        if name != "not.pdf":
            assert cli("verify", path).exit_code == 2
    refused(cli("seal", "sign", "00000000-0000-0000-0000-000000000000", document, out), "no seal")
    refused(cli("seal", "sign", revoked, document, out), "revoked")
    refused(cli("seal", "sign", narrow, document, out, "--kind", "invoice"), "kind invoice")
    refused(cli("seal", "sign", seal_id, document, out, "--page", "7"), "page 7 does not exist")
    refused(cli("seal", "sign", seal_id, document, out, "--x", "560"), "would not fit")
    monkeypatch.setattr(pades, "MAX_PDF_BYTES", 100)
    refused(cli("seal", "sign", seal_id, document, out), "larger than 100 bytes")
    assert not out.exists()
    assert records(module_rt) == before_records
    with module_rt.transaction() as session:
        refusals = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "seal.sign", AuditEvent.outcome == "refused")
        )
    assert refusals and refusals >= 7


def test_daily_cap_refuses_the_next_signature(module_rt: Runtime, org: str, document: Path, workdir: Path) -> None:
    capped = new_seal("--daily-cap", "1")
    ok(cli("seal", "sign", capped, document, workdir / "cap-1.pdf", "--level", "B-B"))
    before = records(module_rt)
    refused(cli("seal", "sign", capped, document, workdir / "cap-2.pdf", "--level", "B-B"), "daily cap")
    assert records(module_rt) == before and not (workdir / "cap-2.pdf").exists()


# --- tools we did not write ------------------------------------------------------------------------------------


def test_pdfsig_says_valid_and_trusted(tool: Tool, server: str, nssdb: Path, sealed: Path) -> None:
    out = pdfsig(tool, nssdb, sealed)
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Certificate Validation: Certificate is Trusted." in out, out
    assert "ETSI.CAdES.detached" in out  # PAdES, not the legacy adbe.pkcs7.detached


def test_pdfsig_on_every_level_and_a_second_seal(
    tool: Tool, server: str, nssdb: Path, org: str, document: Path, workdir: Path, seal_id: str
) -> None:
    for level in ("B-B", "B-T"):
        path = workdir / f"pdfsig-{level}.pdf"
        ok(cli("seal", "sign", seal_id, document, path, "--level", level))
        out = pdfsig(tool, nssdb, path)
        assert out.count("Signature is Valid.") == 1 and "Certificate is Trusted." in out, out
    # A second seal (another certificate: pdfsig 22.12 misreports a second signature by the *same*
    # certificate in one file as "Unknown issue", a poppler quirk we reproduced outside our code too).
    twice = workdir / "pdfsig-twice.pdf"
    ok(cli("seal", "sign", new_seal(), workdir / "pdfsig-B-T.pdf", twice, "--x", "60"))
    out = pdfsig(tool, nssdb, twice)
    assert out.count("Signature is Valid.") == 2 and out.count("Certificate is Trusted.") == 2, out


def test_pdfsig_rejects_a_tampered_copy(tool: Tool, server: str, nssdb: Path, sealed: Path, workdir: Path) -> None:
    tampered = workdir / "pdfsig-tampered.pdf"
    data = bytearray(sealed.read_bytes())
    at = data.find(b"Seal below")
    data[at : at + 4] = b"Fake"
    tampered.write_bytes(bytes(data))
    out = pdfsig(tool, nssdb, tampered)
    assert "Signature is Valid." not in out, out
    assert "Digest Mismatch" in out, out


def test_pdfsig_does_not_trust_us_without_our_root(tool: Tool, server: str, sealed: Path, workdir: Path) -> None:
    tool("certutil")
    empty = workdir / "nss-empty"
    empty.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{empty}", "--empty-password"], check=True, capture_output=True)
    out = pdfsig(tool, empty, sealed)
    assert "Signature is Valid." in out and "Certificate is Trusted." not in out, out


def test_openssl_cms_verifies_the_signature_pdfsig_extracts(
    tool: Tool, nssdb: Path, sealed: Path, ctx: SigningContext, workdir: Path
) -> None:
    tool("openssl")
    listing = pdfsig(tool, nssdb, sealed, "-nocert")
    pdfsig(tool, nssdb, sealed, "-nocert", "-dump")
    ranges = [(int(a), int(b)) for a, b in re.findall(r"\[(\d+) - (\d+)\]", listing)]
    assert len(ranges) == 2, listing
    data = sealed.read_bytes()
    (workdir / "signed-bytes.bin").write_bytes(b"".join(data[a:b] for a, b in ranges))
    (workdir / "root.pem").write_text(pki.pem([ctx.authority.root.cert]))
    (workdir / "issuing.pem").write_text(pki.pem([ctx.authority.issuing.cert]))
    dumped = sealed.parent / f"{sealed.name}.sig0"
    assert dumped.exists()
    done = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(dumped),
            "-content",
            "signed-bytes.bin",
            "-CAfile",
            "root.pem",
            "-certfile",
            "issuing.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=30,
    )
    assert done.returncode == 0 and "Verification successful" in done.stderr, done.stderr
