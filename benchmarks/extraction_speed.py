"""Seconds per clip of the seed174 feature recipe: naive (one librosa call per feature) vs fast.

Runs on the 10 real GTZAN clips in ``../shared/data/gtzan_mini`` (next to the repository), on
one core: thread counts are pinned to 1 before numpy is imported. Loading is timed apart.
Each clip is computed by both recipes back to back, so machine load hits both alike. Both wall
time and process CPU time are reported: on a shared machine the CPU time is the steadier
measure of single-core cost.

Usage::

    python benchmarks/extraction_speed.py [--repeats N]
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "gtzan_mini" / "genres_original"


def main(argv: list[str] | None = None) -> int:
    """Time both recipes on every clip and print per-clip and mean figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per clip and recipe; the fastest counts"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    import librosa

    from genreclf.features.seed174 import SEED174_COLUMNS, seed174, seed174_naive

    paths = sorted(CLIPS.glob("*/*.wav"))
    if not paths:
        print(f"no clips under {CLIPS}", file=sys.stderr)
        return 1

    t0 = time.perf_counter()
    clips = [librosa.load(p, sr=None) for p in paths]
    load_s = (time.perf_counter() - t0) / len(clips)

    # warm-up: numba JIT / on-disk caches, librosa's lazy imports
    t0 = time.perf_counter()
    seed174_naive(*clips[0])
    seed174(*clips[0])
    warm_s = time.perf_counter() - t0

    def best_time(fn, y, sr):
        """(wall s, CPU s, output) of the fastest of ``--repeats`` runs."""
        best = (np.inf, np.inf)
        for _ in range(args.repeats):
            w, c = time.perf_counter(), time.process_time()
            out = fn(y, sr)
            best = min(best, (time.perf_counter() - w, time.process_time() - c))
        return best[0], best[1], out

    print(
        f"{'clip':<22} {'naive wall':>10} {'fast wall':>10} {'naive cpu':>10} {'fast cpu':>9} "
        f"{'cpu ratio':>9} {'max rel diff':>13}"
    )
    wall, cpu, max_rel = {"naive": [], "fast": []}, {"naive": [], "fast": []}, []
    for path, (y, sr) in zip(paths, clips, strict=True):
        wn, cn, ref = best_time(seed174_naive, y, sr)
        wf, cf, got = best_time(seed174, y, sr)
        rel = np.abs(got - ref) / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
        worst = int(np.argmax(rel))
        wall["naive"].append(wn)
        wall["fast"].append(wf)
        cpu["naive"].append(cn)
        cpu["fast"].append(cf)
        max_rel.append(rel[worst])
        print(
            f"{path.name:<22} {wn:10.3f} {wf:10.3f} {cn:10.3f} {cf:9.3f} {cn / cf:9.2f} "
            f"{rel[worst]:13.2e}  ({SEED174_COLUMNS[worst]})"
        )
    print(f"load (librosa.load, sr=None): {load_s:.3f} s/clip, not included above")
    print(f"warm-up on one clip (JIT, caches): {warm_s:.1f} s")
    for name, times in (("wall", wall), ("cpu", cpu)):
        mean_n, mean_f = float(np.mean(times["naive"])), float(np.mean(times["fast"]))
        print(
            f"{name:>4} time, mean over {len(clips)} clips, one thread: naive {mean_n:.3f} s/clip, "
            f"fast {mean_f:.3f} s/clip, speed-up x{mean_n / mean_f:.2f}"
        )
    print(f"max relative difference fast vs naive, all clips and columns: {max(max_rel):.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
