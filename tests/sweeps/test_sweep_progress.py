"""A joblib sweep's console: one line per job, a running count, a summary, no reports."""

from __future__ import annotations

import re

import pytest
from mlflow import MlflowClient

from genreclf.tracking import names

JOB_LINE = re.compile(r"^\[(\d+)/6\] (\S+)  (.*)  val_acc [\d.]+  test_acc [\d.]+  [\d.]+ s$")


@pytest.mark.slow
def test_a_six_job_joblib_sweep_prints_a_line_per_job_and_a_summary(grid_smoke_sweep):
    result = grid_smoke_sweep.result  # sweep=grid_smoke, joblib with 2 workers, 2 epochs
    out = result.stdout
    jobs = [m for m in map(JOB_LINE.match, out.splitlines()) if m]
    assert sorted(int(m.group(1)) for m in jobs) == [1, 2, 3, 4, 5, 6], out[-3000:]
    assert {m.group(3) for m in jobs} == {
        f"model={model} optimizer.lr={lr}"
        for model in ("rnn", "cnn", "dense")
        for lr in ("0.001", "0.0001")
    }
    assert all(m.group(2).split("-")[0] in ("rnn", "cnn", "dense") for m in jobs)
    assert len(re.findall(r"^\[\d+/", out, re.MULTILINE)) == 6
    assert "sweep grid_smoke: 6/6 done, " in out and "ETA " in out
    assert re.search(r"best val_acc [\d.]+ \[\d\] model=\w+ optimizer.lr=[\d.]+$", out, re.M)
    assert "Classification report" not in out and "macro avg" not in out
    summary = re.search(r"^best best_val_acc=.* in run \w+ \(([a-z]+)-[^)]*\): (.*)$", out, re.M)
    assert summary is not None and "6 FINISHED" in out
    assert summary.group(1) in ("rnn", "cnn", "dense")
    assert f"model={summary.group(1)}" in summary.group(2) and "Head" not in summary.group(2)
    # The progress line's best so far, once every job has ended, is the summary's best run.
    best_so_far = re.search(r"6/6 done, .* best val_acc [\d.]+ \[(\d+)\] ", out).group(1)
    best = re.search(r"^best best_val_acc=.* in run (\w+) ", out, re.M).group(1)
    run = MlflowClient(tracking_uri=grid_smoke_sweep.uri).get_run(best)
    assert int(best_so_far) == int(run.data.tags[names.JOB_NUM_TAG]) + 1
    assert not re.search(r"\w*Warning\b", result.stderr), result.stderr[-3000:]
