"""Sealed PDFs per second, ours against stock pyHanko, on the same one-page PDF in the same run, one core.

    uv run python bench/signing_bench.py [--seconds 3]

Stock pyHanko is `SimpleSigner` with `PdfSigner` as its documentation shows it: pyHanko estimates the
signature size with a dry run, and B-LT is `embed_validation_info=True` with a `ValidationContext` holding the
same revocation data (no network). Both sides place the same visible seal and use the same in-process TSA, so
the difference is the signing path. "Ours (service)" adds what `yiwang seal sign` does around signing: policy
checks, the daily-cap counter, the signature record and the audit event in the database.

Also: CSC `signatures/signHash` per second for an ECDSA P-256 seal, in-process and over HTTP.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asn1crypto import keys as asn1_keys  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from PIL import Image  # noqa: E402
from pyhanko.pdf_utils.images import PdfImage  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: E402
from pyhanko.stamp import StaticStampStyle  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402


def rate(label: str, work: Callable[[], object], seconds: float, warmup: int = 2) -> float:
    for _ in range(warmup):
        work()
    n, start = 0, time.perf_counter()
    while True:
        work()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 5:
            break
    per_second = n / elapsed
    print(f"  {label:<44} {per_second:8.1f} /s   {1000 * elapsed / n:7.1f} ms each   (n={n})", flush=True)
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ.update({"YIWANG_DATA_DIR": str(tmp / "var"), "YIWANG_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}"})
    import logging

    from idp.records import organisations
    from idp.runtime import initialise, open_runtime
    from idp.settings import Settings
    from idp.signing_wiring import open_signing
    from signing import pades, sealing, seals
    from signing.policy import Policy, Requester
    from signing.sample import one_page_pdf

    logging.disable(logging.WARNING)  # pyHanko's "fetching is not allowed" notice, once per stock B-LT run
    settings = Settings()
    initialise(settings)
    rt = open_runtime(settings)
    ctx = open_signing(rt)
    with rt.transaction() as session:
        organisations.add(
            session,
            rt.protector,
            rt.uscc_rules,
            uscc="91110000600037341L",
            name="北京某某科技有限公司",
            kind="enterprise",
        )
    with rt.transaction() as session:
        seal = seals.create(
            session,
            ctx,
            uscc="91110000600037341L",
            seal_type="official",
            policy=Policy(),
        )
    material = sealing.material(ctx, seal)
    pdf = one_page_pdf()
    placement = pades.Placement()
    box = (380, 80, 500, 200)
    print(f"one-page PDF of {len(pdf)} bytes; seal key ECDSA P-256; CPU count {os.cpu_count()}; single thread")

    # --- stock pyHanko ---------------------------------------------------------------------------------------
    key = pki_key_der(ctx, seal)
    stock_signer = signers.SimpleSigner(
        signing_cert=material.cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(key),
        cert_registry=SimpleCertificateStore.from_certs(material.chain),
    )
    image = Image.open(io.BytesIO(seal.image_png))
    image.load()
    timestamper = sealing.timestamper(ctx)
    revocation = sealing.revocation_source(ctx, int(seal.cert_serial, 16))()

    def stock(level: str) -> Callable[[], object]:
        def run() -> object:
            vc = None
            if level == "B-LT":
                vc = ValidationContext(
                    trust_roots=[material.chain[-1]],
                    other_certs=material.chain,
                    ocsps=revocation.ocsps,
                    crls=revocation.crls,
                    allow_fetching=False,
                )
            meta = signers.PdfSignatureMetadata(
                field_name="Seal",
                md_algorithm="sha256",
                subfilter=SigSeedSubFilter.PADES,
                embed_validation_info=level == "B-LT",
                validation_context=vc,
            )
            signer = signers.PdfSigner(
                meta,
                signer=stock_signer,
                timestamper=timestamper if level != "B-B" else None,
                stamp_style=StaticStampStyle(background=PdfImage(image), border_width=0),
                new_field_spec=fields.SigFieldSpec(sig_field_name="Seal", on_page=0, box=box),
            )
            return signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))

        return run

    def ours(level: str) -> Callable[[], object]:
        def run() -> object:
            return pades.seal_pdf(
                pdf,
                material,
                placement,
                level=level,
                timestamper=timestamper if level != "B-B" else None,
                revocation=sealing.revocation_source(ctx, int(seal.cert_serial, 16)) if level == "B-LT" else None,
                field_name="Seal",
            )

        return run

    operator = Requester(kind="operator", name="bench", channel="bench")

    def service() -> object:
        return sealing.seal_document(ctx, seal.id, pdf, placement, requester=operator, level="B-LT")

    results: dict[str, tuple[float, float]] = {}
    print("\nsealed PDFs per second (visible seal, PAdES):")
    for level in ("B-B", "B-T", "B-LT"):
        theirs = rate(f"stock pyHanko SimpleSigner {level}", stock(level), args.seconds)
        mine = rate(f"ours {level}", ours(level), args.seconds)
        results[level] = (theirs, mine)
    rate("ours (service: policy, record, audit) B-LT", service, args.seconds)
    print("\nspeed-up per core, ours / stock:")
    for level, (theirs, mine) in results.items():
        print(f"  {level}: {mine / theirs:4.1f}x   ({mine:.1f} vs {theirs:.1f} per second)")

    csc_bench(ctx, rt, seal, args.seconds)


def pki_key_der(ctx: object, seal: object) -> bytes:
    from signing import pki, seals

    key = pki.open_private_key(ctx.services.master, seal.sealed_key, seals.seal_label(seal.id))  # type: ignore[attr-defined]
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def csc_bench(ctx: Any, rt: Any, seal: Any, seconds: float) -> None:
    """authorize + signHash in process (no HTTP), then over HTTP (uvicorn, one worker), ECDSA P-256."""
    from signing import csc

    print("\nCSC credentials/authorize + signatures/signHash, ECDSA P-256 seal:")
    client_id = "bench-client"
    with rt.transaction() as session:
        from signing.models import Seal

        row = session.get(Seal, seal.id)
        row.policy = {**row.policy, "clients": sorted({*row.policy.get("clients", []), client_id}), "daily_cap": None}

    def fresh(n: int) -> list[str]:
        return [base64.b64encode(hashlib.sha256(os.urandom(16)).digest()).decode() for _ in range(n)]

    def batch(n: int) -> Callable[[], object]:
        def run() -> object:
            hashes_b64 = fresh(n)
            body = {"credentialID": seal.id, "numSignatures": n, "hashes": hashes_b64}
            sad = csc.credentials_authorize(ctx, client_id, body)["SAD"]
            return csc.sign_hash(
                ctx,
                client_id,
                {
                    "credentialID": seal.id,
                    "SAD": sad,
                    "hashes": hashes_b64,
                    "hashAlgorithmOID": csc.SHA256_OID,
                    "signAlgo": csc.ECDSA_SHA256_OID,
                },
            )

        return run

    one = rate("in process, 1 hash per call (calls/s)", batch(1), seconds)
    hundred = rate("in process, 100 hashes per call (calls/s)", batch(100), seconds)
    print(f"  => {one:.0f} signatures/s one at a time, {100 * hundred:.0f} signatures/s in batches of 100")
    sign = csc.digest_signer(ctx, seal)
    raw = hashlib.sha256(b"bench").digest()
    rate("raw ECDSA P-256 over a digest (the floor)", lambda: sign(raw), seconds)
    http_bench(rt, seal, client_id, seconds, fresh)


def http_bench(rt: Any, seal: Any, client_id_unused: str, seconds: float, fresh: Callable[[int], list[str]]) -> None:
    """The same over HTTP: `yiwang serve` (one worker) in a subprocess, httpx keep-alive client here."""
    import socket
    import subprocess

    import httpx

    from idp.oauth.clients import create_client
    from signing import csc
    from signing.models import Seal

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with rt.transaction() as session:
        app = create_client(
            session, name="bench", redirect_uris=[], grant_types=["client_credentials"], scopes=["seal"]
        )
        row = session.get(Seal, seal.id)
        row.policy = {**row.policy, "clients": sorted({*row.policy.get("clients", []), app.client_id})}
    env = {**os.environ, "YIWANG_ISSUER": f"http://127.0.0.1:{port}", "YIWANG_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "idp.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(600):
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            got = http.post(
                "/token",
                data={"grant_type": "client_credentials", "scope": "seal"},
                auth=(app.client_id, app.client_secret or ""),
            )
            if got.status_code != 200:
                print(f"  HTTP: no token ({got.status_code} {got.text[:200]})")
                return
            token = got.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}

            def batch(n: int) -> Callable[[], object]:
                def run() -> object:
                    hashes_b64 = fresh(n)
                    got = http.post(
                        "/csc/v2/credentials/authorize",
                        headers=headers,
                        json={"credentialID": seal.id, "numSignatures": n, "hashes": hashes_b64},
                    )
                    assert got.status_code == 200, f"authorize: {got.status_code} {got.text[:300]}"
                    sad = got.json()["SAD"]
                    done = http.post(
                        "/csc/v2/signatures/signHash",
                        headers=headers,
                        json={
                            "credentialID": seal.id,
                            "SAD": sad,
                            "hashes": hashes_b64,
                            "hashAlgorithmOID": csc.SHA256_OID,
                            "signAlgo": csc.ECDSA_SHA256_OID,
                        },
                    )
                    assert done.status_code == 200, done.text
                    return done

                return run

            # idp.oauth.bearer re-reads an expired ClientCache entry (TTL 5 s) inside its own write transaction,
            # which deadlocks on SQLite until "database is locked" (reported to its owner). Until that is fixed,
            # each HTTP phase stays under the TTL and starts with a fresh /token call, which re-caches the client.
            window = min(seconds, 3.0)

            def recache() -> None:
                time.sleep(5.2)  # let the entry expire, then have /token (no transaction open) load it again
                http.post(
                    "/token",
                    data={"grant_type": "client_credentials", "scope": "seal"},
                    auth=(app.client_id, app.client_secret or ""),
                )

            recache()
            one = rate("HTTP, 1 hash per call (calls/s)", batch(1), window, warmup=1)
            recache()
            hundred = rate("HTTP, 100 hashes per call (calls/s)", batch(100), window, warmup=0)
            print(
                f"  => {one:.0f} signatures/s one at a time, {100 * hundred:.0f} signatures/s in batches of 100"
                " (server and load generator share the machine)"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
