"""Pruned sweeps end to end: ASHA over `sweep=grid_smoke` on the real feature table.

Each sweep is the real command, into a fresh SQLite MLflow store and the Optuna study
beside it (`mlruns/optuna.db`), on joblib, Ray and submitit_local. ASHA judges every job
after each epoch (`min_resource=1`, `reduction_factor=2`): a job worse than the best job
that reached the same epoch before it is pruned there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import optuna
import pytest

from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store
from tests.e2e import run_command
from tests.sweeps.test_launchers import require_ray

pytestmark = pytest.mark.slow

ASHA = [
    "--multirun",
    "sweep=grid_smoke",
    "sweep.pruner=asha",
    "sweep.pruners.asha.min_resource=1",
    "sweep.pruners.asha.reduction_factor=2",
    "data=table",
    "trainer.max_epochs=6",
]
JOB_PRUNED = re.compile(r"^\[\d/6\] \S+  model=\w+ optimizer\.lr=[\d.]+  pruned at epoch (\d)  ")
COUNT_PRUNED = re.compile(r"^sweep grid_smoke: \d/6 done \((\d) pruned\)")


def _asha(cwd: Path, table: Path, *extra: str) -> subprocess.CompletedProcess:
    result = run_command(
        "genreclf.train", *ASHA, f"data.path={table}", *extra, cwd=cwd, cache=cwd / "cache"
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


def _study(cwd: Path, storage: str | None = None) -> optuna.Study:
    storage = storage or f"sqlite:///{cwd}/mlruns/optuna.db"
    return optuna.load_study(study_name="genreclf-grid_smoke", storage=storage)


def _job_runs(cwd: Path, uri: str | None = None) -> list:
    store = Store(uri or f"sqlite:///{cwd}/mlruns/mlflow.db")
    experiment = store.experiment_id("genreclf-grid_smoke", create=False)
    return store.find_runs(experiment, tags={names.ROLE_TAG: "job"})


def _assert_pruned_sweep(
    cwd: Path,
    result: subprocess.CompletedProcess,
    uri: str | None = None,
    storage: str | None = None,
) -> None:
    """Six FINISHED runs, some pruned and recorded so; the study agrees with MLflow.

    ``uri`` and ``storage``: the tracking store and the study's (default: SQLite in ``cwd``).
    """
    runs = _job_runs(cwd, uri)
    assert len(runs) == 6 and {r.info.status for r in runs} == {names.FINISHED}
    pruned = [r for r in runs if names.PRUNED_TAG in r.data.tags]
    assert 1 <= len(pruned) < 6, [r.data.tags.get(names.PRUNED_TAG) for r in runs]
    store = Store(uri or f"sqlite:///{cwd}/mlruns/mlflow.db")
    for run in pruned:  # curves up to the epoch it stopped at, never selected nor tested
        epochs = int(run.data.tags[names.PRUNED_TAG])
        history = store.metric_history(run.info.run_id, [names.VAL_ACC])
        assert len(history) == epochs < 6
        assert names.BEST_VAL_ACC not in run.data.metrics
        assert names.TEST_ACC not in run.data.metrics
    best = best_run(runs)
    assert names.PRUNED_TAG not in best.data.tags
    assert f"in run {best.info.run_id} " in result.stdout
    study = _study(cwd, storage)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6 - len(pruned)
    chosen = store.get_run(study.best_trial.user_attrs["genreclf.run_id"])
    assert chosen.data.tags[names.HASH_TAG] == best.data.tags[names.HASH_TAG]
    lines = result.stdout.splitlines()
    assert len([m for m in map(JOB_PRUNED.match, lines) if m]) == len(pruned)
    counts = [int(m.group(1)) for m in map(COUNT_PRUNED.match, lines) if m]
    assert counts and counts[-1] == len(pruned)
    assert f"({len(pruned)} of them pruned" in result.stdout


@pytest.fixture(scope="module")
def asha_sweep(tmp_path_factory, shared_data):
    """The ASHA sweep on joblib with 2 workers: its folder and console."""
    cwd = tmp_path_factory.mktemp("asha_joblib")
    table = shared_data / "seed_features.csv"
    result = _asha(cwd, table, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    return cwd, table, result


def test_asha_on_joblib_prunes_records_and_picks_an_unpruned_run(asha_sweep):
    cwd, _, result = asha_sweep
    _assert_pruned_sweep(cwd, result)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_optuna_dashboard_serves_the_sweeps_study(asha_sweep):
    """README's `optuna-dashboard sqlite:///mlruns/optuna.db`: its API lists the study."""
    cwd, _, _ = asha_sweep
    port = _free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"  # the venv's command
    command = [str(dashboard), "sqlite:///mlruns/optuna.db"]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline, studies = time.monotonic() + 60, None
        while studies is None and time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies") as answer:
                    studies = json.load(answer)["study_summaries"]
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "optuna-dashboard did not answer"
        found = [s for s in studies if s["study_name"] == "genreclf-grid_smoke"]
        assert len(found) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_rerunning_a_pruned_sweep_trains_nothing_twice(asha_sweep):
    cwd, table, _ = asha_sweep
    before = {r.info.run_id for r in _job_runs(cwd)}
    trials = len(_study(cwd).trials)
    result = _asha(cwd, table, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert "0 of 6 trials to run" in result.stdout
    assert {r.info.run_id for r in _job_runs(cwd)} == before
    assert len(_study(cwd).trials) == trials


def test_asha_on_ray(tmp_path, shared_data):
    require_ray()
    table = shared_data / "seed_features.csv"
    result = _asha(tmp_path, table, "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2")
    _assert_pruned_sweep(tmp_path, result)


def test_asha_against_a_tracking_server_keeps_its_study_on_the_same_postgresql(
    tmp_path, shared_data, pg_mlflow_server
):
    """The team setup: runs on a PostgreSQL-backed `mlflow server`, the study in a second
    database of the same PostgreSQL server (each keeps its own alembic_version table)."""
    storage = pg_mlflow_server.cluster.create_database("optuna")
    table = shared_data / "seed_features.csv"
    result = _asha(
        tmp_path,
        table,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"tracking.uri={pg_mlflow_server.uri}",
        f"sweep.storage='{storage}'",
    )
    _assert_pruned_sweep(tmp_path, result, pg_mlflow_server.uri, storage)
    assert not (tmp_path / "mlruns").exists()  # nothing beside it: all on the server


def test_asha_on_submitit_local_three_jobs_per_task(tmp_path, shared_data):
    table = shared_data / "seed_features.csv"
    result = _asha(
        tmp_path, table, "hydra/launcher=submitit_local", "hydra.launcher.jobs_per_task=3"
    )
    _assert_pruned_sweep(tmp_path, result)
    logs = list((tmp_path / "multirun").rglob(".submitit/*/*_log.out"))
    assert len(logs) == 2  # two tasks of three jobs, each one process
    pids = {
        json.loads(p.read_text())["pid"] for p in (tmp_path / "multirun").rglob("sweep_job.json")
    }
    assert len(pids) == 2


def test_sigterm_mid_study_leaves_nothing_running_and_the_rerun_ends_the_study(
    tmp_path, shared_data
):
    """SIGTERM: no run, no trial RUNNING. The same command again trains each config once."""
    table = shared_data / "seed_features.csv"
    command = [
        sys.executable, "-m", "genreclf.train", *ASHA, f"data.path={table}",
        "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        "trainer.max_epochs=30", "callbacks.early_stopping.patience=30",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"GENRECLF_CACHE": str(tmp_path / "cache"), "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    while not any(r.info.status == names.RUNNING for r in _safe_runs(tmp_path)):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no job started"
        time.sleep(0.5)
    time.sleep(2)  # a job is training, reporting to its trial
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, err[-2000:]
    assert not [r for r in _job_runs(tmp_path) if r.info.status == names.RUNNING]
    states = {t.state for t in _study(tmp_path).trials}
    assert states and optuna.trial.TrialState.RUNNING not in states
    killed = [r for r in _job_runs(tmp_path) if r.info.status == names.KILLED]
    assert killed  # the job that was training

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    finished = Counter(
        r.data.tags[names.HASH_TAG] for r in _job_runs(tmp_path) if r.info.status == names.FINISHED
    )
    assert len(finished) == 6 and set(finished.values()) == {1}, finished
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    configs = {tuple(sorted(t.params.items())) for t in _study(tmp_path).trials if t.state in done}
    assert len(configs) == 6


def _safe_runs(cwd: Path) -> list:
    """The job runs once the store exists (none before)."""
    if not (cwd / "mlruns" / "mlflow.db").exists():
        return []
    try:
        return _job_runs(cwd)
    except Exception:  # the store is being created
        return []


def test_an_optuna_search_with_hyperband_tells_every_trial(tmp_path, shared_data):
    """`sweep=optuna` (TPE): 4 trials, each a run, each trial ended, the best the same."""
    table = shared_data / "seed_features.csv"
    result = run_command(
        "genreclf.train",
        "--multirun",
        "sweep=optuna",
        "hydra.sweeper.n_trials=4",
        "sweep.pruner=hyperband",
        "sweep.pruners.hyperband.min_resource=1",
        "data=table",
        f"data.path={table}",
        "trainer.max_epochs=4",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "4 of 4 trials to run" in result.stdout
    study = optuna.load_study(
        study_name="genreclf-optuna", storage=f"sqlite:///{tmp_path}/mlruns/optuna.db"
    )
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert len(study.trials) == 4 and all(t.state in finished for t in study.trials)
    store = Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = store.find_runs(
        store.experiment_id("genreclf-optuna", create=False), tags={names.ROLE_TAG: "job"}
    )
    assert len(runs) == 4 and {r.info.status for r in runs} == {names.FINISHED}
    best = best_run(runs)
    chosen = store.get_run(study.best_trial.user_attrs["genreclf.run_id"])
    assert chosen.data.tags[names.HASH_TAG] == best.data.tags[names.HASH_TAG]
    results = next((tmp_path / "multirun").rglob("optimization_results.yaml")).read_text()
    assert "best_params" in results
