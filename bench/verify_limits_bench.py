"""What the verification limits buy, and what the killable child costs.

    uv run python bench/verify_limits_bench.py [--fields 50 100] [--repeat 3]

For N signature fields all pointing at one signature (tests/signing/hostile.py): seconds to validate every
field as verification used to (pyHanko once per field: the square of N), against `verify.verify_pdf` now (each
signature value once); then the refusal of a 500-field file, and one ordinary verification in-process against
the same through `Verifier` (a process forked from the fork server, with a deadline).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402

from signing import verify  # noqa: E402
from signing.errors import UnprocessablePdf  # noqa: E402
from signing.ports import VerifyLimits  # noqa: E402
from signing.verify_worker import Verifier  # noqa: E402
from tests.signing.hostile import many_fields_one_signature, self_signed_signer, signed_pdf  # noqa: E402


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def every_field(document: bytes, trust: verify.Trust) -> None:
    reader = PdfFileReader(io.BytesIO(document), strict=False)

    async def run() -> None:
        for sig in reader.embedded_signatures:
            await verify._report(sig, reader, trust)  # noqa: SLF001 - the old per-field loop, for comparison

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fields", type=int, nargs="+", default=[25, 49, 100])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    signer = self_signed_signer()
    trust = verify.Trust(root=self_signed_signer().signing_cert, intermediates=[], crls=[])
    signed = signed_pdf(signer)
    limits = VerifyLimits(max_signatures=10_000)
    print(f"{'fields':>6}  {'per field (old)':>16}  {'deduplicated':>12}")
    for n in args.fields:
        document = many_fields_one_signature(n - 1, signed)
        old = best(args.repeat, lambda d=document: every_field(d, trust))  # type: ignore[misc]
        new = best(args.repeat, lambda d=document: verify.verify_pdf(d, trust, limits))  # type: ignore[misc]
        print(f"{n:>6}  {old:>15.2f}s  {new:>11.2f}s")

    hostile = many_fields_one_signature(500, signed)

    def refuse() -> None:
        try:
            verify.verify_pdf(hostile, trust)
        except UnprocessablePdf:
            return
        raise AssertionError("not refused")

    print(f"500 fields ({len(hostile)} bytes) refused in {best(args.repeat, refuse):.3f}s")
    verifier = Verifier(VerifyLimits())
    verifier.verify(signed, trust)  # start the fork server once
    in_process = best(args.repeat, lambda: verify.verify_pdf(signed, trust))
    child = best(args.repeat, lambda: verifier.verify(signed, trust))
    print(f"one signature: in-process {in_process:.3f}s, in a child process {child:.3f}s")


if __name__ == "__main__":
    main()
