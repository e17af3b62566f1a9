"""Faults: the tracking server goes away mid-sweep; no training is lost.

The real thing: a PostgreSQL-backed ``mlflow server`` killed by its PID while a sweep's
jobs train, and started again on the same port 15 s later. Jobs keep training; what the
server did not take is spooled in their folders (``.genreclf_spool``) and uploaded by the
jobs themselves, by ``python -m genreclf.sync`` or by the next run of the sweep.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from genreclf.tracking import names
from genreclf.tracking.spool import SPOOL_DIR, Outbox, offline_header, spool_files, upload_folder
from genreclf.tracking.store import Store
from tests.e2e import command_env
from tests.faults.test_sweep_faults import _sweep
from tests.faults.test_twin_sweeps import assert_one_finished_run_per_config, job_runs

#: Jobs of a few seconds each, so that some end and some start while the server is away.
JOBS = ["trainer.max_epochs=12", "callbacks.early_stopping.patience=12", "hydra.launcher.n_jobs=2"]


def _sync(folder: Path, cwd: Path, uri: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genreclf.sync", str(folder), "--tracking-uri", uri],
        cwd=cwd,
        env=command_env(cwd / "cache"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _wait_for_running_job(uri: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        if any(r.info.status == "RUNNING" for r in job_runs(uri)):
            return
        time.sleep(0.5)
    raise AssertionError("no job started")


def _wait_for_finished_jobs(uri: str, proc: subprocess.Popen, count: int = 2) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        if sum(r.info.status == "FINISHED" for r in job_runs(uri)) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} jobs finished")


@pytest.mark.slow
@pytest.mark.parametrize("when", ["first jobs train", "later jobs start"])
def test_a_server_killed_mid_sweep_loses_no_training(tmp_path, shared_data, pg_mlflow_server, when):
    """Killed while the first (long) jobs train, or as the short ones start: the jobs
    upload their own spools, or the runs left RUNNING are uploaded by sync."""
    server, uri = pg_mlflow_server, pg_mlflow_server.uri
    table = shared_data / "seed_features.csv"
    proc = _sweep(tmp_path, table, f"tracking.uri={uri}", *JOBS)
    if when == "first jobs train":
        _wait_for_running_job(uri, proc)
        time.sleep(3)
        outage = 15
    else:
        _wait_for_finished_jobs(uri, proc)
        outage = 20
    server.kill()  # by its PID: the server and its workers
    time.sleep(outage)
    assert proc.poll() is None, "the sweep ended during the outage"
    server.start()  # the same port
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in out + err, (out + err)[-4000:]
    assert "does not answer" in out + err  # the outage hit running jobs: they spooled

    synced = _sync(tmp_path / "multirun", tmp_path, uri)
    assert synced.returncode == 0, synced.stderr
    assert synced.stderr == "", synced.stderr
    assert len(synced.stdout.strip().splitlines()) == 1, synced.stdout
    runs = assert_one_finished_run_per_config(uri)
    # Trained once, by the first sweep: nothing FAILED or KILLED, nothing to train again.
    assert {r.info.status for r in runs} == {"FINISHED"}, [r.info.status for r in runs]
    for run in runs:
        assert names.TEST_ACC in run.data.metrics and names.BEST_VAL_ACC in run.data.metrics
        assert run.data.params.get("optimizer.lr"), run.data.params
    assert not list(spool_files(tmp_path / "multirun"))

    again = _sweep(tmp_path, table, f"tracking.uri={uri}", *JOBS)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert out.count("skipped: already FINISHED") == 6, out
    assert_one_finished_run_per_config(uri)


def test_a_run_opened_while_the_store_is_away_is_spooled_then_uploaded(tmp_path, monkeypatch):
    """Without a server: a refused connection spools the run; sync uploads it to a store."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    away = Store("http://127.0.0.1:9")  # nothing listens on port 9
    tags = {names.HASH_TAG: "abc", names.ROLE_TAG: "job"}
    outbox = Outbox(away, tmp_path / "job" / SPOOL_DIR, offline_header(away.uri, "e", "r", tags))
    outbox.open_offline()
    from mlflow.entities import Metric

    outbox.batch({"lr": "0.1"}, [Metric("val_acc", 0.5, 1, 1), Metric("val_acc", 0.7, 2, 2)], {})
    assert not outbox.end("FINISHED")  # the store is away: it stays spooled
    (spool,) = spool_files(tmp_path)
    assert spool.read_text().count("\n") == 3  # header, batch, end: JSON lines

    target = f"sqlite:///{tmp_path}/mlflow.db"
    assert upload_folder(tmp_path, Store, uri=target)["uploaded"] == [spool]
    assert not spool.exists()
    store = Store(target)
    (run,) = store.find_runs(store.experiment_id("e"))
    assert run.info.status == "FINISHED" and run.data.params == {"lr": "0.1"}
    assert run.data.tags[names.HASH_TAG] == "abc" and run.info.run_name == "r"
    history = store.metric_history(run.info.run_id, ["val_acc"])
    assert list(history["val_acc"]) == [0.5, 0.7]

    # The same config spooled again once it FINISHED: dropped, one FINISHED run stays.
    again = Outbox(away, tmp_path / "job2" / SPOOL_DIR, offline_header(away.uri, "e", "r", tags))
    again.open_offline()
    assert not again.end("FINISHED")
    assert upload_folder(tmp_path, Store, uri=target) == {"duplicate": [again.spool.path]}
    assert len(store.find_runs(store.experiment_id("e"))) == 1
