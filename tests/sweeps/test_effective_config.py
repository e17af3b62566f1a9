"""The effective configuration decides identity: hashes, model names, reuse of a trained run.

Configs that differ only in parameters their model ignores (a dense head with no hidden
layer: width, dropout, batch norm) share a config hash; a sweep trains them once and
logs the others' runs from that one, tagged ``genreclf.trained_by``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from genreclf.models.build import model_choice
from genreclf.sweeps.hashing import config_hash, exact_hash
from genreclf.sweeps.progress import best_line, tied_runs
from genreclf.tracking import names
from tests.paths import ROOT
from tests.sweeps.test_sweeps import sweep_config

LINEAR = ("model=dense", "model.num_layers=0")


def test_parameters_a_linear_head_ignores_leave_its_hash_alone():
    base = sweep_config(*LINEAR, hydra=False)
    for change in ("model.dropout=0.9", "model.hidden_size=8", "model.batch_norm=true"):
        other = sweep_config(*LINEAR, change, hydra=False)
        assert config_hash(other) == config_hash(base), change
        assert exact_hash(other) != exact_hash(base), change  # its own run is told apart
    assert config_hash(sweep_config("model=linear", hydra=False)) == config_hash(base)
    for change in ("model.num_layers=1", "optimizer.lr=0.1", "model.layer_weights=true"):
        assert config_hash(sweep_config(*LINEAR, change, hydra=False)) != config_hash(base)


def test_parameters_of_a_hidden_layer_still_count():
    base = sweep_config("model=dense", "model.num_layers=1", hydra=False)
    for change in ("model.dropout=0.9", "model.hidden_size=8"):
        other = sweep_config("model=dense", "model.num_layers=1", change, hydra=False)
        assert config_hash(other) != config_hash(base), change
    rnn = sweep_config("model=rnn", "model.num_layers=1", hydra=False)
    other = sweep_config("model=rnn", "model.num_layers=1", "model.dropout=0.9", hydra=False)
    assert config_hash(rnn) != config_hash(other)  # its dropout acts on the last state


def test_hashing_and_naming_import_no_torch():
    code = (
        "import sys; from genreclf.sweeps.hashing import config_hash; "
        "from genreclf.models.build import model_choice; "
        "from genreclf.tracking.run import auto_run_name; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_model_tag_is_what_was_built():
    assert model_choice(sweep_config(*LINEAR, hydra=False)) == "linear"
    assert model_choice(sweep_config("model=linear", hydra=False)) == "linear"
    assert model_choice(sweep_config("model=dense", hydra=False)) == "dense"
    assert model_choice(sweep_config("model=cnn", hydra=False)) == "cnn"


def _run(run_id: str, acc: float, name: str) -> SimpleNamespace:
    return SimpleNamespace(
        info=SimpleNamespace(run_id=run_id, status=names.FINISHED),
        data=SimpleNamespace(
            metrics={names.BEST_VAL_ACC: acc}, tags={names.RUN_NAME_TAG: name}, params={}
        ),
    )


def test_the_summary_names_ties_and_shows_no_empty_parameter_list():
    best, *others = [_run("a", 0.75, "x"), _run("b", 0.75, "y"), _run("c", 0.5, "z")]
    tied = tied_runs(best, [best, *others], names.BEST_VAL_ACC)
    assert [run.info.run_id for run in tied] == ["b"]
    line = best_line(names.BEST_VAL_ACC, best, {"model.dropout": "0.1"}, tied)
    assert line == (
        "best best_val_acc=0.7500 in run a (x): model.dropout=0.1; tied with 1 run(s): y (b)"
    )
    assert best_line(names.BEST_VAL_ACC, best, {}, []) == "best best_val_acc=0.7500 in run a (x)"


@pytest.mark.slow
def test_a_multirun_over_ignored_parameters_trains_once(tmp_path, shared_data):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"GENRECLF_CACHE": str(tmp_path / "cache"), "PYTHONHASHSEED": "0"}
    command = [
        sys.executable,
        "-m",
        "genreclf.train",
        "--multirun",
        *LINEAR,
        "model.dropout=0.1,0.5",
        "model.hidden_size=64,128",
        "trainer.max_epochs=3",
        f"tracking.uri={uri}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "data=table",
        f"data.path={shared_data / 'seed_features.csv'}",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("genreclf")
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`genreclf.sweep_role` = 'job'", max_results=100
    )
    assert len(runs) == 4 and {r.info.status for r in runs} == {names.FINISHED}
    trainers = [r for r in runs if names.TRAINED_BY_TAG not in r.data.tags]
    assert len(trainers) == 1  # trained once
    (trainer,) = trainers
    assert {r.data.tags.get(names.TRAINED_BY_TAG) for r in runs} == {None, trainer.info.run_id}
    assert len({r.data.metrics[names.TEST_ACC] for r in runs}) == 1
    assert {r.data.tags[names.MODEL_TAG] for r in runs} == {"linear"}
    assert all(r.data.tags[names.RUN_NAME_TAG].startswith("linear-") for r in runs)
    assert {(r.data.params["model.dropout"], r.data.params["model.hidden_size"]) for r in runs} == {
        ("0.1", "64"),
        ("0.1", "128"),
        ("0.5", "64"),
        ("0.5", "128"),
    }
    assert len({r.data.tags[names.HASH_TAG] for r in runs}) == 1
    assert len({r.data.tags[names.EXACT_HASH_TAG] for r in runs}) == 4
    summary = next(line for line in result.stdout.splitlines() if line.startswith("best "))
    assert f"in run {trainer.info.run_id} " in summary and "tied with 3 run(s)" in summary
    assert "model.dropout=0.1" in summary and not summary.rstrip().endswith(":")
    assert Path(tmp_path / "sweep").is_dir()


def test_an_optional_group_left_out_hashes_as_absent():
    from omegaconf import open_dict

    cfg = sweep_config("sweep=grid", hydra=False)
    typed = cfg.copy()  # RunConfig.dictconfig() writes the unselected group as null
    with open_dict(typed):
        typed.refit = None
    assert "refit" not in cfg and config_hash(typed) == config_hash(cfg)
