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

import pytest
import time_machine
from asn1crypto import cms, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto.algos import DSASignature
from asn1crypto import x509 as asn1_x509
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from idp.audit import AuditEvent
from idp.cli.main import app as cli_app
from idp.national_seals import gb_context, sm_trust
from idp.records import organisations, people
from idp.runtime import Runtime
from signing import gb38540, gb_seals, ofd, ofd_seal, ofd_verify, sm2, sm_pki, sm_status
from signing.models import Seal, SealUsage, SignatureRecord
from signing.ofd_sample import one_page_ofd
from tests.signing import sm2_reference as ref

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


def test_seal_certificate_crl_and_ocsp_verify_with_openssl(
    module_rt: Runtime, seal_id: str, tmp_path: Path
) -> None:
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
