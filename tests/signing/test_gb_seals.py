"""National-format seals end to end: SM2 PKI, GB/T 38540 seals, sealing and verifying OFD packages, render.

openssl 3 is the independent judge of every SM2 signature: certificate links (each on its own, `-partial_chain`,
since `-vfyopt distid` applies only to the certificate being checked), CRLs, OCSP responses, the time-stamp
token's signer and the raw SM2 signature inside an SES_Signature (`-sigopt distid:1234567812345678`).
Commands are run through the real CLI; failures are produced by editing the package bytes as an attacker would.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from asn1crypto import cms, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from asn1crypto.algos import DSASignature
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

import keys
from idp.audit import AuditEvent
from idp.cli.main import app as cli_app
from idp.records import organisations, people
from idp.runtime import Runtime
from signing import csc, gb38540, gb_seals, ofd, ofd_seal, ofd_verify, sm2, sm_pki, sm_status
from signing.context import SigningContext
from signing.models import PkiEntity, Seal, SealUsage, SignatureRecord
from signing.ofd_sample import one_page_ofd
from signing.sample import one_page_pdf
from tests.signing import sm2_reference as ref
from tests.signing.national_kit import gb_context, sm_trust

USCC = "91110000600037341L"
ORG_NAME = "北京某某科技有限公司"
KEEPER = "11010519491231002X"
DISTID = "distid:1234567812345678"


def cli(*args: object) -> Result:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


@pytest.fixture(scope="module")
def org(module_rt: Runtime) -> str:
    with module_rt.transaction() as session:
        organisations.add(
            session, module_rt.protector, module_rt.uscc_rules, uscc=USCC, name=ORG_NAME, kind="enterprise"
        )
        people.add(session, module_rt.protector, id_number=KEEPER, name="张三")
        organisations.add_member(
            session, module_rt.protector, module_rt.uscc_rules, uscc=USCC, id_number=KEEPER, role="seal_keeper"
        )
    return USCC


def make_seal(*extra: object) -> str:
    made = cli("seal", "create", "--org", USCC, "--type", "official", "--format", "gb38540", *extra, "--json")
    assert made.exit_code == 0, made.stderr
    return str(json.loads(made.stdout)["id"])


@pytest.fixture(scope="module")
def seal_id(org: str) -> str:
    return make_seal("--kind", "notice", "--kind", "contract")


@pytest.fixture(scope="module")
def sealed(seal_id: str, workdir: Path) -> Path:
    source = workdir / "notice.ofd"
    source.write_bytes(one_page_ofd())
    out = workdir / "notice-sealed.ofd"
    done = cli("seal", "sign", seal_id, source, out, "--kind", "notice", "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["level"] == "SES-T"
    return out


def openssl(*args: object, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *[str(a) for a in args]], input=data, capture_output=True, check=False)


def pem_file(path: Path, cert: asn1_x509.Certificate) -> Path:
    path.write_text(sm_pki.pem([cert]))
    return path


def assert_link(tmp: Path, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, ok: bool = True) -> None:
    """openssl verifies that `issuer` signed `cert` (one link, SM2 with the default distinguishing ID)."""
    done = openssl(
        "verify", "-partial_chain", "-vfyopt", DISTID,
        "-CAfile", pem_file(tmp / "issuer.pem", issuer), pem_file(tmp / "cert.pem", cert),
    )  # fmt: skip
    assert (done.returncode == 0) is ok, done.stdout + done.stderr


def assert_sm2(tmp: Path, public_der: bytes, signature: bytes, data: bytes, ok: bool = True) -> None:
    (tmp / "pub.der").write_bytes(public_der)
    (tmp / "sig.der").write_bytes(signature)
    (tmp / "data.bin").write_bytes(data)
    done = openssl(
        "dgst", "-sm3", "-verify", tmp / "pub.der", "-keyform", "DER", "-sigopt", DISTID,
        "-signature", tmp / "sig.der", tmp / "data.bin",
    )  # fmt: skip
    assert (done.returncode == 0) is ok, done.stdout + done.stderr


def package(path: Path) -> ofd.Package:
    return ofd.read_package(path.read_bytes())


def ses_of(files: ofd.Package, n: int = 0) -> gb38540.SignatureFacts:
    return gb38540.decode_signature(files[f"Doc_0/Signs/Sign_{n}/SignedValue.dat"])


def verify_cli(path: Path) -> tuple[int, dict[str, object]]:
    done = cli("verify", path, "--json")
    return done.exit_code, json.loads(done.stdout) if done.stdout.strip() else {}


# --- Published vectors ------------------------------------------------------------------------------------------


def test_sm3_vectors_of_gb_t_32905() -> None:
    """GB/T 32905-2016 Annex A, examples 1 and 2."""
    assert sm2.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm2.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm2_example_of_gb_t_32918_2_annex_a() -> None:
    """Annex A.2 (Fp-256 example curve): public key, Z_A, e and the published signature (r, s)."""
    curve, user = ref.TEST_CURVE, b"ALICE123@YAHOO.COM"
    d = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
    public = curve.mul(d, curve.g)
    assert public == (
        0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
        0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857,
    )
    z = ref.z_value(curve, user, public)
    assert z.hex() == "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a"
    assert sm2.sm3(z + b"message digest").hex() == "b524f552cd82b8b028476e005c377fb19a87e6fc682d48bb5d42e3d9b9effe76"
    r = 0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1
    s = 0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7
    assert ref.verify(curve, public, user, b"message digest", r, s)
    assert not ref.verify(curve, public, user, b"message digesT", r, s)


def test_tongsuopy_agrees_with_the_standard_and_with_openssl(tmp_path: Path) -> None:
    """The annex's algorithm (checked above) on the recommended curve: tongsuopy's signatures verify with it and
    with openssl; signatures it makes with a chosen k verify with tongsuopy and openssl."""
    curve, user, message = ref.SM2_CURVE, sm2.DEFAULT_ID, b"message digest"
    key = sm2.generate()
    numbers = key.public_key().public_numbers()
    public = (numbers.x, numbers.y)
    assert curve.on_curve(public)
    signature = sm2.sign(key, message)
    rs = DSASignature.load(signature).native
    r, s = rs["r"], rs["s"]
    assert ref.verify(curve, public, user, message, r, s)
    assert_sm2(tmp_path, sm2.spki(key.public_key()), signature, message)
    d = key.private_numbers().private_value
    r2, s2 = ref.sign(curve, d, user, message, k=0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21)
    der_sig = bytes(DSASignature({"r": r2, "s": s2}).dump())  # DER SEQUENCE {r, s}
    assert sm2.verify(key.public_key(), der_sig, message)
    assert not sm2.verify(key.public_key(), der_sig, message + b"!")
    assert_sm2(tmp_path, sm2.spki(key.public_key()), der_sig, message)


# --- The SM2 PKI, judged by openssl -----------------------------------------------------------------------------


def test_sm2_hierarchy_verifies_with_openssl(module_rt: Runtime, tmp_path: Path) -> None:
    a = gb_context(module_rt).authority
    for cert, issuer in ((a.issuing.cert, a.root.cert), (a.tsa.cert, a.issuing.cert), (a.ocsp.cert, a.issuing.cert),
                         (a.maker.cert, a.issuing.cert)):  # fmt: skip
        assert cert["signature_algorithm"]["algorithm"].dotted == sm2.SM2_SM3_OID
        assert_link(tmp_path, cert, issuer)
    assert_link(tmp_path, a.tsa.cert, a.root.cert, ok=False)  # a link is only good with its real issuer
    # The root's self-signature, checked over its TBS with the root's own key.
    tbs = a.root.cert["tbs_certificate"].dump()
    assert_sm2(tmp_path, a.root.cert.public_key.dump(), bytes(a.root.cert["signature_value"].native), tbs)
    text = openssl("x509", "-in", pem_file(tmp_path / "t.pem", a.issuing.cert), "-noout", "-text").stdout.decode()
    assert "SM2-with-SM3" in text and "CA:TRUE" in text and "ASN1 OID: SM2" in text


def test_seal_certificate_crl_and_ocsp_verify_with_openssl(module_rt: Runtime, seal_id: str, tmp_path: Path) -> None:
    gb = gb_context(module_rt)
    a = gb.authority
    with module_rt.transaction() as session:
        seal = session.get(Seal, seal_id)
        assert seal is not None and seal.format == "gb38540" and seal.key_alg == "sm2"
        cert = asn1_x509.Certificate.load(seal.cert_der)
        crl = sm_status.current_crl(session, a)
        response = sm_status.respond_for(session, a, serial=cert.serial_number)
    assert_link(tmp_path, cert, a.issuing.cert)
    subject = cert.subject.native
    assert subject["organization_name"] == ORG_NAME and subject["organization_identifier"] == f"NTRCN-{USCC}"
    # OpenSSL 3.0 checks CRL and OCSP signatures without an SM2 ID (no -vfyopt there), so openssl parses each
    # structure and checks its SM2 signature over the exact signed bytes with the GM/T 0009 default ID.
    (tmp_path / "crl.der").write_bytes(crl)
    text = openssl("crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-noout", "-text").stdout.decode()
    assert "SM2-with-SM3" in text and "Yiwang SM2 Issuing CA" in text
    parsed_crl = asn1_crl.CertificateList.load(crl)
    assert_sm2(tmp_path, a.issuing.cert.public_key.dump(), parsed_crl["signature"].native,
               parsed_crl["tbs_cert_list"].dump())  # fmt: skip
    (tmp_path / "resp.der").write_bytes(response)
    done = openssl("ocsp", "-respin", tmp_path / "resp.der", "-resp_text", "-noverify")
    assert done.returncode == 0 and b"Cert Status: good" in done.stdout and b"SM2-with-SM3" in done.stdout
    basic = asn1_ocsp.OCSPResponse.load(response).basic_ocsp_response
    assert_sm2(tmp_path, a.ocsp.cert.public_key.dump(), basic["signature"].native,
               basic["tbs_response_data"].dump())  # fmt: skip
    assert_sm2(tmp_path, a.issuing.cert.public_key.dump(), basic["signature"].native,
               basic["tbs_response_data"].dump(), ok=False)  # fmt: skip


# --- Sealing and verifying OFD ----------------------------------------------------------------------------------


def test_sealed_ofd_is_laid_out_as_the_standard_says(sealed: Path) -> None:
    files = package(sealed)
    assert "<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures>" in files["OFD.xml"].decode()
    listing = files["Doc_0/Signs/Signatures.xml"].decode()
    assert 'BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"' in listing and "<ofd:MaxSignId>1</" in listing
    xml = files["Doc_0/Signs/Sign_0/Signature.xml"].decode()
    assert f"<ofd:SignatureMethod>{sm2.SM2_SM3_OID}</" in xml and f'CheckMethod="{sm2.SM3_OID}"' in xml
    for name in ("/OFD.xml", "/Doc_0/Document.xml", "/Doc_0/Pages/Page_0/Content.xml", "/Doc_0/PublicRes.xml"):
        assert f'FileRef="{name}"' in xml
        check = base64.b64encode(sm2.sm3(files[name[1:]])).decode()
        assert check in xml
    assert "Signatures.xml" not in xml.split("<ofd:References")[1]  # the one file sealing changes later
    assert '<ofd:StampAnnot ID="1" PageRef="1" Boundary="130 220 42 42"' in xml
    facts = ses_of(files)
    assert facts.data_hash == sm2.sm3(files["Doc_0/Signs/Sign_0/Signature.xml"])
    assert facts.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    seal = gb38540.decode_seal(facts.seal_der)
    assert seal.name == f"{ORG_NAME}公章" and seal.picture_type == "PNG" and (seal.width_mm, seal.height_mm) == (40, 40)
    assert seal.certs[0].dump() == facts.signer.dump()


def test_raw_sm2_signatures_in_the_package_verify_with_openssl(
    module_rt: Runtime, sealed: Path, tmp_path: Path
) -> None:
    a = gb_context(module_rt).authority
    files = package(sealed)
    facts = ses_of(files)
    # The signer's SM2 signature over TBS_Sign, and the seal maker's over the seal (GB/T 38540 §6.2.2, §7.2.2).
    assert_sm2(tmp_path, facts.signer.public_key.dump(), facts.signature, facts.tbs_der)
    assert_sm2(tmp_path, facts.signer.public_key.dump(), facts.signature, facts.tbs_der + b"x", ok=False)
    seal = gb38540.decode_seal(facts.seal_der)
    assert_sm2(tmp_path, seal.maker.public_key.dump(), seal.signature,
               gb38540.seal_tbs(gb38540.SeSeal.load(facts.seal_der)))  # fmt: skip
    assert_link(tmp_path, facts.signer, a.issuing.cert)
    assert_link(tmp_path, seal.maker, a.issuing.cert)
    # The time-stamp token over the signature value: openssl parses it, checks the imprint, and its signer's
    # SM2 signature over the signed attributes.
    assert facts.timestamp is not None
    (tmp_path / "tst.der").write_bytes(facts.timestamp)
    (tmp_path / "value.bin").write_bytes(facts.signature)
    reply = openssl("ts", "-reply", "-token_in", "-in", tmp_path / "tst.der", "-token_out", "-text")
    assert reply.returncode == 0 and b"Hash Algorithm: sm3" in reply.stdout, reply.stderr
    assert sm2.sm3(facts.signature).hex()[:8] in reply.stdout.decode().replace(" ", "").replace("-", "")
    token = cms.ContentInfo.load(facts.timestamp)
    signer_info = token["content"]["signer_infos"][0]
    attrs = signer_info["signed_attrs"].untag().dump()
    assert_sm2(tmp_path, a.tsa.cert.public_key.dump(), signer_info["signature"].native, attrs)
    tst = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].contents)
    assert tst["message_imprint"]["hashed_message"].native == sm2.sm3(facts.signature)
    assert_link(tmp_path, a.tsa.cert, a.issuing.cert)


def test_verify_reports_a_valid_seal(sealed: Path) -> None:
    code, report = verify_cli(sealed)
    assert code == 0, report
    (sig,) = report["signatures"]  # type: ignore[misc]
    assert sig["valid"] and sig["integrity"] == "intact" and sig["trusted"] and sig["revocation"] == "good"
    assert sig["timestamp"]["valid"] and sig["files_checked"] == 4 and not sig["problems"]
    text = cli("verify", sealed)
    assert text.exit_code == 0 and "VALID" in text.stdout and "chain to our SM2 root: trusted" in text.stdout


def _rewrite(source: Path, target: Path, change: Callable[[ofd.Package], None]) -> Path:
    files = package(source)
    change(files)
    target.write_bytes(ofd.write_package(files))
    return target


def test_a_changed_file_in_the_package_is_reported(sealed: Path, tmp_path: Path) -> None:
    def edit(files: ofd.Package) -> None:
        page = "Doc_0/Pages/Page_0/Content.xml"
        files[page] = files[page].replace(b"Seal below", b"Pay 10000")

    code, report = verify_cli(_rewrite(sealed, tmp_path / "t.ofd", edit))
    (sig,) = report["signatures"]  # type: ignore[misc]
    assert code == 1 and not sig["valid"] and sig["integrity"] == "BROKEN"
    assert any("Content.xml was changed" in p for p in sig["problems"])


def test_an_added_page_file_is_reported(sealed: Path, tmp_path: Path) -> None:
    def add(files: ofd.Package) -> None:
        files["Doc_0/Pages/Page_1/Content.xml"] = files["Doc_0/Pages/Page_0/Content.xml"]

    code, report = verify_cli(_rewrite(sealed, tmp_path / "t.ofd", add))
    assert code == 1 and any("added after sealing" in p for p in report["signatures"][0]["problems"])  # type: ignore[index]


def test_a_changed_signature_xml_is_reported(sealed: Path, tmp_path: Path) -> None:
    def move(files: ofd.Package) -> None:
        path = "Doc_0/Signs/Sign_0/Signature.xml"
        files[path] = files[path].replace(b'Boundary="130 220 42 42"', b'Boundary="10 10 42 42"')

    code, report = verify_cli(_rewrite(sealed, tmp_path / "t.ofd", move))
    (sig,) = report["signatures"]  # type: ignore[misc]
    assert code == 1 and not sig["valid"] and any("Signature.xml was changed" in p for p in sig["problems"])


def test_a_forged_signature_value_is_reported(sealed: Path, tmp_path: Path) -> None:
    """Signature.xml's digest recomputed into dataHash, but the SM2 signature cannot follow."""

    def forge(files: ofd.Package) -> None:
        path = "Doc_0/Signs/Sign_0/Signature.xml"
        files[path] = files[path].replace(b'Boundary="130 220 42 42"', b'Boundary="10 10 42 42"')
        ses = gb38540.SesSignature.load(files["Doc_0/Signs/Sign_0/SignedValue.dat"])
        old = bytes(ses["toSign"]["dataHash"].contents[1:])
        files["Doc_0/Signs/Sign_0/SignedValue.dat"] = ses.dump().replace(old, sm2.sm3(files[path]))

    code, report = verify_cli(_rewrite(sealed, tmp_path / "t.ofd", forge))
    (sig,) = report["signatures"]  # type: ignore[misc]
    assert (
        code == 1 and not sig["signature_valid"] and any("SM2 signature does not verify" in p for p in sig["problems"])
    )


