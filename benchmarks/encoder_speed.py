"""Seconds per 30 s clip of ``features=musicnn`` beside ``seed174``, on one core, cold and cached.

Runs genreclf's own :class:`~genreclf.features.extraction.FeatureExtractor` (in this
process, ``n_jobs=1``) on the 10 real GTZAN clips in ``../shared/data/gtzan_mini``,
into a new empty feature cache: the first pass computes every clip (loading, 16 kHz
resampling, log-mel and the network included), the second is served from the cache.
The musicnn network is loaded before timing (once per process in real runs too).
Thread counts are pinned to 1 before numpy and torch are imported. Also prints the
network's arithmetic (GFLOP per clip, from the layer shapes) and the rate achieved::

    python benchmarks/encoder_speed.py [--model MSD_musicnn]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "gtzan_mini"


def musicnn_gflop(frames: int = 187) -> float:
    """Multiply-adds x 2 of one musicnn patch (convolutions and dense layers), in GFLOP."""
    n_mels, timbral, temporal, front = 96, 204, 51, 561
    flop = 2 * frames * (n_mels - 38 + 1) * timbral * 7 * 38  # timbral 7 x 38
    flop += 2 * frames * (n_mels - 67 + 1) * timbral * 7 * 67  # timbral 7 x 67
    flop += 2 * frames * n_mels * temporal * (128 + 64 + 32)  # three temporal blocks
    flop += 2 * frames * 64 * 7 * (front + 64 + 64)  # mid-end
    flop += 2 * (2 * 753 * 200 + 200 * 50)  # back-end
    return flop / 1e9


def _pass(extractor, tracks, feature_set) -> tuple[float, float]:
    """Wall and CPU seconds of one extraction of ``tracks``."""
    wall, cpu = time.perf_counter(), time.process_time()
    table = extractor.extract(tracks, feature_set)
    assert len(table.skipped) == 0, table.skipped
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    """Time both feature sets, cold then cached, and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="MSD_musicnn")
    args = parser.parse_args(argv)

    import torch

    from genreclf.data.sources import GTZANSource
    from genreclf.features.extraction import EXTRACTORS
    from genreclf.features.musicnn import network
    from genreclf.features.sets import FEATURE_SETS

    torch.set_num_threads(1)
    tracks = GTZANSource(str(CLIPS)).tracks()
    musicnn = FEATURE_SETS.option("musicnn", model=args.model)
    network(args.model)  # the weights, read once per process
    with tempfile.TemporaryDirectory() as cache:
        extractor = EXTRACTORS.option("default", cache_dir=cache, n_jobs=1, progress=False)
        extractor.extract(
            tracks[:1], FEATURE_SETS.option("seed174")
        )  # numba's compile, not a clip's cost
        extractor.extract(
            tracks[:1], FEATURE_SETS.option("musicnn", model=args.model, layer="taggram")
        )
        print(f"{len(tracks)} real 30 s GTZAN clips, one core, cold cache then cached")
        for name, fs in (
            ("seed174", FEATURE_SETS.option("seed174")),
            (f"musicnn {args.model}", musicnn),
        ):
            wall, cpu = _pass(extractor, tracks, fs)
            cached, _ = _pass(extractor, tracks, fs)
            line = (
                f"{name:22s} {wall / len(tracks):.3f} s/clip cold (cpu {cpu / len(tracks):.3f}),"
                f" {cached / len(tracks) * 1e3:.1f} ms/clip cached"
            )
            if fs is musicnn and not args.model.endswith("vgg"):
                gflop = 10 * musicnn_gflop()
                rate = gflop / (wall / len(tracks))
                line += f"; network {gflop:.1f} GFLOP/clip, {rate:.0f} GFLOPS end to end"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
