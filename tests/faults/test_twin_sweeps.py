"""Two identical sweeps at once on a real PostgreSQL-backed ``mlflow server``.

Both start together and race for every config through the server: each config ends
with exactly one FINISHED run, and nothing is left RUNNING.
"""

from __future__ import annotations

from collections import Counter

import pytest

from genreclf.tracking.store import Store
from tests.faults.test_sweep_faults import _sweep

pytestmark = pytest.mark.slow

EXPERIMENT = "genreclf-grid_smoke"


def job_runs(uri: str) -> list:
    """The sweep's job runs in the store at ``uri``."""
    store = Store(uri)
    experiment = store.experiment_id(EXPERIMENT, create=False)
    if experiment is None:
        return []
    return store.find_runs(experiment, tags={"genreclf.sweep_role": "job"})


def assert_one_finished_run_per_config(uri: str, configs: int = 6) -> list:
    """Every config has exactly one FINISHED run, none is RUNNING; return the runs."""
    runs = job_runs(uri)
    assert not [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    finished = Counter(
        r.data.tags["genreclf.config_hash"] for r in runs if r.info.status == "FINISHED"
    )
    assert len(finished) == configs and set(finished.values()) == {1}, finished
    return runs


def test_two_identical_sweeps_on_a_postgres_server_train_each_config_once(
    tmp_path, shared_data, pg_mlflow_server
):
    table = shared_data / "seed_features.csv"
    extra = [
        f"tracking.uri={pg_mlflow_server.uri}",
        "trainer.max_epochs=3",
        "hydra.launcher.n_jobs=1",
    ]
    procs = [_sweep(tmp_path, table, *extra) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    runs = assert_one_finished_run_per_config(pg_mlflow_server.uri)
    assert {r.info.status for r in runs} <= {"FINISHED"}  # losers deleted their runs
    for run in runs:
        assert "test_acc" in run.data.metrics, run.data.metrics
    folders = list((tmp_path / "multirun" / "grid_smoke").iterdir())
    assert len(folders) == 2  # each sweep has its own folder