@pytest.fixture(scope="module")
def countersigned(org: str, sealed: Path, workdir: Path) -> Path:
    second = make_seal("--kind", "notice")
    out = workdir / "countersigned.ofd"
    done = cli("seal", "sign", second, sealed, out, "--kind", "notice", "--x", "60", "--json")
    assert done.exit_code == 0, done.stderr
    return out


def test_countersigning_keeps_the_earlier_seal_valid(countersigned: Path) -> None:
    code, report = verify_cli(countersigned)
    sigs = report["signatures"]
    assert code == 0 and len(sigs) == 2 and all(s["valid"] for s in sigs), sigs  # type: ignore[union-attr]
    files = package(countersigned)
    second_xml = files["Doc_0/Signs/Sign_1/Signature.xml"].decode()
    assert 'FileRef="/Doc_0/Signs/Sign_0/SignedValue.dat"' in second_xml  # the countersignature protects the first
    assert "<ofd:MaxSignId>2</" in files["Doc_0/Signs/Signatures.xml"].decode()


def test_a_seal_by_a_foreign_authority_is_reported(module_rt: Runtime, sealed: Path, tmp_path: Path) -> None:
    """Someone else's maker and CA, with a seal that looks like ours: every signature verifies, nothing is ours."""
    now = sm_pki.now_utc()
    key = sm2.generate()
    foreign_root = sm_pki.build_certificate(
        subject=sm_pki.name("Yiwang SM2 Root CA"), spki_der=sm2.spki(key.public_key()), issuer=None, signing_key=key,
        not_before=now - timedelta(hours=1), not_after=now + timedelta(days=30),
        extensions=[("basic_constraints", {"ca": True}, True)],
    )  # fmt: skip
    root = sm_pki.SmIdentity("foreign", foreign_root, key)
    signer_key = sm2.generate()
    signer_cert = sm_pki.build_certificate(
        subject=sm_pki.name("冒充公章", ORG_NAME, f"NTRCN-{USCC}"), spki_der=sm2.spki(signer_key.public_key()),
        issuer=root, signing_key=key, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=30),
        extensions=[],
    )  # fmt: skip
    seal_der = gb38540.make_seal(
        gb38540.SealSpec("forged", f"{ORG_NAME}公章", 1, [signer_cert.dump()], now, now - timedelta(hours=1),
                         now + timedelta(days=30), b"png", 40, 40),
        foreign_root.dump(), key,
    )  # fmt: skip
    signer = gb_seals.GbSigner("forged", signer_key, signer_cert.dump(), seal_der)
    data = ofd_seal.seal_package(
        one_page_ofd(),
        lambda h, p: gb_seals.sign_hash(signer, h, p, tsa=None, tsa_chain=[]).ses_signature,
        ofd_seal.StampPlacement(),
    ).data
    report = ofd_verify.verify_ofd(data, sm_trust(module_rt, gb_context(module_rt)))
    (sig,) = report.signatures
    assert sig.signature_valid and sig.integrity == "intact"
    assert not report.valid and not sig.trusted
    assert "the seal was not made by our seal-making authority" in sig.problems


