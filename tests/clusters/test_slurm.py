"""The README's SLURM command on a real SLURM cluster of this machine (tests/slurm_cluster.py).

`sweep=grid_smoke` runs as a job array through `hydra/launcher=submitit_slurm`, against a
PostgreSQL-backed `mlflow server` on 127.0.0.1 (the README's team setup), two
configurations per array task (`hydra.launcher.jobs_per_task=2`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e import finished_job_runs, run_command
from tests.slurm_cluster import PARTITION, SlurmCluster, missing
from tests.sweeps.test_launchers import _assert_one_console

pytestmark = pytest.mark.slow


@pytest.fixture
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A SLURM cluster of this machine; its daemons ended by PID afterwards.

    Skipped when slurm-wlm or munge is missing; under ``CI=true`` that fails instead.
    """
    why = missing()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(why)
        pytest.skip(why)
    cluster = SlurmCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_the_readmes_slurm_command_runs_grid_smoke_as_a_job_array(
    tmp_path, shared_data, slurm_cluster, pg_mlflow_server, monkeypatch
):
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)  # the command finds the cluster (SLURM_CONF)
    result = run_command(
        "genreclf.train",
        "--multirun",
        "sweep=grid_smoke",
        "data=table",
        f"data.path={shared_data / 'seed_features.csv'}",
        "hydra/launcher=submitit_slurm",
        f"hydra.launcher.partition={PARTITION}",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=10",
        "hydra.launcher.jobs_per_task=2",
        f"tracking.uri={pg_mlflow_server.uri}",
        "trainer.max_epochs=2",
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    _assert_one_console(result)
    finished_job_runs(pg_mlflow_server.uri)  # 6, all FINISHED
    logs = list((tmp_path / "multirun").rglob(".submitit/*/*_log.out"))
    assert len(logs) == 3  # three array tasks of two configurations each
