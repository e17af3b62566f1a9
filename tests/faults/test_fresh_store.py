"""Faults: processes that start together on a fresh SQLite store all finish."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from tests.e2e import TINY_DATA

pytestmark = pytest.mark.slow


def test_four_trains_started_at_once_in_a_new_folder_all_finish(tmp_path):
    """A new store and a new data cache: nothing exists until the four processes race."""
    cwd, cache = tmp_path / "run", tmp_path / "cache"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"GENRECLF_CACHE": str(cache), "PYTHONHASHSEED": "0"}
    command = [
        sys.executable,
        "-m",
        "genreclf.train",
        *TINY_DATA,
        "trainer.max_epochs=1",
        "tracking.log_artifacts=false",
        "trainer.enable_progress_bar=false",
    ]
    procs = [
        subprocess.Popen(
            [*command, f"seed={seed}"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(4)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("genreclf").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 4
    # The store still works for the next run.
    assert client.search_experiments()