def test_an_expired_seal_is_reported(module_rt: Runtime, seal_id: str) -> None:
    """A seal whose validity ended before it was used (made by our maker, listing our certificate)."""
    gb = gb_context(module_rt)
    with module_rt.transaction() as session:
        row = session.get(Seal, seal_id)
        assert row is not None
        signer = gb_seals.GbSigner.of(row, module_rt.master)
    now = sm_pki.now_utc()
    expired = gb38540.make_seal(
        gb38540.SealSpec("expired", "过期印章", 1, [signer.cert_der], now - timedelta(days=30),
                         now - timedelta(days=30), now - timedelta(days=1), b"png", 40, 40),
        gb.authority.maker.der, gb.authority.maker.key,
    )  # fmt: skip
    old = gb_seals.GbSigner(signer.seal_id, signer.key, signer.cert_der, expired)
    data = ofd_seal.seal_package(
        one_page_ofd(),
        lambda h, p: (
            gb_seals.sign_hash(old, h, p, tsa=gb.authority.tsa, tsa_chain=[gb.authority.issuing.cert]).ses_signature
        ),
        ofd_seal.StampPlacement(),
    ).data
    report = ofd_verify.verify_ofd(data, sm_trust(module_rt, gb_context(module_rt)))
    (sig,) = report.signatures
    assert sig.signature_valid and sig.trusted and not report.valid
    assert sig.problems == ["the seal was outside its validity period when it was used"]


