"""Issue 29, case 10: finite weights that overflow (±3e38) give no NaN probabilities.

A real model package, logged to a real SQLite store the way ``train`` logs one, whose
head's weights are all finite but so large that its output is not. ``predict`` (the real
command) stops in one line with exit status 2; the served pyfunc (loaded by MLflow from
the logged folder) answers each row with null probabilities and a one-line error.
"""

from __future__ import annotations

import base64
import json

import pandas as pd
import pytest
import torch

from genreclf.core.registry import conf_values
from tests.e2e import run_command
from tests.options import make, transform_option


@pytest.fixture(scope="module")
def overflowing(shared_data, tmp_path_factory):
    """``(model URI, tracking URI, folder, clip)`` of a logged model with weights of ±3e38."""

    from genreclf.data.sources import TableSource
    from genreclf.datamodule import GenreDataModule
    from genreclf.features.build import build_feature_table
    from genreclf.models.heads import DenseHead
    from genreclf.serving.publish import log_genre_model
    from genreclf.split import HoldoutSplit
    from genreclf.tracking.models import fetch_model
    from genreclf.tracking.store import Store

    folder = tmp_path_factory.mktemp("overflow")
    source = make(TableSource, shared_data / "seed_features.csv", recipe="seed174")
    datamodule = make(
        GenreDataModule,
        build_feature_table(source, None, None),
        make(HoldoutSplit),
        transform=transform_option("log_standard"),
    )
    datamodule.setup()
    params = conf_values("model", "dense") | {"hidden_size": 8, "num_layers": 1}
    head = make(DenseHead, datamodule.input_shape, datamodule.num_classes, **params).eval()
    with torch.no_grad():
        for weights in head.parameters():
            signs = torch.where(torch.rand_like(weights) < 0.5, -1.0, 1.0)
            weights.copy_(3e38 * signs)
    assert all(torch.isfinite(w).all() for w in head.parameters())
    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    store = Store(uri)
    run_id = store.create_run(store.experiment_id("overflow"))
    model_uri = log_genre_model(
        store, run_id, head=head, head_params=params, datamodule=datamodule,
        feature_set=None, source=source,
    )  # fmt: skip
    _, local = fetch_model(store, model_uri, folder / "fetched")
    clip = shared_data / "gtzan_mini" / "genres_original" / "blues" / "blues.00000.wav"
    return model_uri, uri, local, clip


@pytest.mark.slow
def test_predict_refuses_a_model_whose_output_overflows_in_one_line(overflowing, tmp_path):
    model_uri, uri, _, clip = overflowing
    out = tmp_path / "out.json"
    result = run_command(
        "genreclf.predict", f"model_uri={model_uri}", f"tracking.uri={uri}",
        f"inputs=[{clip}]", f"output={out}", cwd=tmp_path, cache=tmp_path / "c", timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "output is not finite" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "NaN" not in result.stdout
    assert not out.exists()


def test_the_served_model_answers_null_with_an_error_never_nan(overflowing, monkeypatch):
    import mlflow.pyfunc

    from genreclf.serving.pyfunc import MODEL_FAULT

    _, _, local, clip = overflowing
    monkeypatch.chdir(local.parent)  # MLflow may write beside it: never into the repository
    served = mlflow.pyfunc.load_model(str(local))
    audio = base64.b64encode(clip.read_bytes()).decode()
    frame = served.predict(pd.DataFrame({"audio_base64": [audio, audio]}))
    records = frame.to_dict("records")
    json.dumps(records, allow_nan=False)  # no NaN reaches the JSON answer
    for row in records:
        assert row["error"] == MODEL_FAULT and row["genre"] is None
        genres = [c for c in frame.columns if c not in ("file", "genre", "error")]
        assert genres and all(row[g] is None for g in genres)
