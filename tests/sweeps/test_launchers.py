"""Real Ray and submitit_local sweeps: the console of a joblib sweep, every run FINISHED.

Each launcher runs `sweep=grid_smoke` (6 jobs, 2 epochs, the seed feature table) into a
fresh SQLite store; the launching process prints, as each job ends, the job's line and
the count with its ETA, and the sweep's summary comes after them all.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.utils import JobReturn, JobStatus

from genreclf.sweeps.progress import SweepProgress, job_line, run_keeping_line, say_job_line
from genreclf.sweeps.ray_launch import ray_auth_mode
from genreclf.tracking import names
from genreclf.tracking.store import Store
from tests.e2e import run_in_new_folder

JOB_LINE = re.compile(
    r"^\[(\d)/6\] \S+  model=(rnn|cnn|dense) optimizer\.lr=0\.0+1  "
    r"val_acc [\d.]+  test_acc [\d.]+  [\d.]+ s$"
)
COUNT_LINE = re.compile(
    r"^sweep grid_smoke: (\d)/6 done, \d+:\d\d elapsed, ETA \d+:\d\d, "
    r"best val_acc [\d.]+ \[\d\] model=\w+ optimizer\.lr=[\d.]+$"
)
PROGRESS = re.compile(r"^(\[\d+/6\] |sweep grid_smoke: )")
SUMMARY = re.compile(r"^Sweep grid_smoke-\w+: 6 new run\(s\) .*: 6 FINISHED$")


def require_ray() -> None:
    """Skip without the ``ray`` extra; under ``CI=true`` (which installs it) fail instead."""
    if os.environ.get("CI") == "true":
        importlib.import_module("hydra_plugins.hydra_ray_launcher")
    else:
        pytest.importorskip("hydra_plugins.hydra_ray_launcher")


def _sweep(tmp_path_factory, name: str, table: Path, launcher: str, *extra: str):
    return run_in_new_folder(
        tmp_path_factory,
        name,
        "genreclf.train",
        "--multirun",
        "sweep=grid_smoke",
        "data=table",
        f"data.path={table}",
        f"hydra/launcher={launcher}",
        "trainer.max_epochs=2",
        *extra,
    )


def _assert_one_console(
    result: subprocess.CompletedProcess, summary: str = SUMMARY.pattern
) -> None:
    """A job line then a count line per job, counts 1 to 6, the ``summary`` after them all."""
    out, err = result.stdout, result.stderr
    assert "\x1b[" not in out and "\x1b[" not in err, (out + err)[-3000:]
    lines = out.splitlines()
    progress = [i for i, line in enumerate(lines) if PROGRESS.match(line)]
    pairs = [(lines[i], lines[j]) for i, j in zip(progress[::2], progress[1::2], strict=True)]
    assert len(pairs) == 6, out[-3000:]
    jobs = [JOB_LINE.match(job) for job, _ in pairs]
    counts = [COUNT_LINE.match(count) for _, count in pairs]
    assert all(jobs) and all(counts), out[-3000:]
    assert sorted(int(m.group(1)) for m in jobs) == [1, 2, 3, 4, 5, 6]
    assert [int(m.group(1)) for m in counts] == [1, 2, 3, 4, 5, 6]
    found = [i for i, line in enumerate(lines) if re.match(summary, line)]
    assert len(found) == 1 and found[0] > progress[-1], out[-3000:]
    assert lines[progress[-1]].startswith("sweep grid_smoke: 6/6 done")


def assert_failed_jobs_console(out: str, failed: int, why: str) -> None:
    """``failed`` job lines that end ``FAILED: <why>`` (``why``: a regex), and the sweep's
    last count says 6/6 done with as many failed."""
    lines = [line for line in out.splitlines() if re.match(r"^\[\d/6\] .*  FAILED: ", line)]
    assert len(lines) == failed, out[-3000:]
    assert all(re.search(f"  FAILED: {why}$", line) for line in lines), lines
    counts = [line for line in out.splitlines() if line.startswith("sweep grid_smoke: ")]
    assert counts[-1].startswith(f"sweep grid_smoke: 6/6 done ({failed} failed), "), counts


def assert_resumed_console(out: str) -> None:
    """The same command again: its sweep ends 6/6 done, none failed."""
    counts = [line for line in out.splitlines() if line.startswith("sweep grid_smoke: ")]
    assert counts and counts[-1].startswith("sweep grid_smoke: 6/6 done, "), out[-3000:]


def _assert_all_finished(cwd: Path) -> None:
    """Six job runs and the parent run, all FINISHED, in the real SQLite store."""
    store = Store(f"sqlite:///{cwd}/mlruns/mlflow.db")
    experiment = store.experiment_id("genreclf-grid_smoke", create=False)
    assert experiment is not None
    jobs = store.find_runs(experiment, tags={names.ROLE_TAG: "job"})
    parents = store.find_runs(experiment, tags={names.ROLE_TAG: "parent"})
    assert len(jobs) == 6 and len(parents) == 1
    assert {run.info.status for run in [*jobs, *parents]} == {names.FINISHED}
    assert sorted(int(run.data.tags[names.JOB_NUM_TAG]) for run in jobs) == list(range(6))


@pytest.mark.slow
def test_a_ray_sweep_prints_the_joblib_console_and_finishes_every_run(
    tmp_path_factory, shared_data
):
    require_ray()
    cwd, _, result = _sweep(
        tmp_path_factory,
        "ray_sweep",
        shared_data / "seed_features.csv",
        "ray",
        "hydra.launcher.ray.init.num_cpus=2",  # a small local Ray instance
    )
    _assert_one_console(result)
    assert "(_run_job" not in result.stdout  # Ray's copy of worker output is off
    assert "Token authentication" not in result.stderr
    assert "Ray instance" not in result.stderr  # Ray's INFO banner is off
    _assert_all_finished(cwd)


@pytest.mark.slow
def test_a_submitit_local_sweep_prints_the_joblib_console_and_finishes_every_run(
    tmp_path_factory, shared_data
):
    cwd, _, result = _sweep(
        tmp_path_factory, "submitit_sweep", shared_data / "seed_features.csv", "submitit_local"
    )
    _assert_one_console(result)
    _assert_all_finished(cwd)
    logs = list((cwd / "multirun").rglob(".submitit/*/*_log.out"))
    assert len(logs) == 6  # the jobs' own output stays in submitit's folders


def _job(line: str) -> JobReturn:
    """What a worker returns: a finished job that said ``line``."""
    say_job_line(line)
    result = JobReturn(overrides=["model=cnn"], status=JobStatus.COMPLETED)
    result.return_value = 0.5
    return result


def test_the_launching_process_prints_a_workers_job_line_then_the_count(capsys):
    line = job_line(2, "cnn-h64", ["model=cnn"], "val_acc 0.500  test_acc 0.400", 1.0, 6)
    result = run_keeping_line(_job, line)
    assert capsys.readouterr().out == ""  # the worker prints nothing
    crashed = JobReturn(overrides=["model=rnn"], status=JobStatus.FAILED)
    crashed.return_value = RuntimeError("out of memory\nkilled")
    progress = SweepProgress("grid", 6, ["model"])
    progress.report(2, result, ["model=cnn"])
    progress.report(0, crashed, ["model=rnn"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == line and out[1].startswith("sweep grid: 1/6 done, ")
    assert out[2] == "[1/6] model=rnn  FAILED: killed"
    assert out[3].startswith("sweep grid: 2/6 done (1 failed), ") and "ETA" in out[3]
    assert out[3].endswith("best val_acc 0.500 [3] model=cnn")


def test_ray_auth_mode_is_what_ray_would_choose(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    assert ray_auth_mode(None) == "token"
    assert ray_auth_mode("auto") == "disabled"
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("x")
    assert ray_auth_mode("auto") == "token"


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["submitit_local", "submitit_slurm", "ray"])
def test_each_task_launcher_takes_jobs_per_task(launcher, tmp_path):
    """`hydra.launcher.jobs_per_task` is in the launcher's schema (Hydra's, plus it)."""
    if launcher == "ray":
        require_ray()
    result = subprocess.run(
        [sys.executable, "-m", "genreclf.train", "sweep=grid_smoke", f"hydra/launcher={launcher}",
         "hydra.launcher.jobs_per_task=3", "--cfg", "hydra"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "jobs_per_task: 3" in result.stdout and "genreclf_launcher" in result.stdout
