"""Sweeps: the grid's size, config hashing, batched logging, and real multiruns into MLflow.

The multiruns run ``python -m genreclf.train --multirun`` as subprocesses on the shared
seed feature table, one epoch of a small dense head per job, into SQLite stores (and one
``mlflow server``) in ``tmp_path``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from mlflow import MlflowClient
from omegaconf import OmegaConf

from genreclf.cli import CONFIG_DIR
from genreclf.sweeps.hashing import config_hash
from genreclf.sweeps.job import job_threads
from genreclf.tracking.names import HASH_TAG, JOB_NUM_TAG, SWEEP_ID_TAG, TRAINED_BY_TAG

GRID_SPACE = {
    "model": {"rnn", "cnn", "dense"},
    "model.hidden_size": {"64", "128", "256"},
    "model.num_layers": {"1", "2", "3", "4", "5"},
    "model.dropout": {"0.01", "0.05", "0.1", "0.3", "0.5"},
    "optimizer.lr": {"0.001", "0.0005", "0.0002", "0.0001"},
    "trainer.max_epochs": {"50", "100", "200"},
}


def sweep_config(*overrides: str, hydra: bool = True):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


def sweep_jobs(cfg) -> list[list[str]]:
    """The job override lists the basic sweeper would launch for ``cfg`` (none is run)."""
    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    parsed = OverridesParser.create().parse_overrides(params)
    return BasicSweeper.split_arguments(parsed, max_batch_size=None)[0]


# ------------------------------------------------------------------ composition, no runs


def test_grid_composes_to_2700_distinct_jobs_of_the_original_space():
    cfg = sweep_config("sweep=grid")
    jobs = sweep_jobs(cfg)
    assert len(jobs) == 2700
    assert len({tuple(job) for job in jobs}) == 2700
    seen: dict[str, set[str]] = {}
    for job in jobs:
        for override in job:
            key, value = override.split("=", 1)
            seen.setdefault(key, set()).add(value)
    assert seen == GRID_SPACE
    assert cfg.callbacks.early_stopping.patience == 5
    assert cfg.tracking.experiment == "genreclf-grid"
    assert cfg.hydra.callbacks.sweep_tracking._target_.endswith("SweepTracking")


def test_grid_lists_max_epochs_first_so_a_configs_budgets_are_900_jobs_apart():
    jobs = sweep_jobs(sweep_config("sweep=grid"))
    assert jobs[0][0] == "trainer.max_epochs=50" and jobs[900][0] == "trainer.max_epochs=100"
    assert jobs[0][1:] == jobs[900][1:] == jobs[1800][1:]


def test_sampled_sweeper_draws_whole_configs_in_grid_order():
    from benchmarks.sweep_throughput import SampledSweeper  # the throughput benchmark's

    cfg = sweep_config("sweep=grid")
    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    parsed = OverridesParser.create().parse_overrides(params)
    sweeper = SampledSweeper(sample=5, seed=3, keep_together=["trainer.max_epochs"])
    (jobs,) = sweeper.split_arguments(parsed, None)
    assert len(jobs) == 15
    budgets = [job[0] for job in jobs]
    assert (
        budgets
        == ["trainer.max_epochs=50"] * 5
        + ["trainer.max_epochs=100"] * 5
        + ["trainer.max_epochs=200"] * 5
    )
    assert [job[1:] for job in jobs[:5]] == [job[1:] for job in jobs[5:10]]
    assert len({tuple(job[1:]) for job in jobs}) == 5


def test_grid_works_on_any_data_and_features_choice():
    cfg = sweep_config("sweep=grid", "data=table", "data.path=x.csv", "features=summary")
    assert cfg.data._target_.endswith("TableSource") and cfg.features._target_.endswith("Summary")
    assert len(sweep_jobs(cfg)) == 2700


def test_grid_smoke_is_a_few_jobs():
    assert 2 <= len(sweep_jobs(sweep_config("sweep=grid_smoke"))) <= 10


def test_probe_sweep_is_linear_and_one_hidden_layer_probes():
    cfg = sweep_config("sweep=probe", "features=musicnn")
    jobs = sweep_jobs(cfg)
    assert len(jobs) == 96 and len({tuple(job) for job in jobs}) == 96
    space: dict[str, set[str]] = {}
    for job in jobs:
        for override in job:
            key, value = override.split("=", 1)
            space.setdefault(key, set()).add(value)
    assert space["model.num_layers"] == {"0", "1"}
    assert {"optimizer.lr", "optimizer.weight_decay", "model.dropout", "model.hidden_size"} <= set(
        space
    )
    assert cfg.model._target_.endswith("DenseHead") and cfg.optimizer._target_.endswith("AdamW")
    assert cfg.transforms._target_.endswith("StandardScaler")
    assert cfg.tracking.experiment == "genreclf-probe"
    assert cfg.split._target_.endswith("KFoldSplit") and cfg.split.fold is None  # every fold


def test_optuna_sweep_searches_the_grid_space_maximizing():
    cfg = sweep_config("sweep=optuna")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("StudySweeper") and sweeper.sampler == "tpe"
    assert sweeper.n_trials >= 1 and cfg.sweep.pruner == "none"
    parsed = OverridesParser.create().parse_overrides(
        [f"{k}={v}" for k, v in sweeper.params.items()]
    )
    space = {o.get_key_element(): {str(v) for v in o.sweep_string_iterator()} for o in parsed}
    assert space == GRID_SPACE


def test_single_runs_are_not_sweeps():
    cfg = sweep_config(hydra=False)
    assert "sweep" not in cfg and cfg.tracking.experiment == "genreclf"
    assert cfg.callbacks.model_checkpoint._target_.endswith("ModelCheckpoint")


# ---------------------------------------------------------------------------- hashing


def test_config_hash_ignores_where_things_go_but_not_what_is_computed():
    base = sweep_config("sweep=grid_smoke", hydra=False)
    elsewhere = sweep_config(
        "sweep=grid_smoke",
        "tracking.uri=sqlite:///elsewhere.db",
        "trainer.default_root_dir=/tmp/other",
        "extraction.n_jobs=1",
        hydra=False,
    )
    assert config_hash(base) == config_hash(elsewhere)
    assert len(config_hash(base)) == 16
    for change in ("optimizer.lr=0.0002", "model.hidden_size=128", "seed=1", "model=cnn"):
        other = sweep_config("sweep=grid_smoke", change, hydra=False)
        assert config_hash(other) != config_hash(base), change


def test_parallel_launchers_get_one_torch_thread():
    assert job_threads({"_target_": "hydra._internal.core_plugins.basic_launcher.X"}) is None
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert job_threads({"_target_": joblib, "n_jobs": -1}) == 1
    ray = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert job_threads({"_target_": ray}) == 1
    slurm = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert job_threads({"_target_": slurm, "cpus_per_task": 4}) == 4


# ---------------------------------------------------------------- batched run logging


def test_batched_logger_writes_metrics_once_per_step_when_the_run_ends(tmp_path):
    from genreclf.tracking.run import tracked_run

    tracking = OmegaConf.create(
        {
            "uri": f"sqlite:///{tmp_path}/mlflow.db",
            "experiment": "batched",
            "run_name": "r",
            "flush_every_s": 3600,
            "sqlite_pragmas": {"journal_mode": "WAL", "synchronous": "NORMAL"},
        }
    )
    client = MlflowClient(tracking_uri=tracking.uri)
    with tracked_run(tracking, {"a": "1"}) as writer:
        for step in range(3):
            writer.log_metrics({"train_loss": 1.0 / (step + 1), "epoch": step}, step=step)
            writer.log_metrics({"val_loss": 2.0, "epoch": step}, step=step)
        assert client.get_run(writer.run_id).data.metrics == {}  # held in memory
        with tracked_run(tracking, {"b": "2"}) as inner:  # a nested block joins the run
            assert inner is writer
        writer.log_params({"x": 1, "path": "p" * 1000})  # kept whole (MLflow stores 6000)
        writer.log_params({"x": 1})  # same value again: not re-sent, no error
        run_id = writer.run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert {"a", "b"} <= set(run.data.tags) and run.data.params == {"x": "1", "path": "p" * 1000}
    assert [m.step for m in client.get_metric_history(run_id, "epoch")] == [0, 1, 2]
    assert len(client.get_metric_history(run_id, "val_loss")) == 3
    assert writer.store_seconds > 0


def test_batched_logger_flushes_on_failure(tmp_path):
    from genreclf.tracking.run import tracked_run

    tracking = OmegaConf.create(
        {
            "uri": f"sqlite:///{tmp_path}/mlflow.db",
            "experiment": "batched",
            "run_name": "r",
            "flush_every_s": 3600,
        }
    )
    with pytest.raises(RuntimeError), tracked_run(tracking) as writer:
        writer.log_metrics({"val_loss": 1.5}, step=0)
        raise RuntimeError("boom")
    client = MlflowClient(tracking_uri=tracking.uri)
    run = client.get_run(writer.run_id)
    assert run.info.status == "FAILED" and run.data.metrics == {"val_loss": 1.5}


# -------------------------------------------------------------- real multiruns (slow)

TINY = ["model=dense", "model.hidden_size=16", "model.num_layers=1", "trainer.max_epochs=2"]


def multirun(
    cwd: Path,
    shared_data: Path,
    *overrides: str,
    env: dict | None = None,
    timeout=600,
    sweep: str = "grid_smoke",
    tiny: bool = True,
):
    """``python -m genreclf.train --multirun sweep=<sweep> ...`` in ``cwd``.

    ``tiny`` adds :data:`TINY`: a one-layer dense head of width 16, 2 epochs.
    """
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    environment |= {"GENRECLF_CACHE": str(cwd / "cache"), "PYTHONHASHSEED": "0"} | (env or {})
    command = [
        sys.executable,
        "-m",
        "genreclf.train",
        "--multirun",
        f"sweep={sweep}",
        "data=table",
        f"data.path={shared_data / 'seed_features.csv'}",
        *(TINY if tiny else []),
        *overrides,
    ]
    result = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def job_runs(uri: str, experiment: str = "genreclf-grid_smoke") -> list:
    """The job runs of ``experiment``."""
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return client.search_runs(
        [found.experiment_id], "tags.`genreclf.sweep_role` = 'job'", max_results=1000
    )


def parent_runs(uri: str, experiment: str = "genreclf-grid_smoke") -> list:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs(
        [found.experiment_id], "tags.`genreclf.sweep_role` = 'parent'", max_results=1000
    )


def local_uri(cwd: Path) -> str:
    return f"sqlite:///{cwd}/mlruns/mlflow.db"


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory, shared_data):
    """Two jobs through the joblib launcher with 2 workers."""
    cwd = tmp_path_factory.mktemp("joblib")
    overrides = ["optimizer.lr=0.001,0.0001", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    result = multirun(cwd, shared_data, *overrides)
    return cwd, overrides, result


@pytest.mark.slow
def test_joblib_sweep_writes_one_finished_run_per_job(joblib_sweep):
    cwd, _, result = joblib_sweep
    runs = job_runs(local_uri(cwd))
    assert len(runs) == 2
    assert all(r.info.status == "FINISHED" for r in runs)
    (parent,) = parent_runs(local_uri(cwd))
    sweep_id = parent.data.tags[SWEEP_ID_TAG]
    assert {r.data.tags[SWEEP_ID_TAG] for r in runs} == {sweep_id}
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parent.info.run_id}
    assert sorted(r.data.tags[JOB_NUM_TAG] for r in runs) == ["0", "1"]
    assert len({r.data.tags[HASH_TAG] for r in runs}) == 2
    assert {r.data.params["optimizer.lr"] for r in runs} == {"0.001", "0.0001"}
    client = MlflowClient(tracking_uri=local_uri(cwd))
    for run in runs:
        assert {"test_acc", "test_f1", "best_val_acc", "best_val_loss"} <= set(run.data.metrics)
        assert len(client.get_metric_history(run.info.run_id, "val_loss")) >= 2  # per epoch
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["runs_finished"] == 2
    assert parent.data.tags["genreclf.best_run_id"] in {r.info.run_id for r in runs}
    assert "2 FINISHED" in result.stdout


@pytest.mark.slow
def test_rerunning_a_finished_sweep_launches_nothing_new(joblib_sweep, shared_data):
    cwd, overrides, _ = joblib_sweep
    before = {r.info.run_id for r in job_runs(local_uri(cwd))}
    result = multirun(cwd, shared_data, *overrides)
    assert {r.info.run_id for r in job_runs(local_uri(cwd))} == before
    assert (result.stdout + result.stderr).count("already FINISHED") == 2
    assert "0 new run(s)" in result.stdout


@pytest.mark.slow
def test_a_failing_job_is_a_failed_run_and_the_others_carry_on(tmp_path, shared_data):
    # A table whose values pass the up-front check (an existing file) but fail inside the
    # job: a feature value that is not finite (data.nonfinite=error).
    import pandas as pd

    bad = tmp_path / "nonfinite.csv"
    frame = pd.read_csv(shared_data / "seed_features.csv")
    frame.loc[3, frame.columns[1]] = float("inf")
    frame.to_csv(bad, index=False)
    good = shared_data / "seed_features.csv"
    result = multirun(tmp_path, shared_data, f"data.path={bad},{good}", "optimizer.lr=0.001")
    runs = job_runs(local_uri(tmp_path))
    statuses = sorted(r.info.status for r in runs)
    assert statuses == ["FAILED", "FINISHED"]
    failed = next(r for r in runs if r.info.status == "FAILED")
    client = MlflowClient(tracking_uri=local_uri(tmp_path))
    path = client.download_artifacts(failed.info.run_id, "traceback.txt", str(tmp_path))
    assert "nonfinite.csv" in Path(path).read_text()
    assert failed.data.params["data.path"] == str(bad)
    assert "1 job(s) FAILED" in result.stdout
    (parent,) = parent_runs(local_uri(tmp_path))
    assert parent.data.metrics["runs_failed"] == 1 and parent.data.metrics["runs_finished"] == 1


@pytest.mark.slow
def test_tracking_server_receives_a_parallel_sweep_over_http(tmp_path, shared_data, mlflow_server):
    work = tmp_path / "work"
    work.mkdir()
    multirun(
        work,
        shared_data,
        "optimizer.lr=0.001,0.0001",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    runs = job_runs(mlflow_server)
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
    assert all(not math.isnan(r.data.metrics["test_acc"]) for r in runs)
    assert not (work / "mlruns").exists()  # nothing went to a local store


# The grid's three epoch budgets on one tiny config (3, 5 and 40 epochs: early stopping
# ends the 40-epoch fit or it runs out), with everything else fixed.
BUDGETS = (
    "hydra.sweeper.params={trainer.max_epochs:'3,5,40',model:dense,model.hidden_size:'16',"
    "model.num_layers:'1',model.dropout:'0.1',optimizer.lr:'0.001'}"
)


def budget_runs(uri: str) -> dict[str, dict]:
    """Per ``trainer.max_epochs``: job number, config hash, metrics and val_loss curve."""
    client = MlflowClient(tracking_uri=uri)
    out = {}
    for run in job_runs(uri, "genreclf-grid"):
        assert run.info.status == "FINISHED"
        curve = client.get_metric_history(run.info.run_id, "val_loss")
        out[run.data.params["trainer.max_epochs"]] = {
            "job": run.data.tags[JOB_NUM_TAG],
            "hash": run.data.tags[HASH_TAG],
            "params": run.data.params,
            "metrics": run.data.metrics,
            "curve": sorted((m.step, m.value) for m in curve),
            "trained_by": run.data.tags.get(TRAINED_BY_TAG),
            "run_id": run.info.run_id,
        }
    return out


@pytest.mark.slow
def test_epoch_budgets_share_one_fit_and_log_what_separate_fits_log(tmp_path, shared_data):
    shared_dir, separate_dir = tmp_path / "shared", tmp_path / "separate"
    shared_dir.mkdir(), separate_dir.mkdir()
    result = multirun(shared_dir, shared_data, BUDGETS, tiny=False, sweep="grid")
    multirun(
        separate_dir,
        shared_data,
        BUDGETS,
        "sweep.share_epoch_budgets=false",
        tiny=False,
        sweep="grid",
    )
    shared, separate = budget_runs(local_uri(shared_dir)), budget_runs(local_uri(separate_dir))
    assert sorted(shared) == sorted(separate) == ["3", "40", "5"]
    # One fit: job 0 (3 epochs) trained to 40 and logged all three runs; jobs 1 and 2
    # found theirs FINISHED and added their job numbers.
    assert (result.stdout + result.stderr).count("already FINISHED") == 2
    # The run of job 0 trained (no tag); the two others name it as their trainer.
    assert shared["3"]["trained_by"] is None
    assert shared["5"]["trained_by"] == shared["40"]["trained_by"] == shared["3"]["run_id"]
    assert all(run["trained_by"] is None for run in separate.values())
    for budget in ("3", "5", "40"):
        a, b = shared[budget], separate[budget]
        assert a["job"] == b["job"] and a["hash"] == b["hash"]
        assert a["params"].keys() == b["params"].keys()
        what = ("seed", "model.", "optimizer.", "callbacks.", "datamodule.", "trainer.max_")
        assert {k: v for k, v in a["params"].items() if k.startswith(what)} == {
            k: v for k, v in b["params"].items() if k.startswith(what)
        }
        assert a["params"]["trainer.max_epochs"] == budget
        assert a["curve"] == b["curve"]  # same epochs, same values
        assert len(a["curve"]) >= min(int(budget), 6)
        for key in (
            "best_val_acc",
            "best_val_loss",
            "test_acc",
            "test_f1",
            "train_loss",
            "val_loss",
        ):
            assert a["metrics"][key] == pytest.approx(b["metrics"][key], abs=1e-6), key
