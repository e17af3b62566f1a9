"""Preemption: SIGTERM / SIGUSR1 (what SLURM sends) and Ctrl-C of a sweep's process group.

Real processes, a real store: every run ends KILLED with the signal as its reason, the
parent run included, the console gets one line and no traceback, and the same command
then resumes (each config trained once, FINISHED).
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from genreclf.tracking.store import Store
from tests.faults.test_sweep_faults import (
    SLOW,
    _assert_one_finished_run_per_hash,
    _group_members,
    _job_runs,
    _sweep,
    _wait_for_running_jobs,
)

pytestmark = pytest.mark.slow


def _all_runs(cwd) -> list:
    store = Store(f"sqlite:///{cwd}/mlruns/mlflow.db")
    experiment = store.experiment_id("genreclf-grid_smoke", create=False)
    return store.find_runs(experiment) if experiment is not None else []


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGUSR1, signal.SIGINT], ids=["SIGTERM", "SIGUSR1", "SIGINT"]
)
def test_a_stop_signal_ends_every_run_killed_then_the_same_command_resumes(
    tmp_path, shared_data, sig
):
    table = shared_data / "seed_features.csv"
    proc = _sweep(tmp_path, table, *SLOW, start_new_session=True)
    _wait_for_running_jobs(tmp_path, proc)
    start = time.monotonic()
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    seconds = time.monotonic() - start
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _group_members(proc.pid):
        time.sleep(0.5)
    assert not _group_members(proc.pid), "processes of the stopped sweep live on"

    assert seconds < 60, seconds
    assert proc.returncode != 0
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error: stopped by")]
    assert lines and all(sig.name in line for line in lines), err[-3000:]
    runs = _all_runs(tmp_path)
    assert not [r for r in runs if r.info.status == "RUNNING"], "a run was left RUNNING"
    parent = [r for r in runs if r.data.tags.get("genreclf.sweep_role") == "parent"]
    assert len(parent) == 1 and parent[0].info.status == "KILLED"
    assert parent[0].data.tags.get("genreclf.stopped_by") == sig.name
    killed = [r for r in _job_runs(tmp_path) if r.info.status == "KILLED"]
    assert killed and all(r.data.tags.get("genreclf.stopped_by") == sig.name for r in killed)

    again = _sweep(tmp_path, table, *SLOW)
    _, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    _assert_one_finished_run_per_hash(tmp_path)
