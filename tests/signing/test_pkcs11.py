"""Seal keys in an HSM through PKCS#11, with SoftHSM2: generated on the token, never in the database, and
the sealed PDF verified by us and by pdfsig like any other."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from typer.testing import CliRunner, Result

from idp.cli.main import app as cli_app
from idp.records import organisations
from idp.runtime import Runtime
from signing import pkcs11_keys, pki
from signing.context import SigningContext
from signing.models import Seal
from signing.ports import Pkcs11Config
from signing.sample import one_page_pdf

Tool = Callable[[str], str]
USCC = "91110000600037341L"
PIN = "4321"


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


@pytest.fixture(scope="module")
def token(tool: Tool, tmp_path_factory: pytest.TempPathFactory, module_rt: Runtime) -> Iterator[str]:
    tool("softhsm2-util")
    if not Path(pkcs11_keys.DEFAULT_MODULE).exists():
        pytest.fail(f"softhsm2-util is installed but {pkcs11_keys.DEFAULT_MODULE} is missing")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", "yiwang-test", "--pin", PIN, "--so-pin", "87654321"],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        )
        mp.setenv("YIWANG_PKCS11_TOKEN", "yiwang-test")
        mp.setenv("YIWANG_PKCS11_PIN", PIN)
        with module_rt.transaction() as session:
            organisations.add(
                session, module_rt.protector, module_rt.uscc_rules, uscc=USCC, name="某某市财政局", kind="department"
            )
        yield "yiwang-test"


@pytest.mark.parametrize("key_alg", ["ec-p256", "rsa-2048"])
def test_hsm_seal_signs_and_verifies(token: str, module_rt: Runtime, workdir: Path, key_alg: str) -> None:
    made = cli("seal", "create", "--org", USCC, "--type", "finance", "--pkcs11", "--key-alg", key_alg, "--json")
    assert made.exit_code == 0, made.stderr
    seal_id = json.loads(made.stdout)["id"]
    with module_rt.transaction() as session:
        row = session.get(Seal, seal_id)
        assert row is not None
        assert row.key_backend == "pkcs11" and row.sealed_key is None
        assert row.pkcs11_label == pkcs11_keys.label_for(seal_id)

    # On the token: the private key exists, is sensitive and cannot be exported.
    session, lock = pkcs11_keys._session(Pkcs11Config(module=pkcs11_keys.DEFAULT_MODULE, token=token, pin=PIN))
    with lock:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=pkcs11_keys.label_for(seal_id))
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.PKCS11Error):
            key[Attribute.VALUE]  # noqa: B018

    source, out = workdir / f"hsm-in-{key_alg}.pdf", workdir / f"hsm-{key_alg}.pdf"
    source.write_bytes(one_page_pdf())
    signed = cli("seal", "sign", seal_id, source, out)
    assert signed.exit_code == 0, signed.stderr
    verified = cli("verify", out, "--json")
    assert verified.exit_code == 0, verified.stdout
    (sig,) = json.loads(verified.stdout)["signatures"]
    assert sig["valid"] and sig["long_term"] and sig["uscc"] == USCC


@pytest.fixture(scope="module")
def hsm_sealed_pdf(token: str, workdir: Path) -> Path:
    """A PDF sealed with an HSM-held EC key, made here so that a test using it stands alone."""
    made = cli("seal", "create", "--org", USCC, "--type", "contract", "--pkcs11", "--key-alg", "ec-p256", "--json")
    assert made.exit_code == 0, made.stderr
    source, out = workdir / "hsm-alone-in.pdf", workdir / "hsm-alone.pdf"
    source.write_bytes(one_page_pdf())
    signed = cli("seal", "sign", json.loads(made.stdout)["id"], source, out)
    assert signed.exit_code == 0, signed.stderr
    return out


def test_pdfsig_accepts_the_hsm_seal(tool: Tool, server: str, ctx: SigningContext, workdir: Path,
                                     hsm_sealed_pdf: Path) -> None:  # fmt: skip
    out = hsm_sealed_pdf
    tool("pdfsig")
    tool("certutil")
    db = workdir / "nss-hsm"
    db.mkdir(exist_ok=True)
    root = workdir / "hsm-root.pem"
    root.write_text(pki.pem([ctx.authority.root.cert]))
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C", "-a", "-i", str(root)],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(["pdfsig", "-nssdir", f"sql:{db}", str(out)], capture_output=True, text=True, timeout=60)
    assert "Signature is Valid." in done.stdout and "Certificate is Trusted." in done.stdout, done.stdout


def test_hsm_misconfiguration_is_a_clear_error(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIWANG_PKCS11_TOKEN", "no-such-token")
    result = cli("seal", "create", "--org", USCC, "--type", "finance", "--pkcs11")
    assert result.exit_code == 1 and "no PKCS#11 token labelled no-such-token" in result.stderr
    monkeypatch.delenv("YIWANG_PKCS11_PIN")
    result = cli("seal", "create", "--org", USCC, "--type", "finance", "--pkcs11")
    assert result.exit_code == 1 and "PKCS#11 is not configured" in result.stderr
