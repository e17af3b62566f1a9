"""End to end: ``python -m genreclf.train`` as a subprocess into a real SQLite MLflow store.

The first two tests read the session's shared training run (``tiny_model``: the dense head
on tiny synthetic data, 4 epochs, early stopping patience 2), which other tests then use.
"""

from __future__ import annotations

import re

import mlflow
import pytest
from mlflow import MlflowClient

from genreclf.tracking.history import epoch_curves
from genreclf.tracking.models import fetch_model
from genreclf.tracking.store import Store
from tests.e2e import TINY_DATA, run_in_new_folder


@pytest.mark.slow
def test_prints_report_run_id_and_ui_command(tiny_model):
    result = tiny_model.result
    out = result.stdout
    assert "Classification report" in out and "macro avg" in out
    assert "test accuracy:" in out
    assert "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db" in out
    assert "NOT real music" in result.stdout + result.stderr  # synthetic data is said plainly


@pytest.mark.slow
def test_mlflow_run_holds_params_metrics_and_artifacts(tiny_model, tmp_path):
    result, uri = tiny_model.result, tiny_model.uri
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("genreclf")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_id in result.stdout
    assert run.info.status == "FINISHED"
    assert re.fullmatch(r"dense-seed174-.*-ep4-patience2-[0-9a-f]{6}", run.info.run_name)
    params = run.data.params
    assert params["model.hidden_size"] == "256"
    assert params["optimizer"] == "adam" and "optimizer._target_" not in params
    assert params["trainer.max_epochs"] == "4"
    curves = epoch_curves(Store(uri), run.info.run_id)
    assert 1 <= len(curves) <= 4  # one row per trained epoch
    assert curves[["train_loss", "val_loss", "train_acc", "val_acc"]].notna().all().all()
    metrics = run.data.metrics
    assert 0.0 <= metrics["test_acc"] <= 1.0 and 0.0 <= metrics["test_f1"] <= 1.0
    assert f"{metrics['test_acc']:.3f}" in result.stdout
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "config.yaml",
        "classification_report.txt",
        "confusion_matrix.png",
        "curves.png",
        "skipped_files.csv",
    } <= names
    for png in ("confusion_matrix.png", "curves.png"):
        local = client.download_artifacts(run.info.run_id, png, str(tmp_path))
        assert open(local, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    report = client.download_artifacts(run.info.run_id, "classification_report.txt", str(tmp_path))
    report = open(report)
    assert "blues" in report.read()
    # the model: an MLflow 3 logged model (the run's Models column), reached as runs:/<id>/model
    (output,) = client.get_run(run.info.run_id).outputs.model_outputs
    assert client.get_logged_model(output.model_id).source_run_id == run.info.run_id
    _, folder = fetch_model(Store(uri), f"runs:/{run.info.run_id}/model", tmp_path / "fetched")
    info = mlflow.models.Model.load(str(folder / "MLmodel"))
    assert info.signature is not None  # the pyfunc's: audio in, genre probabilities out
    assert info.signature.inputs.input_names() == ["path", "audio_base64"]
    assert {"genre", "blues", "rock", "error"} <= set(info.signature.outputs.input_names())
    assert {"genreclf", "python_function"} <= set(info.flavors)


@pytest.mark.slow
def test_bf16_mixed_run_trains_and_logs(tmp_path_factory):
    """trainer.precision=bf16-mixed (CPUs with AVX512-BF16 or AMX, and GPUs): logged as usual."""
    cwd, _, result = run_in_new_folder(
        tmp_path_factory,
        "bf16",
        "genreclf.train",
        *TINY_DATA,
        "model=rnn",
        "trainer.max_epochs=2",
        "trainer.precision=bf16-mixed",
    )
    assert "test accuracy:" in result.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("genreclf").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.precision"] == "bf16-mixed"
    assert 0.0 <= run.data.metrics["test_acc"] <= 1.0
    store = Store(f"sqlite:///{cwd}/mlruns/mlflow.db")
    _, folder = fetch_model(store, f"runs:/{run.info.run_id}/model", cwd / "fetched")
    from safetensors.numpy import load_file

    weights = load_file(f"{folder}/weights.safetensors")
    assert weights and all(w.dtype.name == "float32" for w in weights.values())  # fp32 master
