"""The PKI made by `yiwang init`: certificate profiles, sealed keys, CRL, OCSP and TSA — checked with OpenSSL.

The HTTP endpoints are exercised against a real uvicorn server (a thread on a free port); requests are made
and answers verified by the `openssl` command line, which shares no code with us.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from typer.testing import CliRunner

import keys
from idp.cli.main import app as cli_app
from idp.runtime import Runtime, initialise
from idp.settings import Settings
from signing import crl, pki
from signing.context import SigningContext
from signing.models import PkiEntity

Tool = Callable[[str], str]


def _pem(path: Path, certs: list[x509.Certificate]) -> Path:
    path.write_text(pki.pem(certs))
    return path


def _leaf(rt: Runtime, ctx: SigningContext, name: str) -> x509.Certificate:
    with rt.transaction() as session:
        return pki.issue(
            session,
            ctx.authority,
            subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
            public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
            kind="seal",
            validity=timedelta(days=30),
            extensions=[],
        )


def _openssl(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=30)


# --- certificates and keys ---------------------------------------------------------------------------------


def test_init_makes_a_root_an_issuing_ca_a_tsa_and_an_ocsp_signer(ctx: SigningContext) -> None:
    a = ctx.authority
    root, issuing, tsa, responder = a.root.cert, a.issuing.cert, a.tsa.cert, a.ocsp.cert
    root.verify_directly_issued_by(root)
    issuing.verify_directly_issued_by(root)
    tsa.verify_directly_issued_by(issuing)
    responder.verify_directly_issued_by(issuing)

    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]  # RFC 3161 §2.3
    assert list(responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.OCSP_SIGNING
    ]
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)


def test_issued_certificates_point_to_their_chain_crl_and_ocsp(ctx: SigningContext, module_rt: Runtime) -> None:
    base = module_rt.settings.issuer
    leaf = _leaf(module_rt, ctx, "pointers")
    aia = {
        d.access_method.dotted_string: d.access_location.value
        for d in leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    }
    assert aia == {"1.3.6.1.5.5.7.48.1": f"{base}/pki/ocsp", "1.3.6.1.5.5.7.48.2": f"{base}/pki/issuing-ca.cer"}
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [p.full_name[0].value for p in cdp if p.full_name] == [f"{base}/pki/crl"]
    issuing_cdp = ctx.authority.issuing.cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [p.full_name[0].value for p in issuing_cdp if p.full_name] == [f"{base}/pki/root.crl"]


def test_private_keys_are_sealed_under_the_master_key(module_rt: Runtime, ctx: SigningContext) -> None:
    with module_rt.transaction() as session:
        # The SM2 hierarchy (roles sm2-*) shares the table; tests/signing/test_gb_seals.py checks its keys.
        rows = {row.role: row for row in session.scalars(select(PkiEntity).where(PkiEntity.role.in_(pki.ROLES)))}
    assert set(rows) == set(pki.ROLES)
    for role, row in rows.items():
        identity = getattr(ctx.authority, role)
        plain = identity.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        assert plain not in row.sealed_key
        with pytest.raises(keys.DecryptionError):
            keys.unwrap_key(b"\x00" * 32, row.sealed_key, pki.key_label(role))
        # A key sealed for one role does not open as another's.
        other = "tsa" if role != "tsa" else "ocsp"
        with pytest.raises(keys.DecryptionError):
            pki.open_private_key(module_rt.master, row.sealed_key, other)


def test_init_is_idempotent(module_settings: Settings, ctx: SigningContext) -> None:
    assert initialise(module_settings) == []
    with_runtime = CliRunner().invoke(cli_app, ["ca", "export-root"])
    assert with_runtime.exit_code == 0
    assert x509.load_pem_x509_certificate(with_runtime.stdout.encode()) == ctx.authority.root.cert


def test_ca_export_root_and_chain(ctx: SigningContext, module_rt: Runtime) -> None:
    runner = CliRunner()
    root = runner.invoke(cli_app, ["ca", "export-root"])
    chain = runner.invoke(cli_app, ["ca", "export-chain"])
    assert root.exit_code == 0 and chain.exit_code == 0, root.stderr + chain.stderr
    assert x509.load_pem_x509_certificates(root.stdout.encode()) == [ctx.authority.root.cert]
    assert x509.load_pem_x509_certificates(chain.stdout.encode()) == [
        ctx.authority.issuing.cert,
        ctx.authority.root.cert,
    ]


def test_openssl_verifies_the_chain(tool: Tool, ctx: SigningContext, module_rt: Runtime, workdir: Path) -> None:
    tool("openssl")
    root = _pem(workdir / "root.pem", [ctx.authority.root.cert])
    chain = _pem(workdir / "issuing.pem", [ctx.authority.issuing.cert])
    tsa = _pem(workdir / "tsa.pem", [ctx.authority.tsa.cert])
    done = _openssl("verify", "-CAfile", root, "-untrusted", chain, "-purpose", "timestampsign", tsa, cwd=workdir)
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr


# --- CRL --------------------------------------------------------------------------------------------------


def test_crl_is_served_signed_and_reissued_on_revocation(
    tool: Tool, server: str, ctx: SigningContext, module_rt: Runtime, workdir: Path
) -> None:
    leaf = _leaf(module_rt, ctx, "to be revoked")
    first = httpx.get(f"{server}/pki/crl")
    assert first.status_code == 200 and first.headers["content-type"] == "application/pkix-crl"
    before = x509.load_der_x509_crl(first.content)
    assert before.is_signature_valid(ctx.authority.issuing.cert.public_key())
    assert before.get_revoked_certificate_by_serial_number(leaf.serial_number) is None

    with module_rt.transaction() as session:
        crl.revoke(session, ctx.authority, pki.serial_hex(leaf.serial_number), "key_compromise")
    after = x509.load_der_x509_crl(httpx.get(f"{server}/pki/crl").content)
    entry = after.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    number = after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    tool("openssl")
    (workdir / "crl.der").write_bytes(httpx.get(f"{server}/pki/crl").content)
    _pem(workdir / "chain.pem", ctx.authority.chain())
    done = _openssl("crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "chain.pem", "-noout", cwd=workdir)
    assert done.returncode == 0 and "verify OK" in (done.stdout + done.stderr), done.stderr

    root_crl = x509.load_der_x509_crl(httpx.get(f"{server}/pki/root.crl").content)
    assert root_crl.is_signature_valid(ctx.authority.root.cert.public_key())
    served_root = httpx.get(f"{server}/pki/root-ca.cer")
    assert x509.load_der_x509_certificate(served_root.content) == ctx.authority.root.cert
    served_issuing = httpx.get(f"{server}/pki/issuing-ca.cer")
    assert x509.load_der_x509_certificate(served_issuing.content) == ctx.authority.issuing.cert


# --- OCSP -------------------------------------------------------------------------------------------------


def _openssl_ocsp(server: str, workdir: Path, leaf: Path, *extra: str) -> str:
    done = _openssl(
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        leaf,
        "-url",
        f"{server}/pki/ocsp",
        "-CAfile",
        "root.pem",
        "-verify_other",
        "issuing.pem",
        *extra,
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr
    assert "Response verify OK" in done.stderr, done.stderr
    return done.stdout


def test_openssl_ocsp_accepts_our_responses(
    tool: Tool, server: str, ctx: SigningContext, module_rt: Runtime, workdir: Path
) -> None:
    tool("openssl")
    _pem(workdir / "root.pem", [ctx.authority.root.cert])
    _pem(workdir / "issuing.pem", [ctx.authority.issuing.cert])
    good = _leaf(module_rt, ctx, "good")
    revoked = _leaf(module_rt, ctx, "revoked")
    _pem(workdir / "good.pem", [good])
    _pem(workdir / "revoked.pem", [revoked])

    assert "good.pem: good" in _openssl_ocsp(server, workdir, Path("good.pem"))
    with module_rt.transaction() as session:
        crl.revoke(session, ctx.authority, pki.serial_hex(revoked.serial_number), "superseded")
    out = _openssl_ocsp(server, workdir, Path("revoked.pem"))
    assert "revoked.pem: revoked" in out and "Reason: superseded" in out
    # The issuing CA's own status is answered by the root.
    _pem(workdir / "rootonly.pem", [ctx.authority.root.cert])
    done = _openssl(
        "ocsp",
        "-issuer",
        "rootonly.pem",
        "-cert",
        "issuing.pem",
        "-url",
        f"{server}/pki/ocsp",
        "-CAfile",
        "root.pem",
        cwd=workdir,
    )
    assert "issuing.pem: good" in done.stdout and "Response verify OK" in done.stderr, done.stderr


def test_ocsp_answers_unknown_unauthorized_and_malformed(server: str, ctx: SigningContext) -> None:
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    foreign = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(foreign_key.public_key())
        .serial_number(7)
        .not_valid_before(ctx.authority.root.cert.not_valid_before_utc)
        .not_valid_after(ctx.authority.root.cert.not_valid_after_utc)
        .sign(foreign_key, hashes.SHA256())
    )
    # Not issued by us: unauthorized (RFC 6960 §2.3).
    req = x509_ocsp.OCSPRequestBuilder().add_certificate(foreign, foreign, hashes.SHA1()).build()
    reply = httpx.post(
        f"{server}/pki/ocsp",
        content=req.public_bytes(serialization.Encoding.DER),
        headers={"content-type": "application/ocsp-request"},
    )
    assert x509_ocsp.load_der_ocsp_response(reply.content).response_status == x509_ocsp.OCSPResponseStatus.UNAUTHORIZED
    # Our issuer, a serial we never issued: unknown; by GET (Appendix A.1) too.
    req = (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            issuer_name_hash=hashes_of(ctx.authority.issuing.cert.subject.public_bytes()),
            issuer_key_hash=x509.SubjectKeyIdentifier.from_public_key(ctx.authority.issuing.cert.public_key()).digest,
            serial_number=12345,
            algorithm=hashes.SHA1(),
        )
        .build()
    )
    import base64

    encoded = base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode()
    answer = x509_ocsp.load_der_ocsp_response(httpx.get(f"{server}/pki/ocsp/{encoded}").content)
    assert answer.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == x509_ocsp.OCSPCertStatus.UNKNOWN
    garbage = httpx.post(f"{server}/pki/ocsp", content=b"not an ocsp request")
    status = x509_ocsp.load_der_ocsp_response(garbage.content).response_status
    assert status == x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    huge = httpx.post(f"{server}/pki/ocsp", content=b"\x30" * 20_000)
    assert (
        x509_ocsp.load_der_ocsp_response(huge.content).response_status == x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def hashes_of(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA1())
    h.update(data)
    return h.finalize()


# --- TSA --------------------------------------------------------------------------------------------------


def test_openssl_ts_verifies_our_tsa_replies_over_http(
    tool: Tool, server: str, ctx: SigningContext, workdir: Path
) -> None:
    tool("openssl")
    (workdir / "document.txt").write_text("a document to time-stamp\n")
    _pem(workdir / "root.pem", [ctx.authority.root.cert])
    _pem(workdir / "issuing.pem", [ctx.authority.issuing.cert])
    for digest in ("-sha256", "-sha512"):
        made = _openssl("ts", "-query", "-data", "document.txt", digest, "-cert", "-out", "q.tsq", cwd=workdir)
        assert made.returncode == 0, made.stderr
        reply = httpx.post(
            f"{server}/tsa",
            content=(workdir / "q.tsq").read_bytes(),
            headers={"content-type": "application/timestamp-query"},
        )
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/timestamp-reply"
        (workdir / "r.tsr").write_bytes(reply.content)
        common = ("-in", "r.tsr", "-CAfile", "root.pem", "-untrusted", "issuing.pem")
        by_query = _openssl("ts", "-verify", "-queryfile", "q.tsq", *common, cwd=workdir)
        assert by_query.returncode == 0 and "Verification: OK" in by_query.stdout, by_query.stderr
        by_data = _openssl("ts", "-verify", "-data", "document.txt", *common, cwd=workdir)
        assert by_data.returncode == 0 and "Verification: OK" in by_data.stdout, by_data.stderr

    # The same reply does not verify for other data.
    (workdir / "other.txt").write_text("another document\n")
    wrong = _openssl(
        "ts",
        "-verify",
        "-data",
        "other.txt",
        "-in",
        "r.tsr",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        cwd=workdir,
    )
    assert wrong.returncode != 0


def test_tsa_rejects_bad_requests_in_protocol(tool: Tool, server: str, workdir: Path) -> None:
    tool("openssl")
    (workdir / "document.txt").write_text("a document to time-stamp\n")
    sha1 = _openssl("ts", "-query", "-data", "document.txt", "-sha1", "-out", "weak.tsq", cwd=workdir)
    assert sha1.returncode == 0
    cases = {"weak.tsq": (workdir / "weak.tsq").read_bytes(), "garbage": b"\x30\x03\x02\x01\x07", "empty": b""}
    for label, body in cases.items():
        reply = httpx.post(f"{server}/tsa", content=body, headers={"content-type": "application/timestamp-query"})
        assert reply.status_code == 200, label
        (workdir / "bad.tsr").write_bytes(reply.content)
        text = _openssl("ts", "-reply", "-in", "bad.tsr", "-text", cwd=workdir)
        assert "Status: Rejected" in text.stdout, (label, text.stdout, text.stderr)
    wrong_type = httpx.post(f"{server}/tsa", content=b"x", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 400
    assert wrong_type.headers["content-type"].startswith("application/problem+json")
