"""End to end: ``train features=musicnn`` on real excerpts, then ``predict`` a real song."""

from __future__ import annotations

import json

import pytest

from tests.conftest import require_shared
from tests.e2e import excerpt_subset, run_command

PER_GENRE = 5


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A linear musicnn probe trained by the real command on 5 excerpts per genre."""
    root = excerpt_subset(tmp_path_factory, PER_GENRE)
    cwd = tmp_path_factory.mktemp("musicnn_run")
    cache = tmp_path_factory.getbasetemp() / "cache"
    result = run_command(
        "genreclf.train",
        "data=gtzan",
        f"data.root={root.parent}",
        "features=musicnn",
        "features.pooling=segments",
        "model=linear",
        "trainer.max_epochs=5",
        "extraction.n_jobs=1",
        "registry.name=genres",
        "registry.alias=champion",
        cwd=cwd,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, cache, result


@pytest.mark.slow
def test_train_logs_a_musicnn_probe(trained):
    from mlflow import MlflowClient

    from genreclf.tracking.models import fetch_model
    from genreclf.tracking.store import Store

    cwd, _, result = trained
    assert "test accuracy:" in result.stdout
    uri = f"sqlite:///{cwd}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("genreclf").experiment_id])
    assert run.data.params["features"] == "musicnn"
    assert run.info.run_name.startswith("linear-musicnn-")
    _, folder = fetch_model(Store(uri), f"runs:/{run.info.run_id}/model", cwd / "fetched")
    spec = json.loads((folder / "genreclf.json").read_text())
    assert spec["features"]["name"] == "musicnn"
    assert spec["features"]["params"] == {
        "sr": 16000,
        "model": "MSD_musicnn",
        "layer": "penultimate",
        "pooling": "segments",
    }
    assert spec["head"]["name"] == "dense" and spec["head"]["params"]["num_layers"] == 0


@pytest.mark.slow
def test_predict_names_the_genre_of_a_real_song_from_the_registry(trained):
    cwd, cache, _ = trained
    song = require_shared("gtzan_mini", "genres_original", "metal", "metal.00000.wav")
    out = cwd / "genres.json"
    result = run_command(
        "genreclf.predict", f"inputs={song}", f"output={out}", cwd=cwd, cache=cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "features: musicnn" in result.stdout + result.stderr
    (row,) = json.loads(out.read_text())
    assert row["windows"] == 10  # ten 3 s windows of a 30 s song
    probs = row["probabilities"]
    assert len(probs) == 10 and row["genre"] == max(probs, key=probs.get)
    assert sum(probs.values()) == pytest.approx(1.0)
