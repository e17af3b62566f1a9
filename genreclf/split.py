"""Split protocols: which rows train, validate and test, built from ``conf/split/*.yaml``.

Every protocol is a callable ``split(labels, track_ids) -> SplitIndices``. Rows are
grouped by track: the protocol splits the unique tracks (in order of first
appearance; a track's label is its rows' label) and maps them back to all their
rows, so segments of one track never fall in two parts. Random protocols are
seeded, and carve a validation part (for early stopping) out of the training part,
stratified by label where the class counts allow it.

Bad options and missing list files are reported when a split is called, not when it
is built, so that the one-line error is not wrapped in Hydra's
``InstantiationException``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from genreclf.core.errors import MissingPathError
from genreclf.core.params import ExistingFile, Fraction, Int, Seed, rule
from genreclf.core.registry import Registry

log = logging.getLogger(__name__)


#: The evaluation protocols, by their ``conf/split/`` name.
SPLITS: Registry[Any] = Registry("split", group="split")


class SplitIndices(NamedTuple):
    """Row indices of each part (sorted ``int64`` arrays)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


class _Tracks(NamedTuple):
    ids: np.ndarray  # unique track ids, in order of first appearance
    labels: np.ndarray  # label of each unique track
    inverse: np.ndarray  # unique-track position of each row


