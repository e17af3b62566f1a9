"""Faults in sweeps: racing sweeps, kill -9, orphaned workers. Real processes, real store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import assert_one_finished_run_per_config, command_env, job_runs

pytestmark = pytest.mark.slow

#: A few short jobs of the grid's space on the real feature table.
SWEEP = ["--multirun", "sweep=grid_smoke", "data=table", "hydra/launcher=joblib"]


def _sweep(cwd: Path, table: Path, *extra: str, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "genreclf.train", *SWEEP, f"data.path={table}", *extra]
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=command_env(cwd / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _job_runs(cwd: Path) -> list:
    """The sweep's job runs in its folder's SQLite store."""
    return job_runs(f"sqlite:///{cwd}/mlruns/mlflow.db")


def _group_members(pgid: int) -> list[int]:
    """PIDs of live processes in process group ``pgid`` (zombies excluded)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def _wait_for_running_jobs(cwd: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        if any(r.info.status == "RUNNING" for r in _job_runs(cwd)):
            return
        time.sleep(0.5)
    raise AssertionError("no job started")


def _assert_one_finished_run_per_hash(cwd: Path) -> None:
    assert_one_finished_run_per_config(_job_runs(cwd))


def test_two_identical_sweeps_started_together_train_each_config_once(tmp_path, shared_data):
    table = shared_data / "seed_features.csv"
    extra = ["trainer.max_epochs=3", "hydra.launcher.n_jobs=1"]
    procs = [_sweep(tmp_path, table, *extra) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    _assert_one_finished_run_per_hash(tmp_path)
    folders = list((tmp_path / "multirun" / "grid_smoke").iterdir())
    assert len(folders) == 2  # each sweep has its own folder
    assert {r.info.status for r in _job_runs(tmp_path)} == {"FINISHED"}


#: Jobs long enough to be killed while they train.
SLOW = ["trainer.max_epochs=40", "callbacks.early_stopping.patience=40"]


def test_kill_9_of_the_process_group_then_the_same_command_again(tmp_path, shared_data):
    """No orphan; rerunning ends the ghosts KILLED and trains each config exactly once."""
    table = shared_data / "seed_features.csv"
    proc = _sweep(tmp_path, table, *SLOW, start_new_session=True)
    _wait_for_running_jobs(tmp_path, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _group_members(proc.pid):
        time.sleep(0.5)
    assert not _group_members(proc.pid), "processes of the killed sweep live on"
    assert any(r.info.status == "RUNNING" for r in _job_runs(tmp_path))  # ghosts, for now

    again = _sweep(tmp_path, table, *SLOW)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    assert "lost their process" in out
    _assert_one_finished_run_per_hash(tmp_path)
    killed = [r for r in _job_runs(tmp_path) if r.info.status == "KILLED"]
    assert killed and all("genreclf.reaped" in r.data.tags for r in killed)


def test_workers_exit_when_the_launching_process_is_killed(tmp_path, shared_data):
    table = shared_data / "seed_features.csv"
    proc = _sweep(tmp_path, table, *SLOW, start_new_session=True)
    _wait_for_running_jobs(tmp_path, proc)
    workers = _children(proc.pid)
    assert workers
    os.kill(proc.pid, signal.SIGKILL)  # the launcher alone, not its workers
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _group_members(proc.pid):
        time.sleep(0.5)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not _group_members(proc.pid), f"orphaned workers live on: {alive}"


def test_a_worker_killed_in_a_sweep_costs_only_its_own_job(tmp_path, shared_data):
    table = shared_data / "seed_features.csv"
    proc = _sweep(tmp_path, table, *SLOW)
    _wait_for_running_jobs(tmp_path, proc)
    victim = next(r for r in _job_runs(tmp_path) if r.info.status == "RUNNING")
    os.kill(int(victim.data.tags["genreclf.pid"]), signal.SIGKILL)  # by its own PID
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert "TerminatedWorkerError" not in err
    runs = {r.info.run_id: r for r in _job_runs(tmp_path)}
    failed = [r for r in runs.values() if r.info.status == "FAILED"]
    assert [r.info.run_id for r in failed] == [victim.info.run_id]
    assert "worker process died" in failed[0].data.tags["genreclf.failure"]
    finished = [r for r in runs.values() if r.info.status == "FINISHED"]
    assert len(finished) == 5 and len(runs) == 6