def test_a_revoked_seal_certificate_is_reported(org: str, workdir: Path) -> None:
    seal = make_seal()
    out = workdir / "to-revoke.ofd"
    source = workdir / "plain.ofd"
    source.write_bytes(one_page_ofd())
    assert cli("seal", "sign", seal, source, out).exit_code == 0
    assert verify_cli(out)[0] == 0
    revoked = cli("seal", "revoke", seal, "--reason", "key_compromise", "--json")
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked", revoked.stderr
    code, report = verify_cli(out)
    (sig,) = report["signatures"]  # type: ignore[misc]
    assert code == 1 and sig["revocation"] == "revoked"
    assert any("revoked (key_compromise)" in p for p in sig["problems"])
    refused = cli("seal", "sign", seal, source, workdir / "never.ofd")
    assert refused.exit_code == 1 and "revoked" in refused.stderr and not (workdir / "never.ofd").exists()


def test_revocation_after_a_time_stamped_seal_keeps_it_valid(org: str, workdir: Path) -> None:
    seal = make_seal()
    out = workdir / "before-revocation.ofd"
    source = workdir / "plain2.ofd"
    source.write_bytes(one_page_ofd())
    assert cli("seal", "sign", seal, source, out).exit_code == 0
    with time_machine.travel(sm_pki.now_utc() + timedelta(minutes=5)):
        assert cli("seal", "revoke", seal, "--reason", "superseded").exit_code == 0
    code, report = verify_cli(out)
    assert code == 0 and report["signatures"][0]["revocation"] == "revoked_after_signing"  # type: ignore[index]