def _unique_tracks(labels: np.ndarray, track_ids: np.ndarray) -> _Tracks:
    """Group rows by track; a track's rows must share one label."""
    labels = np.asarray(labels).astype(str)
    track_ids = np.asarray(track_ids).astype(str)
    if labels.shape != track_ids.shape or labels.ndim != 1:
        raise ValueError("labels and track_ids must be 1-D arrays of the same length")
    _, first, inverse = np.unique(track_ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # sorted-unique position -> appearance rank
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    inverse = rank[inverse.ravel()]
    ids = track_ids[first[order]]
    track_labels = labels[first[order]]
    mixed = labels != track_labels[inverse]
    if mixed.any():
        raise ValueError(f"track {str(track_ids[mixed][0])!r} has rows with different labels")
    return _Tracks(ids, track_labels, inverse)


def _rows(tracks: _Tracks, *parts: np.ndarray) -> SplitIndices:
    """Map unique-track positions of each part back to sorted row indices."""
    return SplitIndices(
        *(np.flatnonzero(np.isin(tracks.inverse, part)).astype(np.int64) for part in parts)
    )


def _carve(
    pool: np.ndarray, labels: np.ndarray, size: float | int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``pool`` (track positions) in two, stratified by ``labels`` where possible.

    Returns ``(rest, carved)``; ``size`` is the fraction or count carved out.
    """
    try:
        return tuple(
            train_test_split(pool, test_size=size, random_state=seed, stratify=labels[pool])
        )
    except ValueError:  # a class too small to stratify, or fewer carved tracks than classes
        return tuple(train_test_split(pool, test_size=size, random_state=seed))


def _fractions_below_one(params: Any) -> None:
    if params.val_size + params.test_size >= 1:
        raise ValueError(
            f"test_size={params.test_size}: must be such that val_size + test_size < 1 "
            f"(val_size={params.val_size})"
        )


def _fold_in_range(params: Any) -> None:
    if params.fold is not None and params.fold >= params.n_splits:
        raise ValueError(
            f"fold={params.fold}: must be in [0, {params.n_splits}) (n_splits={params.n_splits})"
        )


@SPLITS.register("holdout")
class HoldoutSplit:
    """Stratified train / validation / test fractions of the tracks.

    Parameters
    ----------
    val_size : float
        Fraction of all tracks used for validation.
    test_size : float
        Fraction of all tracks used for testing.
    seed : int
        Random seed.
    """

    param_rules = (rule(_fractions_below_one),)

    def __init__(self, val_size: Fraction, test_size: Fraction, seed: Seed) -> None:
        self.val_size, self.test_size, self.seed = val_size, test_size, seed

    def __call__(self, labels: np.ndarray, track_ids: np.ndarray) -> SplitIndices:
        """Split rows by track; see the module docstring."""
        tracks = _unique_tracks(labels, track_ids)
        pool = np.arange(len(tracks.ids))
        rest, test = _carve(pool, tracks.labels, self.test_size, self.seed)
        train, val = _carve(rest, tracks.labels, self.val_size / (1 - self.test_size), self.seed)
        return _rows(tracks, train, val, test)


@SPLITS.register("seed")
class SeedSplit:
    """The original project's split: ``train_test_split(X, y, test_size=0.2, random_state=42)``.

    The test part is exactly the original's: an unstratified split of the tracks in
    file order (one row per track in the original table, so rows in file order).
    Validation is then carved out of the training part, stratified and seeded by
    ``seed``.

    Parameters
    ----------
    test_size : float
        Test fraction, as in the original (0.2).
    random_state : int
        Seed of the test split, as in the original (42).
    val_size : float
        Fraction of the training part used for validation.
    seed : int
        Seed of the validation split.
    """

    def __init__(
        self,
        test_size: Fraction,
        random_state: Seed,
        val_size: Fraction,
        seed: Seed,
    ) -> None:
        self.test_size, self.random_state = test_size, random_state
        self.val_size, self.seed = val_size, seed

    def __call__(self, labels: np.ndarray, track_ids: np.ndarray) -> SplitIndices:
        """Split rows by track; see the class docstring."""
        tracks = _unique_tracks(labels, track_ids)
        pool = np.arange(len(tracks.ids))
        rest, test = train_test_split(
            pool, test_size=self.test_size, random_state=self.random_state
        )
        train, val = _carve(rest, tracks.labels, self.val_size, self.seed)
        return _rows(tracks, train, val, test)


@SPLITS.register("kfold")
class KFoldSplit:
    """One fold, or every fold, of a shuffled, stratified k-fold over tracks.

    Parameters
    ----------
    n_splits : int
        Number of folds.
    fold : int or None
        The test fold, in ``[0, n_splits)``; ``None`` (the default): every fold, one
        after the other (see :func:`evaluated_folds` and :mod:`genreclf.protocol`).
    val_size : float
        Fraction of the other folds' tracks used for validation.
    seed : int
        Seed of the fold assignment and of the validation split.

    """

    param_rules = (rule(_fold_in_range),)

    def __init__(
        self,
        n_splits: Int(ge=2, le=1000),
        fold: Int(ge=0, le=999) | None,
        val_size: Fraction,
        seed: Seed,
    ) -> None:
        self.n_splits, self.fold, self.val_size, self.seed = n_splits, fold, val_size, seed

    def __call__(self, labels: np.ndarray, track_ids: np.ndarray) -> SplitIndices:
        """Split rows by track; see the class docstring.

        Raises
        ------
        ValueError
            If no ``fold`` is set: the protocol calls one split per fold.
        """
        if self.fold is None:
            raise ValueError("split.fold=null: every fold is evaluated; call one fold at a time")
        tracks = _unique_tracks(labels, track_ids)
        kfold = StratifiedKFold(n_splits=self.n_splits, shuffle=True, random_state=self.seed)
        folds = kfold.split(np.zeros(len(tracks.ids)), tracks.labels)
        rest, test = next(f for i, f in enumerate(folds) if i == self.fold)
        train, val = _carve(rest, tracks.labels, self.val_size, self.seed)
        return _rows(tracks, train, val, test)


def evaluated_folds(split: Any) -> list[int]:
    """The folds a split protocol evaluates, one training each.

    Every fold of a :class:`KFoldSplit` whose ``fold`` is ``None``; else its one fold.
    Other protocols have one split, numbered 0.
    """
    if isinstance(split, KFoldSplit):
        return list(range(split.n_splits)) if split.fold is None else [split.fold]
    return [0]


def read_list(path: str | Path, option: str) -> list[str]:
    """Track ids listed in a split file, one per line (blank lines and ``#`` comments skipped).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file; the message names ``option``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingPathError(f"{option}: no such file: {path}")
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _stem(track_id: str) -> str:
    """Track id without its audio extension (``blues/blues.00000.wav`` -> ``blues/blues.00000``)."""
    head, _, name = track_id.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{head}/{stem}" if head else stem


@SPLITS.register("files")
class FileListSplit:
    """A fixed split read from list files (e.g. GTZAN's fault-filtered split).

    Each file lists track ids such as ``blues/blues.00029.wav``, one per line. A
    listed id matches a track with the same id, or else one that differs only in
    the audio extension (``.au`` vs ``.wav``). Rows of tracks in no list are unused.
    Listed tracks absent from the data are logged as a warning and kept in
    :attr:`missing` after the call. Relative paths are relative to the working
    directory.

    Parameters
    ----------
    train, valid, test : str or Path
        The list files (config options ``split.train``, ``split.valid``, ``split.test``).

    Attributes
    ----------
    missing : dict of str to list of str
        After a call: for each part (``train``, ``valid``, ``test``), the listed ids
        not found in the data.
    """

    def __init__(self, train: ExistingFile, valid: ExistingFile, test: ExistingFile) -> None:
        self.paths = {"train": Path(train), "valid": Path(valid), "test": Path(test)}
        self.missing: dict[str, list[str]] = {}

    def __call__(self, labels: np.ndarray, track_ids: np.ndarray) -> SplitIndices:
        """Split rows by the listed tracks; see the class docstring.

        Raises
        ------
        FileNotFoundError
            If a list file does not exist.
        ValueError
            If a track is listed in two parts, or a part matches no track.
        """
        lists = {name: read_list(path, f"split.{name}") for name, path in self.paths.items()}
        tracks = _unique_tracks(labels, track_ids)
        exact = {tid: i for i, tid in enumerate(tracks.ids)}
        by_stem: dict[str, int] = {}
        for i, tid in enumerate(tracks.ids):
            by_stem.setdefault(_stem(tid), i)

        parts: dict[str, np.ndarray] = {}
        owner: dict[int, str] = {}
        self.missing = {}
        for name, listed in lists.items():
            found, missing = [], []
            for tid in listed:
                pos = exact.get(tid, by_stem.get(_stem(tid)))
                if pos is None:
                    missing.append(tid)
                    continue
                if owner.setdefault(pos, name) != name:
                    raise ValueError(f"split: track {tid!r} is listed in {owner[pos]} and {name}")
                found.append(pos)
            self.missing[name] = missing
            if missing:
                shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
                log.warning(
                    "split.%s: %d of %d listed tracks are not in the data: %s",
                    name,
                    len(missing),
                    len(listed),
                    shown,
                )
            if not found:
                raise ValueError(f"split.{name}: none of its {len(listed)} tracks is in the data")
            parts[name] = np.asarray(found, dtype=np.int64)
        return _rows(tracks, parts["train"], parts["valid"], parts["test"])
