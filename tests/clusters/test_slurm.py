"""genreclf on a real SLURM cluster of this machine, with accounting (tests/slurm_cluster.py).

Against a PostgreSQL-backed `mlflow server` on 127.0.0.1 (the README's team setup):

- the README's SLURM command runs `sweep=grid_smoke` as a job array, two configurations
  per array task (`hydra.launcher.jobs_per_task=2`);
- the README's preemption command: a job sent SIGUSR1 mid-fit ends its run KILLED and
  requeues itself, and its requeued task trains that configuration again;
- a node that dies mid-job costs its jobs (FAILED runs, one line each), and the same
  command trains them again.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from genreclf.tracking import names
from tests.e2e import (
    assert_one_finished_run_per_config,
    finished_job_runs,
    job_runs,
    run_command,
    start_command,
)
from tests.slurm_cluster import PARTITION, SlurmCluster, missing
from tests.sweeps.test_launchers import (
    _assert_one_console,
    assert_failed_jobs_console,
    assert_resumed_console,
)

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


#: The README's command: SLURM warns each job 120 s before its end with SIGUSR1 and may
#: requeue it; jobs long enough to be signalled mid-fit, one per task.
PREEMPTIBLE = [
    "sweep=grid_smoke",
    "data=table",
    "hydra/launcher=submitit_slurm",
    f"hydra.launcher.partition={PARTITION}",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.timeout_min=10",
    "trainer.max_epochs=300",
    "callbacks.early_stopping.patience=300",
]
REQUEUE = '+hydra.launcher.additional_parameters={signal: "USR1@120", requeue: true}'


def _start_sweep(tmp_path, shared_data, server, *extra: str):
    return start_command(
        "genreclf.train",
        "--multirun",
        *PREEMPTIBLE,
        f"data.path={shared_data / 'seed_features.csv'}",
        f"tracking.uri={server.uri}",
        *extra,
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )


def _running_run(uri: str, proc, timeout: float = 240):
    """A job run that is RUNNING: its SLURM job is in its fit (some 20 s long)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        for run in job_runs(uri):
            if run.info.status == "RUNNING":
                return run
        time.sleep(0.5)
    raise AssertionError("no job run started training")


def test_a_job_warned_with_sigusr1_ends_killed_and_its_requeued_task_trains_it_again(
    tmp_path, shared_data, slurm_cluster, pg_mlflow_server, monkeypatch
):
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    proc = _start_sweep(tmp_path, shared_data, pg_mlflow_server, REQUEUE)
    victim = _running_run(pg_mlflow_server.uri, proc)
    job = victim.data.tags[names.SLURM_JOB_TAG]
    # to the job's steps; scancel may say "already completing" as the job ends on it
    signalled = slurm_cluster.run("scancel", "--signal=USR1", job)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, (out + err + signalled.stderr)[-3000:]

    runs = job_runs(pg_mlflow_server.uri)
    killed = [r for r in runs if r.info.status == "KILLED"]
    assert [r.info.run_id for r in killed] == [victim.info.run_id], [r.info.status for r in runs]
    assert killed[0].data.tags[names.STOP_TAG] == "SIGUSR1"
    assert_one_finished_run_per_config(runs)
    again = [
        r
        for r in runs
        if r.data.tags[names.HASH_TAG] == victim.data.tags[names.HASH_TAG]
        and r.info.status == "FINISHED"
    ]
    assert again[0].data.tags[names.SLURM_JOB_TAG] == job  # the requeued task trained it
    history = slurm_cluster.run("sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job)
    assert history.stdout.split() == ["REQUEUED", "COMPLETED"], history.stdout
    logs = "".join(p.read_text() for p in tmp_path.rglob(f".submitit/{job}/*_log.err"))
    assert f"error: stopped by SIGUSR1: open runs ended KILLED; job {job} requeued" in logs
    assert "Traceback" not in err, err[-3000:]
    summary = r"^Sweep grid_smoke-\w+: 7 new run\(s\) .*: 6 FINISHED, 1 KILLED$"
    _assert_one_console(subprocess.CompletedProcess(proc.args, 0, out, err), summary)


def test_a_job_whose_node_dies_is_a_failed_run_and_the_same_command_resumes_it(
    tmp_path, shared_data, slurm_cluster, pg_mlflow_server, monkeypatch
):
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    proc = _start_sweep(tmp_path, shared_data, pg_mlflow_server)
    _running_run(pg_mlflow_server.uri, proc)
    assert slurm_cluster.kill_node(), "nothing to kill"
    deadline = time.monotonic() + 120
    while slurm_cluster.node_state() != "down*":  # slurmctld gave up on the node
        assert time.monotonic() < deadline, slurm_cluster.log_tail()
        time.sleep(1)
    slurm_cluster.start_node()  # the node comes back; the pending tasks run
    out, err = proc.communicate(timeout=600)

    runs = job_runs(pg_mlflow_server.uri)
    failed = [r for r in runs if r.info.status == "FAILED"]
    assert failed and "NODE_FAIL" in failed[0].data.tags[names.FAILURE_TAG], (out + err)[-3000:]
    assert not [r for r in runs if r.info.status == "RUNNING"]
    states = slurm_cluster.run("sacct", "-X", "-n", "-P", "-o", "State").stdout.split()
    lost = states.count("NODE_FAIL")  # a job killed before it opened its run leaves none
    assert lost >= len(failed), states
    assert_failed_jobs_console(out, lost, r"its submitit job \d+_\d ended NODE_FAIL .*")

    again = _start_sweep(tmp_path, shared_data, pg_mlflow_server)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, (out + err)[-3000:]
    assert_resumed_console(out)
    assert_one_finished_run_per_config(job_runs(pg_mlflow_server.uri))
