"""Throughput of seed174 extraction through FeatureExtractor: cold cache, then warm cache.

    python benchmarks/extraction_throughput.py [--copies 4] [--n-jobs 2] [--warm-tracks 1000]

1. Cold: the 10 real GTZAN clips of ``../shared/data/gtzan_mini``, each copied
   ``--copies`` times with one sample changed per copy (so every file has distinct
   bytes and cannot hit the content-addressed cache), extracted with ``n_jobs`` workers
   into an empty cache. Worker start-up is included. The time for 1000 clips is an
   EXTRAPOLATION from this sample, not a measurement. A serial in-process pass over
   the 10 clips gives the CPU time per clip, hence an estimate for idle cores (the
   shared development machine is often busy).
2. Warm: ``--warm-tracks`` distinct 1 s synthetic clips are extracted once, then the
   timed second pass reads them all from the cache (hashing every file's bytes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from genreclf.data.tracks import Track, list_labelled_audio
from genreclf.features.extraction import EXTRACTORS
from genreclf.features.sets import FEATURE_SETS

GTZAN_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan_mini"


def distinct_copies(root: Path, copies: int, out: Path) -> list[Track]:
    """``copies`` byte-distinct copies of every clip under ``root``."""
    tracks = []
    for track in list_labelled_audio(root / "genres_original"):
        data, sr = sf.read(track.path, dtype="int16")
        for k in range(copies):
            copy = data.copy()
            copy[k] = copy[k] + 1 if copy[k] < 32767 else copy[k] - 1
            path = out / track.label / f"{track.path.stem}.copy{k}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, copy, sr, subtype="PCM_16")
            tracks.append(Track(path, track.label, f"{track.label}/{path.name}"))
    return tracks


def synthetic_clips(n: int, out: Path, sr: int = 22050) -> list[Track]:
    """``n`` distinct 1 s clips (tone plus noise)."""
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    tracks = []
    for i in range(n):
        y = 0.2 * np.sin(2 * np.pi * (100 + i) * t) + 0.02 * rng.standard_normal(sr)
        path = out / f"c{i % 10}" / f"clip{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y, sr, subtype="PCM_16")
        tracks.append(Track(path, f"c{i % 10}", f"c{i % 10}/{path.name}"))
    return tracks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of each of the 10 clips")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--warm-tracks", type=int, default=1000)
    args = parser.parse_args()
    # seed174 on 1 s clips makes librosa warn (n_fft > signal in the CQT octaves); the
    # workers inherit this environment variable.
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
    warnings.simplefilter("ignore", UserWarning)
    if not GTZAN_MINI.is_dir():
        raise SystemExit(f"shared data missing: {GTZAN_MINI}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPU cores, load average {load}; n_jobs={args.n_jobs}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tracks = distinct_copies(GTZAN_MINI, args.copies, tmp / "gtzan")
        ex = EXTRACTORS.option(
            "default", cache_dir=str(tmp / "cache"), n_jobs=args.n_jobs, progress=False
        )
        start = time.perf_counter()
        table = ex.extract(tracks, FEATURE_SETS.option("seed174"))
        cold = time.perf_counter() - start
        assert ex.last_stats["computed"] == len(tracks) and table.X.shape == (len(tracks), 174)
        rate = len(tracks) / cold
        print(
            f"cold cache: {len(tracks)} real 30 s GTZAN clips in {cold:.1f} s "
            f"(worker start-up included) = {rate:.2f} clips/s on {args.n_jobs} workers"
        )
        print(
            f"EXTRAPOLATED (not measured): 1000 clips on {args.n_jobs} workers "
            f"~ {1000 / rate:.0f} s ({1000 / rate / 60:.1f} min)"
        )

        # CPU time per clip in this process: what the rate would be on idle cores.
        sample = tracks[:: args.copies]
        serial = EXTRACTORS.option(
            "default", cache_dir=str(tmp / "cache_serial"), n_jobs=1, progress=False
        )
        serial.extract(
            sample[:1], FEATURE_SETS.option("seed174")
        )  # warm-up: imports, numba compilation
        cpu, start = time.process_time(), time.perf_counter()
        serial.extract(sample[1:], FEATURE_SETS.option("seed174"))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - start
        per_clip = cpu / (len(sample) - 1)
        idle_1000 = 1000 * per_clip / args.n_jobs
        print(
            f"serial reference: {len(sample) - 1} clips in {wall:.1f} s wall, "
            f"{per_clip:.2f} CPU s per clip; ESTIMATE on {args.n_jobs} idle cores: "
            f"{args.n_jobs / per_clip:.2f} clips/s, 1000 clips ~ {idle_1000:.0f} s"
        )

        warm_tracks = synthetic_clips(args.warm_tracks, tmp / "synthetic")
        start = time.perf_counter()
        ex.extract(warm_tracks, FEATURE_SETS.option("seed174"))
        fill = time.perf_counter() - start
        print(f"filling the cache: {len(warm_tracks)} x 1 s synthetic clips in {fill:.1f} s")
        start = time.perf_counter()
        ex.extract(warm_tracks, FEATURE_SETS.option("seed174"))
        warm = time.perf_counter() - start
        assert ex.last_stats["cached"] == len(warm_tracks)
        print(f"warm cache: second pass over {len(warm_tracks)} tracks in {warm:.2f} s (measured)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load} (other processes share these cores)")


if __name__ == "__main__":
    main()
