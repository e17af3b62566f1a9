"""When a submitit task requeues itself: SIGUSR1 in a SLURM task, a bounded number of times.

The whole path, on a real SLURM cluster, is ``tests/clusters/test_slurm.py``.
"""

from __future__ import annotations

import pytest

from genreclf.core import stopping
from genreclf.sweeps.submitit_launch import requeue_task


@pytest.fixture
def slurm_task(monkeypatch, tmp_path):
    """This process as task 3 of SLURM job array 41, not requeued yet, without SLURM's
    commands."""
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "44")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "41")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no scontrol
    monkeypatch.setattr(stopping, "received", ["SIGUSR1"])


def test_outside_slurm_or_for_another_signal_nothing_is_requeued(slurm_task, monkeypatch):
    monkeypatch.setattr(stopping, "received", ["SIGTERM"])  # scancel, or the time limit
    assert requeue_task(max_requeues=3) is None
    monkeypatch.setattr(stopping, "received", ["SIGUSR1"])
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name)
    assert requeue_task(max_requeues=3) is None  # submitit_local


def test_a_task_requeued_max_num_timeout_times_is_not_requeued_again(slurm_task, monkeypatch):
    monkeypatch.setenv("SLURM_RESTART_COUNT", "3")
    assert requeue_task(max_requeues=3) == (
        "job 41_3 not requeued: requeued 3 times (max_num_timeout)"
    )
    assert requeue_task(max_requeues=0).startswith("job 41_3 not requeued")


def test_a_requeue_that_fails_says_why_in_the_stop_line(slurm_task):
    then = requeue_task(max_requeues=3)
    assert then is not None and then.startswith("job 41_3 not requeued: scontrol requeue: ")
    line = stopping.stop_line(then=then)
    assert line.startswith("error: stopped by SIGUSR1: open runs ended KILLED; job 41_3 not")
    assert "\n" not in line
    assert stopping.stop_line().endswith("run the same command again to resume")
