"""The ``debug=`` group: fast, overfit and profile each run end to end."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from genreclf.config.runconfig import ARTIFACT
from tests.e2e import TINY_DATA, run_in_new_folder


def _debug_run(cwd):
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("genreclf-debug").experiment_id])
    assert run.info.status == "FINISHED"
    return client, run


@pytest.mark.slow
def test_fast_is_one_batch_of_each_and_logs_no_model(tmp_path_factory):
    cwd, _, result = run_in_new_folder(
        tmp_path_factory, "fast", "genreclf.train", *TINY_DATA, "debug=fast"
    )
    assert "test accuracy:" in result.stdout
    client, run = _debug_run(cwd)
    assert not client.get_metric_history(run.info.run_id, "train_loss")  # fast_dev_run: no logger
    # no model, no artifacts: only the record of the run, its checked configuration
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == [ARTIFACT]
    assert not list(cwd.glob("outputs/**/*.ckpt"))  # no checkpoint


@pytest.mark.slow
def test_overfit_reaches_full_training_accuracy(tmp_path_factory):
    cwd, _, _ = run_in_new_folder(
        tmp_path_factory, "overfit", "genreclf.train", *TINY_DATA, "debug=overfit"
    )
    client, run = _debug_run(cwd)
    history = client.get_metric_history(run.info.run_id, "train_acc")
    assert len(history) == 150  # no early stopping
    assert max(h.step for h in history) == history[-1].step and history[-1].value == 1.0


@pytest.mark.slow
def test_profile_prints_lightnings_simple_profiler(tmp_path_factory):
    cwd, _, result = run_in_new_folder(
        tmp_path_factory, "profile", "genreclf.train", *TINY_DATA, "debug=profile"
    )
    output = result.stdout + result.stderr
    assert "FIT Profiler Report" in output and "run_training_epoch" in output
    _debug_run(cwd)
