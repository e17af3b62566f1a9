"""Sweep progress lines: the jobs a sweep will run, one line per job, the running count."""

from __future__ import annotations

import itertools
import math
import pickle

import pytest

from genreclf.sweeps.progress import (
    KEYS_ENV,
    TOTAL_ENV,
    JobValue,
    SweepProgress,
    duration,
    job_line,
    sweep_plan,
)
from genreclf.tracking.selection import Score
from tests.sweeps.test_sweeps import sweep_config


def test_sweep_plan_counts_jobs_and_names_the_swept_keys():
    assert sweep_plan(sweep_config("sweep=grid_smoke")) == (6, ["model", "optimizer.lr"])
    total, keys = sweep_plan(sweep_config("sweep=grid"))
    assert total == 2700 and "trainer.max_epochs" in keys and "model" in keys
    total, keys = sweep_plan(sweep_config("sweep=optuna"))
    assert total == 50 and "model.dropout" in keys


def test_job_line_shows_number_of_total_run_name_swept_values_scores_and_seconds(monkeypatch):
    monkeypatch.setenv(TOTAL_ENV, "2700")
    monkeypatch.setenv(KEYS_ENV, "model optimizer.lr")
    overrides = ["model=cnn", "optimizer.lr=0.001", "data.duration=3.0"]
    line = job_line(16, "cnn-h64-l1", overrides, "val_acc 0.500  test_acc 0.417", 12.34)
    assert line == (
        "[17/2700] cnn-h64-l1  model=cnn optimizer.lr=0.001  val_acc 0.500  test_acc 0.417  12.3 s"
    )
    monkeypatch.delenv(TOTAL_ENV)
    assert job_line(0, "x", [], "ok", 1.0).startswith("[1] x")


def test_progress_counts_failures_keeps_the_best_and_estimates_the_rest(monkeypatch):
    monkeypatch.delenv(KEYS_ENV, raising=False)  # the launching process knows the keys itself
    progress = SweepProgress("grid", total=4, keys=["model"])
    progress.finished(0, 0.5, ["model=cnn", "data.duration=3"])
    progress.finished(1, math.nan, ["model=rnn", "data.duration=3"])
    line = progress.finished(2, 0.75, ["model=dense", "data.duration=3"])
    assert line.startswith("sweep grid: 3/4 done (1 failed), ")
    assert "ETA " in line and line.endswith("best val_acc 0.750 [3] model=dense")
    assert duration(3725) == "1:02:05" and duration(65) == "1:05" and duration(math.inf) == "?"


#: Jobs tied on validation accuracy: job 2 has the lowest loss; jobs 1 and 3 tie on loss
#: too, and job 3's run started first.
TIED = {
    0: Score(0.75, 0.60, 1000.0, "r0"),
    1: Score(0.75, 0.55, 3000.0, "r1"),
    2: Score(0.75, 0.50, 4000.0, "r2"),
    3: Score(0.75, 0.55, 2000.0, "r3"),
}


@pytest.mark.parametrize("order", list(itertools.permutations(TIED)))
def test_the_best_so_far_breaks_ties_as_best_run_does_whatever_order_jobs_end_in(order):
    progress = SweepProgress("probe", total=4, keys=["job"])
    for job in order:
        line = progress.finished(job, JobValue(TIED[job]), [f"job={job}", "seed=0"])
    assert line.endswith("best val_acc 0.750 [3] job=2")
    without_two = SweepProgress("probe", total=3, keys=["job"])
    for job in (j for j in order if j != 2):
        line = without_two.finished(job, JobValue(TIED[job]), [f"job={job}"])
    assert line.endswith("best val_acc 0.750 [4] job=3")  # equal loss: the earlier run


def test_a_job_value_is_its_accuracy_to_sweepers_and_survives_a_worker_boundary():
    value = JobValue(TIED[1])
    assert float(value) == 0.75 and value > 0.7 and not math.isnan(value)
    copy = pickle.loads(pickle.dumps(value))
    assert type(copy) is JobValue and copy.score == TIED[1] and copy == value
