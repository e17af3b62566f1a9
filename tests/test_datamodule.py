"""GenreDataModule: disjoint splits, label encoding, transform fit on training rows only."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from genreclf.datamodule import GenreDataModule
from genreclf.features.table import FeatureTable
from genreclf.split import HoldoutSplit
from tests.options import make


def make_table(n_tracks=60, segments=1, frames=None, d=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n_tracks // 3)
    ids = np.array([f"{lab}/{lab}.{i:05d}.wav" for i, lab in enumerate(labels)])
    shape = (n_tracks * segments, d) if frames is None else (n_tracks * segments, frames, d)
    X = rng.normal(loc=3.0, scale=2.0, size=shape)
    return FeatureTable(
        X=X,
        labels=np.repeat(labels, segments),
        track_ids=np.repeat(ids, segments),
        columns=[f"f{i}" for i in range(d)],
    )


def test_splits_are_disjoint_and_cover_by_track():
    table = make_table(segments=4)
    dm = make(
        GenreDataModule,
        table,
        make(HoldoutSplit, val_size=0.2, test_size=0.2, seed=1),
        transform=StandardScaler(),
    )
    dm.setup()
    parts = {name: set(table.track_ids[idx]) for name, idx in dm.indices.items()}
    assert parts["train"].isdisjoint(parts["val"])
    assert parts["train"].isdisjoint(parts["test"])
    assert parts["val"].isdisjoint(parts["test"])
    assert sum(len(idx) for idx in dm.indices.values()) == len(table)
    assert dm.num_classes == 3 and dm.class_names == ["a", "b", "c"]


def test_scaler_is_fit_on_training_rows_only():
    table = make_table()
    # Shift the rows that are not training rows, so a scaler fit on all rows would differ.
    dm = make(
        GenreDataModule,
        table,
        make(HoldoutSplit, val_size=0.2, test_size=0.2, seed=1),
        transform=StandardScaler(),
    )
    dm.setup()
    train = dm.indices["train"]
    np.testing.assert_allclose(dm.transform.mean_, table.X[train].mean(axis=0), rtol=1e-5)
    assert not np.allclose(dm.transform.mean_, table.X.mean(axis=0), rtol=1e-5)
    x_train = dm.datasets["train"].tensors[0].numpy()
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0), 1.0, atol=1e-3)


def test_frame_level_transform_keeps_shape_and_groups():
    table = make_table(segments=3, frames=8, d=4)
    dm = make(
        GenreDataModule,
        table,
        make(HoldoutSplit, val_size=0.2, test_size=0.2, seed=0),
        transform=StandardScaler(),
    )
    dm.setup()
    assert dm.input_shape == (8, 4)
    x, y, group = dm.datasets["test"].tensors
    assert x.shape[1:] == (8, 4)
    # each track's three segments share one group number and one label
    for g in group.unique():
        assert len(set(y[group == g].tolist())) == 1
        assert int((group == g).sum()) == 3


def test_empty_split_is_an_error():
    table = make_table(n_tracks=6)

    def no_validation(labels, track_ids):
        return np.arange(3), np.array([], dtype=int), np.arange(3, 6)

    with pytest.raises(ValueError, match="empty val set"):
        make(GenreDataModule, table, no_validation).setup()


def test_with_val_in_train_trains_on_both_and_keeps_the_test_split():
    table = make_table()
    dm = make(
        GenreDataModule,
        table,
        make(HoldoutSplit, val_size=0.2, test_size=0.2, seed=1),
        transform=StandardScaler(),
    )
    dm.setup()
    merged = dm.with_val_in_train()
    merged.setup()
    both = np.concatenate([dm.indices["train"], dm.indices["val"]])
    assert sorted(merged.indices["train"]) == sorted(both)
    assert list(merged.indices["test"]) == list(dm.indices["test"])
    np.testing.assert_allclose(merged.transform.mean_, table.X[both].mean(axis=0), rtol=1e-5)
    assert not np.allclose(merged.transform.mean_, dm.transform.mean_)  # refit, not reused
