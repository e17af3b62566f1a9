"""End to end: a plain multirun on real data gives runs a researcher can publish.

Each run records its data set as an MLflow Dataset, its model as an MLflow 3 logged
model, no ``_target_`` params, the data path absolute, a name of its own; the multirun
is tracked as a sweep; ``predict`` names the model it uses in one line.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from mlflow import MlflowClient

from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from tests.conftest import require_shared
from tests.e2e import run_command

EXPERIMENT = "publish"


@pytest.fixture(scope="module")
def multirun(tmp_path_factory, shared_data):
    """Two real-data jobs (seed174 table of GTZAN), given the table by a relative path."""
    cwd = tmp_path_factory.mktemp("publish")
    cache = tmp_path_factory.getbasetemp() / "cache"
    table = os.path.relpath(shared_data / "seed_features.csv", cwd)
    result = run_command(
        "genreclf.train",
        "--multirun",
        "data=table",
        f"data.path={table}",
        "data.recipe=seed174",
        "model=dense",
        "model.hidden_size=8,16",
        "trainer.max_epochs=2",
        f"tracking.experiment={EXPERIMENT}",
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs = client.search_runs([experiment_id])
    return cwd, cache, result, client, experiment_id, runs, shared_data / "seed_features.csv"


def _jobs(runs):
    return [r for r in runs if r.data.tags.get(names.ROLE_TAG) == "job"]


@pytest.mark.slow
def test_a_plain_multirun_is_tracked_as_a_sweep(multirun):
    _, _, result, _, _, runs, _ = multirun
    parents = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == "parent"]
    assert len(parents) == 1 and len(_jobs(runs)) == 2
    assert re.search(r"^Sweep \S+: 2 new run\(s\)", result.stdout, re.M), result.stdout[-2000:]
    for job in _jobs(runs):
        assert job.data.tags[names.PARENT_RUN_TAG] == parents[0].info.run_id


@pytest.mark.slow
def test_each_run_names_its_config_uniquely_and_logs_no_hydra_keys(multirun):
    _, _, _, _, _, runs, table = multirun
    jobs = _jobs(runs)
    run_names = sorted(job.info.run_name for job in jobs)
    assert len(set(run_names)) == 2
    assert [n.startswith("dense-") for n in run_names] == [True, True]
    assert {re.search(r"-h(\d+)-", n).group(1) for n in run_names} == {"8", "16"}
    for job in jobs:
        params = job.data.params
        assert not [key for key in params if "_target_" in key or "_partial_" in key]
        assert params["data.path"] == os.path.abspath(table)  # given relative
        assert params["data"] == "table" and params["model"] == "dense"
        assert job.data.tags[names.HIT_MAX_EPOCHS_TAG] in ("true", "false")
        assert job.data.tags[names.SYNTHETIC_TAG] == "False"


@pytest.mark.slow
def test_each_run_has_its_data_set_and_its_logged_model(multirun):
    _, _, _, client, experiment_id, runs, table = multirun
    for job in _jobs(runs):
        run = client.get_run(job.info.run_id)
        (item,) = run.inputs.dataset_inputs
        assert json.loads(item.dataset.source)["uri"] == os.path.abspath(table)
        profile = json.loads(item.dataset.profile)
        assert profile["synthetic"] is False and profile["num_labels"] == 10
        counts = [run.data.metrics[f"n_tracks_{p}"] for p in ("train", "val", "test")]
        assert sum(counts) == profile["num_tracks"] and min(counts) > 0
        # the model: an MLflow 3 logged model, the run's output (the UI's Models column)
        (output,) = run.outputs.model_outputs
        model = client.get_logged_model(output.model_id)
        assert model.source_run_id == job.info.run_id and model.name == "model"
        assert str(model.status) == "READY"


@pytest.mark.slow
def test_predict_names_the_model_it_uses_in_one_line(multirun):
    cwd, cache, _, _, _, runs, _ = multirun
    song = require_shared("gtzan_mini", "genres_original", "blues")
    result = run_command(
        "genreclf.predict",
        f"inputs=[{song}]",
        f"model_uri=best:{EXPERIMENT}",
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Model: ")]
    best = best_run(_jobs(runs))
    assert line.startswith(f"Model: {best.info.run_name} (runs:/{best.info.run_id}/model)")
    assert "data table:seed_features.csv@" in line and "features: seed174" in line
    assert f"best_val_acc {best.data.metrics[names.BEST_VAL_ACC]:.3f}" in line
    assert "SYNTHETIC" not in result.stderr
