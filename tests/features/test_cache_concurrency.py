"""Two real processes extracting one uncached feature set together compute each clip once.

Once as two ``extract`` commands, once as the two jobs of a ``train --multirun``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import require_shared
from tests.e2e import run_command

pytestmark = pytest.mark.slow

#: The extractor's summary line, e.g. "features: summary: 10 tracks (0 cached, 10 computed)".
STATS = re.compile(r"features: summary: (\d+) tracks \((\d+) cached, (\d+) computed\)")


def start_extract(root, cwd, cache) -> subprocess.Popen:
    """Start ``python -m genreclf.extract`` of the summary set, in-process extraction."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"GENRECLF_CACHE": str(cache), "PYTHONHASHSEED": "0"}
    cwd.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "genreclf.extract", "data=gtzan", f"data.root={root}"]
        + ["features=summary", "extraction.n_jobs=1", "extraction.progress=false"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_processes_compute_each_clip_once(tmp_path):
    root = require_shared("gtzan_mini")
    cache = tmp_path / "cache"
    jobs = [start_extract(root, tmp_path / f"job{i}", cache) for i in range(2)]
    outputs = [job.communicate(timeout=600)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outputs
    stats = [tuple(map(int, STATS.search(out).groups())) for out in outputs]
    n_clips = stats[0][0]
    assert n_clips == 10 and all(tracks == n_clips for tracks, _, _ in stats), stats
    # every clip was computed by exactly one of them; the other read it from the cache
    assert sum(computed for _, _, computed in stats) == n_clips, stats
    assert all(cached + computed == n_clips for _, cached, computed in stats), stats
    assert len(list(cache.rglob("summary/*/*.npy"))) == n_clips


def test_two_jobs_of_a_multirun_compute_each_clip_once(tmp_path):
    root = require_shared("gtzan_mini")
    cache = tmp_path / "cache"
    result = run_command(
        "genreclf.train",
        "--multirun",
        "data=gtzan",
        f"data.root={root}",
        "features=summary",
        "model=linear",
        "trainer.max_epochs=1",
        "optimizer.lr=1e-3,2e-3",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        cwd=tmp_path,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    logs = sorted((tmp_path / "multirun").rglob("train.log"))
    assert len(logs) == 2, logs
    stats = [tuple(map(int, STATS.search(log.read_text()).groups())) for log in logs]
    assert all(tracks == 10 for tracks, _, _ in stats), stats
    # each clip computed by one job, read from the cache by the other
    assert sum(computed for _, _, computed in stats) == 10, stats
    assert all(cached + computed == 10 for _, cached, computed in stats), stats
    assert len(list(cache.rglob("summary/*/*.npy"))) == 10
