"""How fast a bad option answers: ``python -m genreclf.train <bad option>``, wall time.

Each case runs ``--repeats`` times as a fresh process; the script prints each case's
one error line and its median and range of wall-clock seconds. Target (issue 25): the
line within 3 s, before torch, Lightning or librosa load.

    python benchmarks/bad_option_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

CASES = [
    "model.dropout=1.5",
    "optimizer.lr=-1",
    "optimizer.lrr=0.1",
    "+optimizer.lrr=0.1",
    "modle=linear",
    "model=foo",
]


def time_case(option: str, cwd: str) -> tuple[float, str, int]:
    """Seconds, the last stderr line and the exit status of one run."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "genreclf.train", option],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    lines = result.stderr.strip().splitlines()
    return seconds, lines[-1] if lines else "", result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        for option in CASES:
            runs = [time_case(option, cwd) for _ in range(args.repeats)]
            seconds = [s for s, _, _ in runs]
            _, line, status = runs[-1]
            print(
                f"{option:22} median {statistics.median(seconds):.2f} s "
                f"[{min(seconds):.2f}, {max(seconds):.2f}]  exit {status}  {line}"
            )


if __name__ == "__main__":
    main()