def test_policies_apply_unchanged_to_gb_seals(module_rt: Runtime, org: str, workdir: Path) -> None:
    seal = make_seal("--kind", "contract", "--daily-cap", "1")
    source = workdir / "policy.ofd"
    source.write_bytes(one_page_ofd())
    wrong_kind = cli("seal", "sign", seal, source, workdir / "p1.ofd", "--kind", "notice")
    assert wrong_kind.exit_code == 1 and "does not cover documents of kind notice" in wrong_kind.stderr
    assert cli("seal", "sign", seal, source, workdir / "p2.ofd", "--kind", "contract").exit_code == 0
    capped = cli("seal", "sign", seal, source, workdir / "p3.ofd", "--kind", "contract")
    assert capped.exit_code == 1 and "daily cap" in capped.stderr and not (workdir / "p3.ofd").exists()
    with module_rt.transaction() as session:
        records = session.scalar(
            select(func.count()).select_from(SignatureRecord).where(SignatureRecord.seal_id == seal)
        )
        usage = session.scalar(select(SealUsage.count).where(SealUsage.seal_id == seal))
        refusals = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "seal.sign", AuditEvent.outcome == "refused", AuditEvent.subject == seal)
        )
    assert records == 1 and usage == 1 and refusals == 2


def test_a_pades_seal_does_not_seal_ofd_and_bad_packages_are_clear_errors(org: str, workdir: Path) -> None:
    made = cli("seal", "create", "--org", USCC, "--type", "finance", "--json")
    pades_seal = json.loads(made.stdout)["id"]
    source = workdir / "x.ofd"
    source.write_bytes(one_page_ofd())
    refused = cli("seal", "sign", pades_seal, source, workdir / "y.ofd")
    assert refused.exit_code == 1 and "PAdES seal" in refused.stderr
    broken = workdir / "broken.ofd"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("Doc_0/Document.xml", "<x/>")
    code = cli("verify", broken)
    assert code.exit_code == 2 and "OFD.xml is missing" in code.stderr


