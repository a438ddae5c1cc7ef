"""National-format (SM2, GB/T 38540) seals per second per core, next to the PAdES ECDSA path, in the same run.

    uv run python bench/gb_seal_bench.py [--seconds 3]

On the same one-page documents, one thread:
- SM2 alone: tongsuopy signatures and verifications (the floor under every SM2 seal);
- OFD: a GB/T 38540 seal put into the package (SES_Signature, Signature.xml with SM3 references, StampAnnot,
  Signatures.xml), without and with the SM2 time-stamp over the signature value; and the service path
  (`seal_ofd`: policy checks, daily cap, signature record and audit event in the database);
- PDF: an SM2 SES_Signature over the PDF (SM3 of the file, TBS_Sign with the seal, SM2, SM2 time-stamp):
  the national-format signature of a one-page PDF, detached (embedding it in the PDF is not done here);
- PAdES ECDSA P-256 on the same PDF through our pyHanko path (B-B, B-T) and the service path (B-LT);
- verification of a sealed OFD.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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
    print(f"  {label:<58} {per_second:8.1f} /s   {1000 * elapsed / n:7.2f} ms each   (n={n})", flush=True)
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    seconds = args.seconds

    tmp = Path(tempfile.mkdtemp(prefix="yiwang-gb-bench-"))
    os.environ.update({"YIWANG_DATA_DIR": str(tmp / "var"), "YIWANG_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}"})
    import logging

    from idp.records import organisations
    from idp.runtime import initialise, open_runtime
    from idp.settings import Settings
    from idp.signing_wiring import open_signing
    from signing import gb_sealing, gb_seals, national, ofd_seal, ofd_verify, pades, seal_image, sealing, seals, sm2
    from signing.ofd_sample import one_page_ofd
    from signing.policy import Policy, Requester
    from signing.sample import one_page_pdf

    logging.disable(logging.WARNING)
    settings = Settings()
    initialise(settings)
    rt = open_runtime(settings)
    ctx = open_signing(rt)
    gb = national.gb_context(ctx)
    uscc = "91110000600037341L"
    with rt.transaction() as session:
        org = organisations.add(
            session, rt.protector, rt.uscc_rules, uscc=uscc, name="北京某某科技有限公司", kind="enterprise"
        )
        pades_seal = seals.create(session, ctx, uscc=uscc, seal_type="official", policy=Policy())
        gb_seal = gb_seals.create(
            session,
            gb.authority,
            rt.master,
            national.audit_sink(ctx),
            org_id=org.id,
            org_name=org.name,
            uscc=uscc,
            seal_type="official",
            seal_name=f"{org.name}公章",
            policy=Policy(),
            image_png=seal_image.draw_seal(org.name, "公章"),
            image_source="drawn",
            validity=timedelta(days=365),
        )
        session.expunge(gb_seal)
    signer = gb.signer(gb_seal)
    ofd = one_page_ofd()
    pdf = one_page_pdf()
    placement = ofd_seal.StampPlacement()
    tsa, chain = gb.authority.tsa, [gb.authority.issuing.cert]
    print(
        f"one-page OFD of {len(ofd)} bytes, one-page PDF of {len(pdf)} bytes; seal picture {len(gb_seal.image_png)} "
        f"bytes; CPU count {os.cpu_count()}; single thread\n"
    )

    print("SM2 (tongsuopy), one 32-byte message:")
    key = signer.key
    signature = sm2.sign(key, b"x" * 32)
    rate("SM2 sign", lambda: sm2.sign(key, b"x" * 32), seconds)
    rate("SM2 verify", lambda: sm2.verify(key.public_key(), signature, b"x" * 32), seconds)

    def ofd_seal_with(ts: bool) -> Callable[[], object]:
        def run() -> object:
            return ofd_seal.seal_package(
                ofd,
                lambda h, p: gb_seals.sign_hash(signer, h, p, tsa=tsa if ts else None, tsa_chain=chain).ses_signature,
                placement,
            )

        return run

    operator = Requester(kind="operator", name="bench", channel="bench")
    refusal_free = national.runner(ctx)

    def ofd_service() -> object:
        return gb_sealing.seal_ofd(
            gb, refusal_free, national.audit_sink(ctx), gb_seal.id, ofd, placement, requester=operator
        )

    def pdf_ses() -> object:
        return gb_seals.sign_hash(signer, sm2.sm3(pdf), "document.pdf", tsa=tsa, tsa_chain=chain)

    print("\nnational format, SM2 seals per second:")
    sm2_ofd = rate("OFD, SES_Signature (no time-stamp)", ofd_seal_with(False), seconds)
    sm2_ofd_t = rate("OFD, SES_Signature + SM2 time-stamp", ofd_seal_with(True), seconds)
    sm2_ofd_service = rate("OFD, service (policy, cap, record, audit) + time-stamp", ofd_service, seconds)
    sm2_pdf = rate("PDF, SES_Signature + SM2 time-stamp (detached)", pdf_ses, seconds)

    material = sealing.material(ctx, pades_seal)
    timestamper = sealing.timestamper(ctx)

    def pades_with(level: str) -> Callable[[], object]:
        def run() -> object:
            return pades.seal_pdf(
                pdf,
                material,
                pades.Placement(),
                level=level,
                timestamper=timestamper if level != pades.B_B else None,
                field_name="Seal",
            )

        return run

    def pades_service() -> object:
        return sealing.seal_document(ctx, pades_seal.id, pdf, pades.Placement(), requester=operator, level="B-LT")

    print("\nPAdES, ECDSA P-256, same PDF, visible seal:")
    ec_b = rate("PDF, PAdES B-B", pades_with(pades.B_B), seconds)
    ec_t = rate("PDF, PAdES B-T", pades_with(pades.B_T), seconds)
    ec_service = rate("PDF, service (policy, cap, record, audit) B-LT", pades_service, seconds)

    sealed = ofd_seal_with(True)()
    trust = national.sm_trust(ctx, gb)
    print("\nverification:")
    rate("OFD with one SM2 seal + time-stamp, full check", lambda: ofd_verify.verify_ofd(sealed.data, trust), seconds)  # type: ignore[attr-defined]

    print("\nside by side, seals per second per core:")
    print(f"  SM2 on OFD  {sm2_ofd:7.1f} (no TS)  {sm2_ofd_t:7.1f} (TS)  {sm2_ofd_service:7.1f} (service, TS)")
    print(f"  SM2 on PDF  {sm2_pdf:7.1f} (SES_Signature + TS, detached)")
    print(f"  ECDSA PAdES {ec_b:7.1f} (B-B)     {ec_t:7.1f} (B-T) {ec_service:7.1f} (service, B-LT)")
    rt.close()


if __name__ == "__main__":
    main()
