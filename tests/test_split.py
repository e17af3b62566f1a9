"""Split protocols: grouping by track, determinism, and the real GTZAN partitions."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.model_selection import train_test_split

from genreclf.core.errors import ConfigError
from genreclf.core.params import check_params
from genreclf.core.registry import conf_values
from genreclf.data.sources import TableSource
from genreclf.split import (
    FileListSplit,
    HoldoutSplit,
    KFoldSplit,
    SeedSplit,
    SplitIndices,
    evaluated_folds,
)
from tests.options import make as with_conf
from tests.paths import CONF

SPLIT_CONF = CONF / "split"
GENRES = ["blues", "jazz", "rock"]


@pytest.fixture(scope="module")
def segments() -> tuple[np.ndarray, np.ndarray]:
    """90 tracks (30 per genre) of 1 to 4 segments each, rows shuffled."""
    rng = np.random.default_rng(7)
    tracks = [f"{g}/{g}.{i:05d}.wav" for g in GENRES for i in range(30)]
    ids = np.array([t for t in tracks for _ in range(rng.integers(1, 5))])
    ids = ids[rng.permutation(len(ids))]
    labels = np.array([t.split("/")[0] for t in ids])
    return labels, ids


def file_lists(directory: Path, ids: np.ndarray) -> dict[str, str]:
    """Train/valid/test list files over the unique ``ids``, plus a few absent tracks."""
    unique = sorted(set(ids))
    parts = {"train": unique[0::3], "valid": unique[1::3], "test": unique[2::3]}
    parts["test"] = [*parts["test"], "pop/pop.00000.wav", "pop/pop.00001.wav"]
    paths = {}
    for name, listed in parts.items():
        paths[name] = str(directory / f"{name}.txt")
        Path(paths[name]).write_text("\n".join(listed) + "\n")
    return paths


def make(name: str, tmp_path: Path, ids: np.ndarray, **overrides):
    """Instantiate ``conf/split/<name>.yaml``; ``files`` gets lists written under ``tmp_path``."""
    cfg = OmegaConf.load(SPLIT_CONF / f"{name}.yaml")
    if name == "files":
        cfg = OmegaConf.merge(cfg, file_lists(tmp_path, ids))
    if name == "kfold":  # the config runs every fold (genreclf.protocol); split one here
        cfg.fold = 0
    return instantiate(OmegaConf.merge(cfg, overrides))


PROTOCOLS = ["holdout", "seed", "kfold", "files"]


@pytest.mark.parametrize("name", PROTOCOLS)
def test_groups_tracks_and_is_deterministic(name, segments, tmp_path) -> None:
    labels, ids = segments
    parts = make(name, tmp_path, ids)(labels, ids)
    assert isinstance(parts, SplitIndices)
    track_sets = []
    for rows in parts:
        assert rows.dtype == np.int64 and len(rows) > 0
        assert np.all(np.diff(rows) > 0)  # sorted, no repeats
        tracks = set(ids[rows])
        # every row of each track in this part is in this part
        assert set(np.flatnonzero(np.isin(ids, list(tracks)))) == set(rows)
        track_sets.append(tracks)
    train, val, test = track_sets
    assert not (train & val) and not (train & test) and not (val & test)
    if name != "files":  # list splits leave unlisted tracks unused
        assert len(train | val | test) == len(set(ids))
    again = make(name, tmp_path, ids)(labels, ids)
    for a, b in zip(parts, again, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["holdout", "seed", "kfold"])
def test_seed_changes_random_splits(name, segments, tmp_path) -> None:
    labels, ids = segments
    base = make(name, tmp_path, ids)(labels, ids)
    other = make(name, tmp_path, ids, seed=3)(labels, ids)
    assert not np.array_equal(base.val, other.val)


def test_holdout_is_stratified(segments) -> None:
    labels, ids = segments
    parts = with_conf(HoldoutSplit, val_size=0.2, test_size=0.2, seed=0)(labels, ids)
    for rows in (parts.val, parts.test):
        tracks = dict(zip(ids[rows], labels[rows], strict=True))
        counts = np.unique(list(tracks.values()), return_counts=True)[1]
        assert counts.tolist() == [6, 6, 6]  # 20 % of 30 tracks per genre


def test_kfold_test_folds_partition_the_tracks(segments) -> None:
    labels, ids = segments
    tests = [
        set(ids[with_conf(KFoldSplit, n_splits=3, fold=k)(labels, ids).test]) for k in range(3)
    ]
    assert sum(len(t) for t in tests) == len(set(ids)) == len(set().union(*tests))


@pytest.mark.parametrize(
    ("fold", "match"),
    [
        (-1, r"^split\.fold=-1: must be null or an int in \[0, 999\]"),
        (5, r"^split\.fold=5: must be in \[0, 5\)"),
    ],
)
def test_kfold_bad_fold(fold, match) -> None:
    """The declaration refuses it (the constructor does not re-check)."""
    with pytest.raises(ConfigError, match=match):
        values = conf_values("split", "kfold") | {"n_splits": 5, "fold": fold}
        check_params(KFoldSplit, values, prefix="split.")


def test_track_with_two_labels_is_an_error() -> None:
    labels = np.array(["a", "b", "a", "b"])
    ids = np.array(["t1", "t1", "t2", "t3"])
    with pytest.raises(ValueError, match="'t1' has rows with different labels"):
        with_conf(HoldoutSplit)(labels, ids)


def test_file_lists_match_other_extension_and_report_missing(segments, tmp_path, caplog) -> None:
    labels, ids = segments
    au_ids = np.char.replace(ids, ".wav", ".au")
    split = make("files", tmp_path, ids)
    with caplog.at_level(logging.WARNING, logger="genreclf.split"):
        parts = split(labels, au_ids)
    assert sum(len(p) for p in parts) == len(ids)
    assert split.missing == {
        "train": [],
        "valid": [],
        "test": ["pop/pop.00000.wav", "pop/pop.00001.wav"],
    }
    assert "split.test: 2 of 32 listed tracks are not in the data" in caplog.text


def test_file_lists_missing_file(tmp_path, segments) -> None:
    split = FileListSplit(tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt")
    with pytest.raises(FileNotFoundError, match=r"^split\.train: no such file: .*a\.txt$"):
        split(*segments)


# --- the real seed table ----------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_table(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    frame = with_conf(TableSource, shared_data / "seed_features.csv").frame()
    return frame["label"].to_numpy(), frame["filename"].to_numpy()


def test_seed_split_is_the_original_partition(seed_table) -> None:
    labels, ids = seed_table
    parts = with_conf(SeedSplit)(labels, ids)
    _, original_test = train_test_split(np.arange(999), test_size=0.2, random_state=42)
    np.testing.assert_array_equal(parts.test, np.sort(original_test))
    assert (len(parts.train), len(parts.val), len(parts.test)) == (719, 80, 200)
    assert len(parts.train) + len(parts.val) == 799  # sklearn rounds the test part up


def test_fault_filtered_split_on_seed_table(shared_data, seed_table, caplog) -> None:
    labels, ids = seed_table
    lists = shared_data / "gtzan_splits" / "fault_filtered"
    split = FileListSplit(*(lists / f"{p}_filtered.txt" for p in ("train", "valid", "test")))
    with caplog.at_level(logging.WARNING, logger="genreclf.split"):
        parts = split(labels, ids)
    assert [len(p) for p in parts] == [443 - 1, 197, 290]
    assert split.missing == {"train": ["jazz/jazz.00054.wav"], "valid": [], "test": []}
    assert "jazz/jazz.00054.wav" in caplog.text


def test_kfold_without_fold_evaluates_every_fold(segments) -> None:
    labels, ids = segments
    split = instantiate(OmegaConf.load(SPLIT_CONF / "kfold.yaml"))
    assert split.fold is None and evaluated_folds(split) == list(range(split.n_splits))
    assert evaluated_folds(with_conf(KFoldSplit, n_splits=3, fold=2)) == [2]
    assert evaluated_folds(with_conf(HoldoutSplit)) == [0]
    with pytest.raises(ValueError, match="every fold"):
        split(labels, ids)
