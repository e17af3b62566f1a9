"""Time README's main job: ``python -m genreclf.train`` on the built-in data, twice.

The first run generates the synthetic clips and extracts their features (cold cache);
the second finds both in the cache. Both train the default model and log to MLflow.
Run from the repository root: ``python benchmarks/first_run.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one ``python -m genreclf.train`` in ``cwd``, and its stdout."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "genreclf.train", "trainer.enable_progress_bar=false"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"train failed:\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env["GENRECLF_CACHE"] = str(cwd / "cache")
        for name in ("first run (cold cache)", "second run (warm cache)"):
            seconds, out = timed_run(cwd, env)
            acc = re.search(r"test accuracy: ([0-9.]+)", out).group(1)
            print(f"{name}: {seconds:.1f} s wall, test accuracy {acc} (synthetic data)")
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
