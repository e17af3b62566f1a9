"""End to end: ``train split=kfold split.n_splits=3 repeats=2`` on the seed table.

One configuration run with six children (3 folds x 2 seeds) in a real SQLite store; its
summary agrees with its children, its pooled predictions cover every track once per
seed, and ``best:``, the report's ranking and a sweep's choice all name it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from genreclf.reports.runs import load_runs
from genreclf.tracking import names
from genreclf.tracking.models import best_model_uri
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store
from tests.conftest import require_shared
from tests.e2e import run_in_new_folder

EXPERIMENT = "genreclf-seed"  # +preset=seed_dense's


@pytest.fixture(scope="module")
def configuration(tmp_path_factory):
    table = require_shared("seed_features.csv")
    cwd, _, result = run_in_new_folder(
        tmp_path_factory,
        "kfold",
        "genreclf.train",
        "+preset=seed_dense",
        f"data.path={table}",
        "split=kfold",
        "split.n_splits=3",
        "repeats=2",
        "model.hidden_size=32",
        "trainer.max_epochs=4",
        "trainer.enable_progress_bar=false",
    )
    uri = f"sqlite:///{cwd}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    tracks = pd.read_csv(table, usecols=["filename"])["filename"].nunique()
    return cwd, uri, client, runs, result, tracks


@pytest.mark.slow
def test_one_configuration_run_with_a_child_per_fold_and_seed(configuration):
    _, _, _, runs, result, _ = configuration
    (parent,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    children = [r for r in runs if r.info.run_id != parent.info.run_id]
    assert parent.info.status == "FINISHED" and parent.info.run_id in result.stdout
    assert len(children) == 6
    pairs = set()
    for child in children:
        tags = child.data.tags
        assert child.info.status == "FINISHED"
        assert tags[names.PARENT_RUN_TAG] == parent.info.run_id
        assert tags[names.ROLE_TAG] == names.MEMBER_ROLE
        pairs.add((int(tags[names.FOLD_TAG]), int(tags[names.SEED_TAG])))
        assert child.data.params["split.fold"] == tags[names.FOLD_TAG]
        assert names.MODEL_FORMAT_TAG not in tags  # the configuration run holds the model
    assert pairs == {(f, s) for f in range(3) for s in (42, 43)}


@pytest.mark.slow
def test_summary_agrees_with_the_children(configuration):
    _, _, _, runs, result, _ = configuration
    (parent,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    children = [r for r in runs if r.info.run_id != parent.info.run_id]
    m = parent.data.metrics
    val = np.array([c.data.metrics[names.BEST_VAL_ACC] for c in children])
    test = np.array([c.data.metrics[names.TEST_ACC] for c in children])
    f1 = np.array([c.data.metrics[names.TEST_F1] for c in children])
    assert m[names.VAL_ACC_MEAN] == pytest.approx(val.mean())
    assert m[names.VAL_ACC_STD] == pytest.approx(val.std(ddof=1))
    assert m[names.TEST_ACC_MEAN] == pytest.approx(test.mean())
    assert m[names.TEST_ACC_STD] == pytest.approx(test.std(ddof=1))
    assert m[names.TEST_F1_MEAN] == pytest.approx(f1.mean())
    assert m[names.BEST_VAL_ACC] == m[names.VAL_ACC_MEAN]  # what every ranking reads
    assert 0 <= m[names.TEST_ACC_CI_LOW] < m[names.TEST_ACC_CI_HIGH] <= 1
    out = result.stdout
    assert f"{m[names.TEST_ACC_MEAN]:.3f} ± {m[names.TEST_ACC_STD]:.3f}" in out
    assert f"[{m[names.TEST_ACC_CI_LOW]:.3f}, {m[names.TEST_ACC_CI_HIGH]:.3f}]" in out
    assert "pooled test predictions of 6 runs: 3 fold(s) x 2 seed(s)" in out


@pytest.mark.slow
def test_pooled_predictions_cover_every_track_once_per_seed(configuration):
    cwd, _, client, runs, _, tracks = configuration
    (parent,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    wanted = {names.PREDICTIONS_ARTIFACT, names.CONFUSION_ARTIFACT, names.REPORT_ARTIFACT}
    assert wanted <= artifacts
    assert names.MODEL_FORMAT_TAG in parent.data.tags  # the best child's model, logged here
    local = client.download_artifacts(parent.info.run_id, names.PREDICTIONS_ARTIFACT, str(cwd))
    frame = pd.read_parquet(local)
    genres = [c for c in frame.columns if c not in ("track", "fold", "seed", "true_genre")]
    assert list(frame.columns[:4]) == ["track", "fold", "seed", "true_genre"]
    assert len(genres) == 10 and set(frame["true_genre"]) == set(genres)
    for _, rows in frame.groupby("seed"):
        assert rows["track"].is_unique and len(rows) == tracks
    np.testing.assert_allclose(frame[genres].sum(axis=1), 1.0, atol=1e-5)
    right = frame[genres].to_numpy().argmax(axis=1) == frame["true_genre"].map(genres.index)
    m = parent.data.metrics
    assert m[names.TEST_ACC_CI_LOW] <= right.mean() <= m[names.TEST_ACC_CI_HIGH]
    for child in runs:
        if child.data.tags.get(names.ROLE_TAG) == names.MEMBER_ROLE:
            fold, seed = (int(child.data.tags[k]) for k in (names.FOLD_TAG, names.SEED_TAG))
            mine = right[(frame["fold"] == fold) & (frame["seed"] == seed)]
            assert mine.mean() == pytest.approx(child.data.metrics[names.TEST_ACC], abs=1e-6)
    report = client.download_artifacts(parent.info.run_id, names.REPORT_ARTIFACT, str(cwd))
    assert f"{2 * tracks}" in open(report).read()  # support of the pooled predictions


@pytest.mark.slow
def test_best_and_the_report_choose_the_configuration(configuration):
    _, uri, _, runs, _, _ = configuration
    (parent,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    store = Store(uri)
    assert best_model_uri(store, EXPERIMENT) == f"runs:/{parent.info.run_id}/model"
    frame = load_runs(store, EXPERIMENT)  # the report's runs: one row per configuration
    assert frame["run_id"].tolist() == [parent.info.run_id]
    assert frame["val_acc"].iloc[0] == parent.data.metrics[names.VAL_ACC_MEAN]
    assert best_run(frame, acc="val_acc", loss="val_loss")["run_id"] == parent.info.run_id


@pytest.mark.slow
def test_the_configuration_logs_its_true_part_sizes(configuration):
    """Mean part sizes per fold (above 0), and each fold's parts as data sets."""
    _, _, _, runs, _, tracks = configuration
    (parent,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    m = parent.data.metrics
    assert m["n_tracks_train"] > 0 and m["n_tracks_val"] > 0
    assert m["n_tracks_test"] == pytest.approx(tracks / 3, abs=1)
    assert m["n_tracks_train"] + m["n_tracks_val"] + m["n_tracks_test"] == pytest.approx(tracks)
    assert len(parent.inputs.dataset_inputs) == 9  # 3 folds x (train, val, test)
