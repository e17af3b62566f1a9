"""End to end: ``python -m genreclf.train from_run=...`` reruns a logged run exactly.

Real subprocesses into a real SQLite MLflow store: the rerun's params equal the
original's, its test accuracy is the same, and later overrides apply on top.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from genreclf.config.runconfig import ARTIFACT
from tests.e2e import copy_store, run_command

#: Params that say where a run wrote (its model's registry name too: a rerun registers
#: nothing unless told), or that it is a rerun: not what it computed.
WHERE = (
    "tracking.",
    "registry.",
    "paths.",
    "trainer.default_root_dir",
    "callbacks.model_checkpoint.dirpath",
)


def _what(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if not k.startswith(WHERE) and k != "from_run"}


@pytest.fixture(scope="module")
def source(tiny_model, tmp_path_factory):
    """One real training run (the session's), in this module's copy of its store."""
    cwd, cache = copy_store(tiny_model, tmp_path_factory.mktemp("rerun") / "run"), tiny_model.cache
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("genreclf").experiment_id])
    return cwd, cache, client, run


def _rerun(source, *overrides: str):
    cwd, cache, client, run = source
    known = {r.info.run_id for r in client.search_runs([run.info.experiment_id])}
    result = run_command("genreclf.train", *overrides, cwd=cwd, cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = client.search_runs([run.info.experiment_id])
    (new,) = [r for r in runs if r.info.run_id not in known]
    return new


@pytest.mark.slow
def test_a_rerun_has_equal_params_and_the_same_test_accuracy(source):
    run = source[3]
    again = _rerun(source, f"from_run={run.info.run_id}")
    assert _what(again.data.params) == _what(run.data.params)
    assert again.data.params["from_run"] == run.info.run_id
    assert again.data.metrics["test_acc"] == run.data.metrics["test_acc"]
    assert again.data.metrics["best_val_loss"] == run.data.metrics["best_val_loss"]
    path = source[2].download_artifacts(again.info.run_id, ARTIFACT, str(source[0]))
    logged = json.loads(Path(path).read_text())
    assert logged["model"]["params"]["hidden_size"] == int(run.data.params["model.hidden_size"])


@pytest.mark.slow
def test_later_overrides_apply_on_top(source):
    run = source[3]
    again = _rerun(source, "from_run=best:genreclf", "model.hidden_size=16", "model=dense")
    assert run.data.params["model.hidden_size"] != "16"
    want = _what(run.data.params) | {"model.hidden_size": "16"}
    assert _what(again.data.params) == want


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["0123456789abcdef0123456789abcdef", "best:nothing-here"])
def test_a_run_that_is_not_there_is_one_line(source, ref):
    cwd, cache, _, _ = source
    result = run_command("genreclf.train", f"from_run={ref}", cwd=cwd, cache=cache)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: from_run={ref}"), result.stderr
