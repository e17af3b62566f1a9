"""A run's data set as an MLflow Dataset input, in a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genreclf.tracking import names
from genreclf.tracking.datasets import (
    CONTEXT_TAG,
    SYNTHETIC_INPUT_TAG,
    log_run_dataset,
    track_counts,
    tracks_frame,
)
from genreclf.tracking.run import RunWriter, config_params
from genreclf.tracking.store import Store

#: Six table rows: track a/1 has two segments.
TRACKS = ["a/1", "a/1", "a/2", "b/1", "b/2", "b/3"]
LABELS = ["a", "a", "a", "b", "b", "b"]
PARTS = {"train": [0, 1, 3], "val": [2, 4], "test": [5]}


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")


def _writer(store: Store) -> RunWriter:
    eid = store.experiment_id("genreclf")
    return RunWriter(store, store.create_run(eid), eid)


def test_tracks_frame_has_one_row_per_track_and_counts_each_part():
    tracks = tracks_frame(TRACKS, LABELS, PARTS)
    assert tracks["track"].tolist() == ["a/1", "a/2", "b/1", "b/2", "b/3"]
    assert tracks.set_index("track")["part"].to_dict() == {
        "a/1": "train",
        "a/2": "val",
        "b/1": "train",
        "b/2": "val",
        "b/3": "test",
    }
    assert track_counts(tracks) == {"n_tracks_train": 2, "n_tracks_val": 2, "n_tracks_test": 1}
    # the report's provenance block reads these metric names
    from genreclf.reports.provenance import TRACK_COUNT_METRICS

    assert set(TRACK_COUNT_METRICS.values()) == set(track_counts(tracks))


def test_a_run_records_its_data_set_as_an_mlflow_dataset(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = _writer(store)
    tracks = tracks_frame(TRACKS, LABELS, PARTS)
    label = log_run_dataset(writer, {"root": "music"}, "folder", False, tracks)
    writer.flush()
    run = store.get_run(writer.run_id)
    (item,) = run.inputs.dataset_inputs
    dataset = item.dataset
    assert json.loads(dataset.source)["uri"] == str(tmp_path / "music")  # absolute
    assert dataset.name == "folder:music" and label == f"folder:music@{dataset.digest}"
    profile = json.loads(dataset.profile)
    assert profile["num_tracks"] == 5 and profile["labels"] == ["a", "b"]
    assert profile["synthetic"] is False
    assert profile["tracks_per_part"] == {"train": 2, "val": 2, "test": 1}
    tags = {t.key: t.value for t in item.tags}
    assert tags[CONTEXT_TAG] == "training" and tags[SYNTHETIC_INPUT_TAG] == "false"
    assert run.data.tags[names.DATASET_TAG] == label
    assert run.data.metrics["n_tracks_test"] == 1.0


def test_the_digest_follows_the_track_list_and_split(store):
    def digest(parts, synthetic=False) -> str:
        writer = _writer(store)
        tracks = tracks_frame(TRACKS, LABELS, parts)
        return log_run_dataset(writer, {"root": "/d"}, "synthetic", synthetic, tracks)

    same = digest(PARTS)
    assert digest(PARTS) == same
    other = digest({"train": [0, 1, 2], "val": [3, 4], "test": [5]})
    assert other != same


def test_config_params_leave_out_hydra_keys_and_make_data_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {
        "data": {"_target_": "genreclf.data.sources.FolderSource", "root": "songs"},
        "model": {"_target_": "genreclf.models.heads.DenseHead", "hidden_size": 8},
        "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.001},
    }
    params = config_params(config)
    assert not [key for key in params if "_target_" in key or "_partial_" in key]
    assert params["data.root"] == str(Path(tmp_path / "songs"))
    assert params["model.hidden_size"] == 8 and params["optimizer.lr"] == 0.001
    table = config_params({"data": {"path": "s3://bucket/t.csv"}})
    assert table["data.path"] == "s3://bucket/t.csv"  # a URI is left as it is


def test_a_configuration_run_logs_each_folds_parts_and_their_mean_sizes(store):
    from types import SimpleNamespace

    from genreclf.tracking.datasets import FOLD_INPUT_TAG, log_folds

    table = SimpleNamespace(track_ids=TRACKS, labels=LABELS)
    folds = {  # three folds: each track is tested once
        0: {"train": [2, 3], "val": [4], "test": [0, 1, 5]},
        1: {"train": [0, 1, 5], "val": [3], "test": [2, 4]},
        2: {"train": [0, 1, 4], "val": [2], "test": [3]},
    }
    writer = _writer(store)
    data = {"_target_": "genreclf.data.sources.FolderSource", "root": "/music"}
    label = log_folds(writer, data, False, table, folds)
    writer.flush()
    run = store.get_run(writer.run_id)
    # tracks per fold: train 2, 2, 2; val 1, 1, 1; test 2, 2, 1 (a/1 has two segments)
    assert run.data.metrics["n_tracks_train"] == 2.0
    assert run.data.metrics["n_tracks_val"] == 1.0
    assert run.data.metrics["n_tracks_test"] == pytest.approx(5 / 3)
    assert run.data.tags[names.DATASET_TAG] == label and label.startswith("FolderSource:music@")
    inputs = {}
    for item in run.inputs.dataset_inputs:
        tags = {t.key: t.value for t in item.tags}
        inputs[item.dataset.name] = (tags[CONTEXT_TAG], tags[FOLD_INPUT_TAG], item.dataset)
    assert len(inputs) == 9
    context, fold, dataset = inputs["FolderSource:music/fold1/test"]
    assert (context, fold) == ("testing", "1")
    assert json.loads(dataset.profile)["num_tracks"] == 2
    assert {c for c, _, _ in inputs.values()} == {"training", "validation", "testing"}
