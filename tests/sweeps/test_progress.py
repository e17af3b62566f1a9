"""Sweep progress lines: the jobs a sweep will run, one line per job, the running count."""

from __future__ import annotations

import math

from genreclf.sweeps.progress import (
    KEYS_ENV,
    TOTAL_ENV,
    SweepProgress,
    duration,
    job_line,
    sweep_plan,
)
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
