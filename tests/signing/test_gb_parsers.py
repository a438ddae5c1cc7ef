"""Parsers of untrusted national-format input never fail in an unexpected way, and the national-format modules
stay free of the identity provider (they take sessions, keys and an audit sink as parameters)."""

from __future__ import annotations

import ast
import contextlib
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing import gb38540, gb_seals, ofd, ofd_seal, ofd_verify, sm2, sm_pki, sm_status
from signing.errors import UnprocessableOfd
from signing.ofd_sample import one_page_ofd

NATIONAL_MODULES = (
    "sm2", "sm_pki", "sm_status", "sm_tsa", "gb38540", "gb_seals", "gb_sealing",
    "ofd", "ofd_seal", "ofd_verify", "ofd_render", "ofd_sample",
)  # fmt: skip
SIGNING = Path(__file__).resolve().parents[2] / "signing"


@pytest.mark.parametrize("module", NATIONAL_MODULES)
def test_national_modules_import_nothing_from_idp(module: str) -> None:
    tree = ast.parse((SIGNING / f"{module}.py").read_text())
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) else []
        )
    ]  # fmt: skip
    assert not [n for n in imported if n == "idp" or n.startswith("idp.")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_a_seal_or_a_value_error(data: bytes) -> None:
    for decode in (gb38540.decode_seal, gb38540.decode_signature):
        with contextlib.suppress(ValueError):
            decode(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.integers(min_value=0, max_value=3000))
def test_corrupted_packages_are_unprocessable_or_reported(noise: bytes, at: int) -> None:
    data = bytearray(one_page_ofd())
    at = min(at, len(data) - 1)
    data[at : at + len(noise)] = noise
    trust = ofd_verify.SmTrust(root=None, issuing=None, crl=b"")  # type: ignore[arg-type]
    try:
        report = ofd_verify.verify_ofd(bytes(data), trust)
    except UnprocessableOfd:
        return
    assert not report.valid  # never a seal where there is none


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abc./\\\x00 ", min_size=1, max_size=12), min_size=1, max_size=4))
def test_package_paths_never_leave_the_package(parts: list[str]) -> None:
    path = "/".join(parts)
    try:
        clean = ofd.normalise(path)
    except UnprocessableOfd:
        return
    assert not clean.startswith("/") and ".." not in clean.split("/") and "\x00" not in clean


def test_zip_bombs_and_duplicates_are_refused() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", b"<a/>")
        archive.writestr("big.bin", b"\0" * (ofd.MAX_UNPACKED + 1))
    with pytest.raises(UnprocessableOfd, match="unpacks to too much"):
        ofd.read_package(bomb.getvalue())
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as archive:
        archive.writestr("OFD.xml", b"<a/>")
        archive.writestr("/OFD.xml", b"<b/>")
    with pytest.raises(UnprocessableOfd, match="twice"):
        ofd.read_package(twice.getvalue())


def _hierarchy() -> tuple[ofd_verify.SmTrust, gb_seals.GbSigner]:
    """A throw-away SM2 hierarchy in memory (root → issuing → maker, seal), with an empty CRL."""
    now = sm_pki.now_utc()
    window = {"not_before": now - timedelta(hours=1), "not_after": now + timedelta(days=3)}
    urls = sm_pki.SmUrls("http://127.0.0.1")

    def identity(role: str, issuer: sm_pki.SmIdentity | None) -> sm_pki.SmIdentity:
        key = sm2.generate()
        cert = sm_pki.build_certificate(
            subject=sm_pki.name(role), spki_der=sm2.spki(key.public_key()), issuer=issuer,
            signing_key=issuer.key if issuer else key, extensions=sm_pki._profile(role, urls), **window,
        )  # fmt: skip
        return sm_pki.SmIdentity(role, cert, key)

    root = identity(sm_pki.ROOT, None)
    issuing = identity(sm_pki.ISSUING, root)
    maker = identity(sm_pki.MAKER, issuing)
    holder = identity(sm_pki.MAKER, issuing)  # any end-entity profile will do for the seal's certificate
    seal = gb38540.make_seal(
        gb38540.SealSpec("p", "测试章", 1, [holder.der], now, now - timedelta(hours=1), now + timedelta(days=3),
                         b"png", 40, 40),
        maker.der, maker.key,
    )  # fmt: skip
    session_free_crl = sm_status.build_crl_for(issuing, [], 1, now)
    trust = ofd_verify.SmTrust(root=root.cert, issuing=issuing.cert, crl=session_free_crl, maker=maker.cert)
    return trust, gb_seals.GbSigner("p", holder.key, holder.der, seal)


HIERARCHY = _hierarchy()


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40), min_size=1, max_size=4
    ),
    st.integers(min_value=1, max_value=3),
)
def test_any_text_document_sealed_any_number_of_times_verifies(lines: list[str], times: int) -> None:
    trust, signer = HIERARCHY
    data = one_page_ofd(tuple(lines))
    for _ in range(times):
        data = ofd_seal.seal_package(
            data,
            lambda h, p: gb_seals.sign_hash(signer, h, p, tsa=None, tsa_chain=[]).ses_signature,
            ofd_seal.StampPlacement(),
        ).data
    report = ofd_verify.verify_ofd(data, trust)
    assert report.valid and len(report.signatures) == times, [s.problems for s in report.signatures]
