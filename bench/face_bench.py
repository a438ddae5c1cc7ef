"""Face verification latency on this machine, and the measurements behind the face threshold.

    uv run python bench/face_bench.py            # p50/p95 of one verification (decode+detect+encode+distance)
    uv run python bench/face_bench.py --pairs    # pairwise distances, false accepts/rejects per threshold

Photos: matplotlib's grace_hopper.jpg and scikit-image's astronaut.png (shipped in the dev dependencies), plus
../shared/testdata/faces when present (file names `<person>_<n>.jpg`).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import time
from importlib import resources
from pathlib import Path

from adapters.errors import UnusableImage
from adapters.face import FACE_THRESHOLD, DlibFaceMatcher

SHARED = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "faces"


def photos() -> dict[str, tuple[str, bytes]]:
    """name → (person, bytes)."""
    found: dict[str, tuple[str, bytes]] = {}
    for package, parts, person in (
        ("matplotlib", ("mpl-data", "sample_data", "grace_hopper.jpg"), "hopper"),
        ("skimage", ("data", "astronaut.png"), "collins"),
    ):
        with contextlib.suppress(ModuleNotFoundError, FileNotFoundError):
            found[parts[-1]] = (person, resources.files(package).joinpath(*parts).read_bytes())
    if SHARED.is_dir():
        for path in sorted(SHARED.glob("*.jpg")):
            found[path.name] = (path.stem.split("_")[0], path.read_bytes())
    return found


def latency(rounds: int) -> None:
    matcher = DlibFaceMatcher()
    usable = {}
    for name, (_, data) in photos().items():
        try:
            usable[name] = (data, matcher.encode(data))  # also warms the models up
        except UnusableImage:
            continue
    print(f"photos: {len(usable)}   rounds: {rounds}   (each: probe image → detect, encode, distance to a template)")
    all_times: list[float] = []
    for name, (data, reference) in usable.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            matcher.compare(data, reference)
            times.append((time.perf_counter() - started) * 1000)
        all_times += times
        print(f"  {name:<18} p50 {statistics.median(times):7.1f} ms")
    q = statistics.quantiles(all_times, n=20)
    print(f"all: p50 {statistics.median(all_times):.1f} ms   p95 {q[18]:.1f} ms   n={len(all_times)}")


def pairs() -> None:
    matcher = DlibFaceMatcher()
    encodings, people = {}, {}
    for name, (person, data) in photos().items():
        try:
            encodings[name] = matcher.encode(data)
            people[name] = person
        except UnusableImage as exc:
            print(f"unusable: {name} ({exc.reason})")
    same, different = [], []
    for a, b in itertools.combinations(encodings, 2):
        d = matcher.distance(encodings[a], encodings[b])
        (same if people[a] == people[b] else different).append(d)
        print(f"  {'same' if people[a] == people[b] else 'diff'}  {d:.3f}  {a} / {b}")
    print(f"same person: {len(same)} pairs, max {max(same, default=float('nan')):.3f}")
    print(f"different people: {len(different)} pairs, min {min(different, default=float('nan')):.3f}")
    for t in (0.4, 0.45, 0.5, 0.55, 0.6):
        fa = sum(d <= t for d in different)
        fr = sum(d > t for d in same)
        mark = "  <- FACE_THRESHOLD" if t == FACE_THRESHOLD else ""
        print(f"threshold {t:.2f}: false accepts {fa}/{len(different)}, false rejects {fr}/{len(same)}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", action="store_true", help="print pairwise distances and FA/FR per threshold")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    pairs() if args.pairs else latency(args.rounds)


if __name__ == "__main__":
    main()
