"""`yiwang backup` / `yiwang restore`: into an empty database the audit trail still verifies, issued tokens and
seal signatures still verify; a file that was altered, the wrong master key or a database in use are refused
and change nothing."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner, Result

from idp import backup
from idp.cli.main import app as cli_app
from idp.db import make_engine
from idp.identity.uscc import org_code_check_char, uscc_check_char
from idp.oauth import tokens
from idp.oauth.signer import TokenSigner
from idp.records import organisations
from idp.runtime import Runtime, open_runtime
from idp.settings import Settings
from signing.sample import one_page_pdf
from tests.oauth.conftest import PHONE, Bench


def cli(*args: object) -> Result:
    return CliRunner().invoke(cli_app, [str(a) for a in args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def _uscc() -> str:
    org_code = "MA200099"
    base = f"91350102{org_code}{org_code_check_char(org_code)}"
    return base + uscc_check_char(base)


def _elsewhere(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str) -> Settings:
    """A new data directory and SQLite database holding only the master key, as a restore host would."""
    target = tmp_path / name
    (target / "keys").mkdir(parents=True)
    shutil.copy2(settings.master_key_path, target / "keys" / settings.master_key_path.name)
    url = f"sqlite:///{target / 'restored.db'}"
    monkeypatch.setenv("YIWANG_DATA_DIR", str(target))
    monkeypatch.setenv("YIWANG_DATABASE_URL", url)
    return Settings(data_dir=target, database_url=url)


def _rows(url: str) -> int:
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("persons"):
            return 0
        with engine.connect() as conn:
            return sum(int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in backup.tables())
    finally:
        engine.dispose()


def test_a_restored_database_verifies_its_trail_tokens_and_seals(
    bench: Bench, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = bench.tokens()["access_token"]
    with bench.rt.transaction() as session:
        organisations.add(
            session, bench.rt.protector, bench.rt.uscc_rules, uscc=_uscc(), name="某某局", kind="department"
        )
    seal = json.loads(ok(cli("seal", "create", "--org", _uscc(), "--type", "official", "--json")).stdout)
    source, signed = tmp_path / "in.pdf", tmp_path / "signed.pdf"
    source.write_bytes(one_page_pdf())
    ok(cli("seal", "sign", seal["id"], source, signed))
    ok(cli("audit", "seal"))

    archive = tmp_path / "yiwang.backup"
    ok(cli("backup", "--out", archive))
    assert archive.stat().st_mode & 0o777 == 0o600
    content = archive.read_bytes()
    for plain in (PHONE.encode(), b"persons", b"oauth_clients", "某某局".encode()):
        assert plain not in content  # sealed whole: not even table names or hashes are readable
    assert "exists" in cli("backup", "--out", archive).stderr  # never overwrites

    restored = _elsewhere(tmp_path, settings, monkeypatch, "restored")
    out = ok(cli("restore", "--from", archive)).stdout
    assert "restored" in out and _rows(restored.db_url) == _rows(settings.db_url)

    ok(cli("audit", "verify"))
    assert json.loads(ok(cli("verify", signed, "--json")).stdout)["signatures"][0]["valid"] is True
    rt = open_runtime(restored)
    try:
        with rt.transaction() as session:
            claims = tokens.verify_access_token(TokenSigner(rt), session, access, settings.issuer)
        assert claims["client_id"] == bench.rp.client_id
    finally:
        rt.close()

    before = _rows(restored.db_url)
    again = cli("restore", "--from", archive)
    assert again.exit_code != 0 and "not empty" in again.stderr
    assert _rows(restored.db_url) == before


def test_an_altered_file_or_another_master_key_restores_nothing(
    rt: Runtime, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "yiwang.backup"
    ok(cli("backup", "--out", archive))
    whole = archive.read_bytes()

    variants = {
        "flipped": whole[:-40] + bytes([whole[-40] ^ 1]) + whole[-39:],
        "cut": whole[: len(whole) // 2],
        "not a backup": b"PK\x03\x04" + whole[4:],
    }
    for name, data in variants.items():
        target = _elsewhere(tmp_path, settings, monkeypatch, name.replace(" ", "-"))
        damaged = tmp_path / f"{name}.backup"
        damaged.write_bytes(data)
        result = cli("restore", "--from", damaged)
        assert result.exit_code == 1 and result.stderr.startswith("error: "), (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert _rows(target.db_url) == 0, name

    other = _elsewhere(tmp_path, settings, monkeypatch, "other-key")
    (other.data_dir / "keys" / settings.master_key_path.name).write_bytes(base64.b64encode(bytes(range(32))) + b"\n")
    result = cli("restore", "--from", archive)
    assert result.exit_code == 1 and "master key" in result.stderr
    assert _rows(other.db_url) == 0