# --- The seal itself: show, export ------------------------------------------------------------------------------


def test_seal_show_and_export(seal_id: str, workdir: Path, tmp_path: Path) -> None:
    shown = cli("seal", "show", seal_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["format"] == "gb38540" and data["ses_seal"]["header"] == {"id": "ES", "version": 4, "vid": "YIWANG"}
    assert data["ses_seal"]["name"] == f"{ORG_NAME}公章" and data["ses_seal"]["type"] == "organisation"
    out = workdir / "seal.der"
    assert cli("seal", "export", seal_id, out).exit_code == 0
    der = out.read_bytes()
    assert gb38540.verify_seal_signature(der)
    parsed = openssl("asn1parse", "-inform", "DER", "-in", out).stdout.decode()
    assert ":ES" in parsed and "1.2.156.10197.1.501" in parsed.replace("SM2-with-SM3", "1.2.156.10197.1.501")
    text = cli("seal", "show", seal_id)
    assert "ses_seal.header: id=ES, version=4, vid=YIWANG" in text.stdout


# --- Render -----------------------------------------------------------------------------------------------------


def test_render_draws_the_page_with_the_seal(sealed: Path, workdir: Path) -> None:
    out = workdir / "page.png"
    done = cli("render", sealed, out)
    assert done.exit_code == 0, done.stderr
    image = Image.open(io.BytesIO(out.read_bytes())).convert("RGB")
    assert image.size == (794, 1123)  # A4 at 96 dpi
    scale = 96 / 25.4
    centre = (round((130 + 21) * scale), round((220 + 21) * scale))
    box = image.crop((centre[0] - 70, centre[1] - 70, centre[0] + 70, centre[1] + 70))
    reds = sum(1 for r, g, b in box.get_flattened_data() if r > 180 and g < 90 and b < 90)
    assert reds > 500  # the seal's red ring is where the StampAnnot puts it
    text_row = image.crop((70, 100, 600, 160))
    assert any(sum(px) < 200 for px in text_row.get_flattened_data())  # the page's text is drawn too


def test_sm2_pki_endpoints_serve_what_certificates_point_to(
    module_rt: Runtime, seal_id: str, server: str, tmp_path: Path
) -> None:
    """openssl, as a relying party, asks our SM2 OCSP responder over HTTP and fetches the CRL the certificate
    names; both answers are signed by our SM2 keys (checked over their exact signed bytes)."""
    a = gb_context(module_rt).authority
    with module_rt.transaction() as session:
        row = session.get(Seal, seal_id)
        assert row is not None
        cert = asn1_x509.Certificate.load(row.cert_der)
    (ocsp_url,) = [
        d["access_location"] for d in cert.authority_information_access_value.native if d["access_method"] == "ocsp"
    ]
    assert ocsp_url == f"{server}/pki/sm2/ocsp"
    issuing = pem_file(tmp_path / "issuing.pem", a.issuing.cert)
    done = openssl(
        "ocsp", "-issuer", issuing, "-cert", pem_file(tmp_path / "seal.pem", cert), "-url", ocsp_url,
        "-noverify", "-resp_text", "-respout", tmp_path / "resp.der",
    )  # fmt: skip
    assert done.returncode == 0 and b": good" in done.stdout, done.stdout + done.stderr
    basic = asn1_ocsp.OCSPResponse.load((tmp_path / "resp.der").read_bytes()).basic_ocsp_response
    assert basic["tbs_response_data"]["response_extensions"][0]["extn_id"].native == "nonce"  # openssl's, echoed
    assert_sm2(tmp_path, a.ocsp.cert.public_key.dump(), basic["signature"].native, basic["tbs_response_data"].dump())
    (crl_url,) = cert.crl_distribution_points[0].url.split()
    crl = httpx.get(crl_url).content
    parsed = asn1_crl.CertificateList.load(crl)
    assert_sm2(tmp_path, a.issuing.cert.public_key.dump(), parsed["signature"].native, parsed["tbs_cert_list"].dump())
    root = httpx.get(f"{server}/pki/sm2/root-ca.cer")
    assert root.status_code == 200 and root.content == a.root.der
    foreign = httpx.post(f"{server}/pki/sm2/ocsp", content=b"\x30\x03\x02\x01\x01")
    assert asn1_ocsp.OCSPResponse.load(foreign.content)["response_status"].native == "malformed_request"


def test_a_gb_seal_makes_no_pades_or_csc_signature(seal_id: str, ctx: SigningContext, workdir: Path) -> None:
    pdf = workdir / "doc.pdf"
    pdf.write_bytes(one_page_pdf())
    refused = cli("seal", "sign", seal_id, pdf, workdir / "never.pdf")
    assert refused.exit_code == 1 and "seals OFD documents" in refused.stderr
    with ctx.services.transaction() as session:
        row = session.get(Seal, seal_id)
        assert row is not None
        row.policy = {**row.policy, "clients": ["csc-client"]}
    assert csc.credentials_list(ctx, "csc-client", {})["credentialIDs"] == []


def test_sm2_private_keys_are_sealed_under_the_master_key(module_rt: Runtime, seal_id: str) -> None:
    a = gb_context(module_rt).authority
    with module_rt.transaction() as session:
        rows = {row.role: row for row in session.scalars(select(PkiEntity).where(PkiEntity.role.in_(sm_pki.ROLES)))}
        seal = session.get(Seal, seal_id)
        assert seal is not None and seal.sealed_key is not None
        seal_row = (seal.id, seal.sealed_key)
    assert set(rows) == set(sm_pki.ROLES)
    for role, row in rows.items():
        assert sm2.private_der(a.by_role(role).key) not in row.sealed_key
        with pytest.raises(keys.DecryptionError):
            sm_pki.open_key(module_rt.master, row.sealed_key, sm_pki.TSA if role != sm_pki.TSA else sm_pki.OCSP)
    with pytest.raises(keys.DecryptionError):  # a seal's key opens for that seal only
        sm_pki.open_key(module_rt.master, seal_row[1], gb_seals.seal_label("another"))
    assert sm_pki.open_key(module_rt.master, seal_row[1], gb_seals.seal_label(seal_row[0]))


def test_a_seal_holder_can_mint_neither_a_seal_nor_a_time_stamp(module_rt: Runtime, seal_id: str) -> None:
    """A seal's own key holds a certificate from our CA: it still makes no seal we accept (only our maker does),
    and no time-stamp we trust (no time-stamping EKU) — so it cannot backdate a signature past a revocation."""
    gb = gb_context(module_rt)
    with module_rt.transaction() as session:
        row = session.get(Seal, seal_id)
        assert row is not None
        holder = gb_seals.GbSigner.of(row, module_rt.master)
    holder_cert = asn1_x509.Certificate.load(holder.cert_der)
    now = sm_pki.now_utc()
    minted = gb38540.make_seal(
        gb38540.SealSpec("minted", "某某市人民政府公章", 1, [holder.cert_der], now, now - timedelta(days=1),
                         now + timedelta(days=3650), b"png", 40, 40),
        holder.cert_der, holder.key,
    )  # fmt: skip
    self_made = gb_seals.GbSigner(holder.seal_id, holder.key, holder.cert_der, minted)
    fake_tsa = sm_pki.SmIdentity("holder", holder_cert, holder.key)

    def seal_with(signer: gb_seals.GbSigner, tsa: sm_pki.SmIdentity) -> ofd_verify.SealReport:
        data = ofd_seal.seal_package(
            one_page_ofd(),
            lambda h, p: gb_seals.sign_hash(signer, h, p, tsa=tsa, tsa_chain=[gb.authority.issuing.cert]).ses_signature,
            ofd_seal.StampPlacement(),
        ).data
        (report,) = ofd_verify.verify_ofd(data, sm_trust(module_rt, gb)).signatures
        return report

    minted_report = seal_with(self_made, gb.authority.tsa)
    assert minted_report.signature_valid and minted_report.trusted and not minted_report.valid
    assert minted_report.problems == ["the seal was not made by our seal-making authority"]
    stamped = seal_with(holder, fake_tsa)
    assert stamped.timestamp is not None and not stamped.timestamp.valid and not stamped.valid
    assert seal_with(holder, gb.authority.tsa).valid  # the same seal and our real TSA: valid


def test_bad_national_format_commands_are_one_line_errors(org: str, seal_id: str, workdir: Path) -> None:
    pkcs11 = cli("seal", "create", "--org", USCC, "--type", "official", "--format", "gb38540", "--pkcs11")
    assert pkcs11.exit_code == 1 and "software SM2 key" in pkcs11.stderr
    fmt = cli("seal", "create", "--org", USCC, "--type", "official", "--format", "xades")
    assert fmt.exit_code == 1 and "--format must be" in fmt.stderr
    pades_seal = json.loads(cli("seal", "create", "--org", USCC, "--type", "finance", "--json").stdout)["id"]
    export = cli("seal", "export", pades_seal, workdir / "none.der")
    assert export.exit_code == 1 and "only gb38540 seals" in export.stderr and not (workdir / "none.der").exists()
    pdf = workdir / "plain.pdf"
    pdf.write_bytes(one_page_pdf())
    render = cli("render", pdf, workdir / "none.png")
    assert render.exit_code == 1 and render.stderr.startswith("error: not an OFD package")
    unsealed = workdir / "unsealed.ofd"
    unsealed.write_bytes(one_page_ofd())
    nothing = cli("verify", unsealed)
    assert nothing.exit_code == 1 and "no seals" in nothing.stdout
    far_page = cli("seal", "sign", seal_id, unsealed, workdir / "never2.ofd", "--page", "3", "--kind", "notice")
    assert far_page.exit_code == 1 and "no page 3" in far_page.stderr and not (workdir / "never2.ofd").exists()


def test_an_expired_gb_seal_seals_nothing_and_revoking_twice_is_a_conflict(org: str, workdir: Path) -> None:
    seal = make_seal("--days", "1")
    source = workdir / "later.ofd"
    source.write_bytes(one_page_ofd())
    with time_machine.travel(sm_pki.now_utc() + timedelta(days=2)):
        late = cli("seal", "sign", seal, source, workdir / "late.ofd")
    assert late.exit_code == 1 and "outside its validity period" in late.stderr
    assert cli("seal", "revoke", seal).exit_code == 0
    again = cli("seal", "revoke", seal)
    assert again.exit_code == 1 and "already revoked" in again.stderr


def test_a_countersignature_taken_off_the_list_is_reported(countersigned: Path, tmp_path: Path) -> None:
    """Signatures.xml is the file no seal protects; dropping a seal from it still shows."""

    def unlist(files: ofd.Package) -> None:
        listing = "Doc_0/Signs/Signatures.xml"
        text = files[listing].decode()
        start = text.index('<ofd:Signature ID="2"')
        files[listing] = (text[:start] + text[text.index("/>", start) + 2 :]).encode()

    code, report = verify_cli(_rewrite(countersigned, tmp_path / "t.ofd", unlist))
    sigs = report["signatures"]
    assert code == 1 and sigs[0]["valid"] and not sigs[1]["valid"]  # type: ignore[index]
    assert sigs[1]["problems"] == ["this seal is in the package but not listed"]  # type: ignore[index]
