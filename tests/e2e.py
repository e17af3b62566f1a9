"""Helpers for end-to-end tests: run the real commands as subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Tiny built-in data: 10 genres x 4 clips x 3 s.
TINY_DATA = ["data.clips_per_genre=4", "data.duration=3.0", "extraction.n_jobs=1"]


def run_command(
    module: str, *overrides: str, cwd: Path, cache: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m <module> <overrides>`` in ``cwd`` with the feature cache at ``cache``."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"GENRECLF_CACHE": str(cache), "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_in_new_folder(
    tmp_path_factory: Any, name: str, module: str, *overrides: str
) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """Run a command that must succeed in a new folder ``name``, with the session's cache.

    Returns the folder, the feature cache shared by the session's runs, and the result.
    """
    cwd = tmp_path_factory.mktemp(name)
    cache = tmp_path_factory.getbasetemp() / "cache"
    result = run_command(module, *overrides, cwd=cwd, cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, cache, result


def excerpt_subset(tmp_path_factory: Any, per_genre: int) -> Path:
    """The first ``per_genre`` real GTZAN excerpts of each genre, copied into a new
    ``genres_original/<genre>/`` folder; returns that folder."""
    from tests.conftest import require_shared

    excerpts = require_shared("gtzan_excerpts", "genres_original")
    root = tmp_path_factory.mktemp("excerpts") / "genres_original"
    for genre in sorted(p for p in excerpts.iterdir() if p.is_dir()):
        (root / genre.name).mkdir(parents=True)
        for clip in sorted(genre.glob("*.wav"))[:per_genre]:
            shutil.copy(clip, root / genre.name / clip.name)
    return root
