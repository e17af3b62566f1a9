"""End to end: ``train features=hf_encoder features.layer=all`` (a tiny model), then ``predict``."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from tests.e2e import TINY_DATA, run_command, run_in_new_folder
from tests.features.tiny_hf import save_tiny_hf_model

pytest.importorskip("transformers")


def head_overrides() -> list[str]:
    """A linear probe with learned layer weights where the dense head has them, else dense."""
    from genreclf.models.heads import DenseHead

    if "layer_weights" in inspect.signature(DenseHead).parameters:
        return ["model=linear", "model.layer_weights=true"]
    return ["model=dense", "model.hidden_size=16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real training run on every hidden state of a tiny random HuBERT."""
    model = save_tiny_hf_model(tmp_path_factory.mktemp("tiny_hf") / "model")
    cwd, cache, result = run_in_new_folder(
        tmp_path_factory,
        "hf_run",
        "genreclf.train",
        *TINY_DATA,
        "features=hf_encoder",
        f"features.model={model}",
        "features.layer=all",
        "features.window_seconds=1.0",
        *head_overrides(),
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
    )
    return model, cwd, cache, result


@pytest.mark.slow
def test_train_logs_a_run_on_every_layer(trained):
    from mlflow import MlflowClient

    model, cwd, _, result = trained
    assert "test accuracy:" in result.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlruns/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("genreclf").experiment_id])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["features"] == "hf_encoder" and "features._target_" not in params
    assert params["features.layer"] == "all" and params["features.model"] == str(model)
    assert 0.0 <= run.data.metrics["test_acc"] <= 1.0


@pytest.mark.slow
def test_predict_reads_the_encoder_back(trained, tmp_path):
    import soundfile as sf

    _, cwd, cache, _ = trained
    song = tmp_path / "song.wav"
    t = np.arange(4 * 22050) / 22050
    sf.write(song, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22050)
    out = cwd / "genres.json"
    result = run_command(
        "genreclf.predict", f"inputs={song}", f"output={out}", cwd=cwd, cache=cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    assert row["windows"] == 1  # a 4 s song is one clip
    assert sum(row["probabilities"].values()) == pytest.approx(1.0)
    assert "features: hf_encoder" in result.stdout + result.stderr
