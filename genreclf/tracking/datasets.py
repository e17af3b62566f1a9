"""A run's data set as an MLflow Dataset input: source, digest, tracks, labels, synthetic.

The Dataset is the run's track list, one row per track (``track``, ``label``, ``part``:
train, val or test), made with :func:`mlflow.data.from_pandas`: its digest is a hash
of that list, so two runs on the same tracks and split show the same digest in the
MLflow UI's Datasets column. Its profile adds the track count, the label set and
whether the data is the built-in synthetic toy set; its source is the data set's
absolute file or folder. The run also gets the metrics ``n_tracks_train``,
``n_tracks_val`` and ``n_tracks_test`` and the tag ``genreclf.dataset``.

A configuration run over several folds (:func:`log_folds`) logs each fold's parts as
Datasets of their own, with the context of each (training, validation, testing), and
the mean part sizes over its folds.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genreclf.core.filenames import printable_name
from genreclf.tracking import names

#: The dataset input's context tag (MLflow's own key) and its value for training data.
CONTEXT_TAG = "mlflow.data.context"
CONTEXT = "training"
#: Dataset input tags of genreclf.
SYNTHETIC_INPUT_TAG = "genreclf.synthetic"
TRACKS_INPUT_TAG = "genreclf.tracks"
#: Most labels listed in a Dataset's profile.
MAX_LABELS = 200
#: The context of each part's Dataset in a configuration run (MLflow's usual words).
PART_CONTEXTS: dict[str, str] = {"train": "training", "val": "validation", "test": "testing"}
#: Dataset input tag of the fold a part's Dataset belongs to.
FOLD_INPUT_TAG = "genreclf.fold"


def tracks_frame(
    track_ids: Sequence[str], labels: Sequence[str], parts: Mapping[str, Sequence[int]]
) -> pd.DataFrame:
    """One row per track: ``track``, ``label``, ``part``; sorted by track.

    Parameters
    ----------
    track_ids, labels : sequence of str
        Of each row of the feature table (segments of a track share its id).
    parts : mapping
        Part name (``train``, ``val``, ``test``) to the table rows in it.
    """
    track_ids = np.asarray([printable_name(str(t)) for t in track_ids], dtype=str)
    labels = np.asarray([printable_name(str(label)) for label in labels], dtype=str)
    frames = [
        pd.DataFrame({"track": track_ids[rows], "label": labels[rows], "part": part})
        for part, rows in parts.items()
        for rows in [np.asarray(rows, dtype=int)]
    ]
    tracks = pd.concat(frames, ignore_index=True).drop_duplicates("track")
    return tracks.sort_values("track", kind="stable").reset_index(drop=True)


def track_counts(tracks: pd.DataFrame) -> dict[str, float]:
    """The ``n_tracks_<part>`` metrics of a :func:`tracks_frame`."""
    counts = tracks["part"].value_counts()
    return {
        metric: float(counts.get(part, 0)) for part, metric in names.TRACK_COUNT_METRICS.items()
    }


def data_location(data: Mapping[str, Any]) -> str | None:
    """The absolute file or folder of a ``data`` config group (``path`` or ``root``), as
    text (:func:`~genreclf.core.filenames.printable_name`: a name that is not UTF-8 stays
    loggable)."""
    for key in ("path", "root"):
        value = data.get(key)
        if isinstance(value, str) and value:
            where = value if "://" in value else os.path.abspath(os.path.expanduser(value))
            return printable_name(where)
    return None


def dataset_name(kind: str, location: str | None) -> str:
    """``gtzan:genres_original``: the data choice (or source class) and the last path part."""
    last = Path(location).name if location else ""
    return f"{kind}:{last}" if last else kind


def dataset_input(
    tracks: pd.DataFrame,
    name: str,
    location: str | None,
    synthetic: bool,
    context: str = CONTEXT,
    extra_tags: Mapping[str, str] | None = None,
) -> Any:
    """The MLflow ``DatasetInput`` of a :func:`tracks_frame` (see the module docstring),
    with the input tags ``mlflow.data.context`` (``context``) and ``extra_tags``."""
    import mlflow.data
    from mlflow.entities import Dataset, DatasetInput, InputTag

    with warnings.catch_warnings():  # a local path fits two of MLflow's source kinds
        warnings.simplefilter("ignore")
        dataset = mlflow.data.from_pandas(
            tracks, source=location or name, name=name, targets="label"
        )
    labels = sorted(tracks["label"].unique().tolist())
    record = dataset.to_dict()
    profile = json.loads(record.get("profile") or "{}") | {
        "num_tracks": len(tracks),
        "tracks_per_part": {k: int(v) for k, v in tracks["part"].value_counts().items()},
        "num_labels": len(labels),
        "labels": labels[:MAX_LABELS],
        "synthetic": synthetic,
    }
    entity = Dataset(
        name=record["name"],
        digest=record["digest"],
        source_type=record["source_type"],
        source=record["source"],
        schema=record.get("schema"),
        profile=json.dumps(profile),
    )
    tags = [
        InputTag(CONTEXT_TAG, context),
        InputTag(SYNTHETIC_INPUT_TAG, str(synthetic).lower()),
        InputTag(TRACKS_INPUT_TAG, str(len(tracks))),
        *(InputTag(k, str(v)) for k, v in (extra_tags or {}).items()),
    ]
    return DatasetInput(entity, tags)


def log_run_dataset(
    writer: Any,
    data: Mapping[str, Any],
    kind: str,
    synthetic: bool,
    tracks: pd.DataFrame,
) -> str:
    """Log a run's data set: Dataset input, ``n_tracks_*`` metrics, ``genreclf.dataset`` tag.

    Parameters
    ----------
    writer : RunWriter
        The open run (see :mod:`genreclf.tracking.run`).
    data : mapping
        The run's ``data`` config group (its ``path`` or ``root`` is the source).
    kind : str
        The data choice (``gtzan``, ``folder``, ``table``, ``synthetic``).
    synthetic : bool
        Whether the data is the built-in synthetic toy set.
    tracks : pandas.DataFrame
        See :func:`tracks_frame`.

    Returns
    -------
    str
        ``<name>@<digest>``, the value of the run's ``genreclf.dataset`` tag.
    """
    location = data_location(data)
    item = dataset_input(tracks, dataset_name(kind, location), location, synthetic)
    writer.log_inputs([item])
    label = f"{item.dataset.name}@{item.dataset.digest}"
    writer.log_metrics(track_counts(tracks))
    writer.log_tags({names.DATASET_TAG: label})
    return label


def log_split(
    writer: Any, data: Mapping[str, Any], synthetic: bool, table: Any, parts: Mapping[str, Any]
) -> str:
    """Log the tracks of a split run as its data set (see :func:`log_run_dataset`).

    Parameters
    ----------
    writer : RunWriter
    data : mapping
        The run's ``data`` config group.
    synthetic : bool
    table : FeatureTable
        Its ``track_ids`` and ``labels``, one per row.
    parts : mapping
        ``train``, ``val`` and ``test`` to their table rows (a set-up datamodule's
        ``indices``).
    """
    tracks = tracks_frame(table.track_ids, table.labels, parts)
    return log_run_dataset(writer, data, _data_kind(data), synthetic, tracks)


def _data_kind(data: Mapping[str, Any]) -> str:
    """The data choice of this Hydra job, else the data source's class name."""
    from genreclf.tracking.run import hydra_choices

    target = str(data.get("_target_") or "data")
    return hydra_choices().get("data") or target.rsplit(".", 1)[-1]


def fold_counts(frames: Sequence[pd.DataFrame]) -> dict[str, float]:
    """The ``n_tracks_<part>`` metrics of several folds' :func:`tracks_frame`: means per fold."""
    counts = [track_counts(frame) for frame in frames]
    return {key: float(np.mean([c[key] for c in counts])) for key in counts[0]}


def log_folds(
    writer: Any,
    data: Mapping[str, Any],
    synthetic: bool,
    table: Any,
    folds: Mapping[int, Mapping[str, Any]],
) -> str:
    """Log a configuration run's data set: each fold's parts, and their mean sizes.

    Each part of each fold is a Dataset input named ``<data set>/fold<k>/<part>``, with
    the context of its part (:data:`PART_CONTEXTS`) and the input tag
    ``genreclf.fold``; the run's ``n_tracks_*`` metrics are the mean sizes per fold
    (:func:`fold_counts`), and its ``genreclf.dataset`` tag names the data set and a
    digest of its folds' Datasets.

    Parameters
    ----------
    writer : RunWriter
    data : mapping
        The run's ``data`` config group.
    synthetic : bool
    table : FeatureTable
        Its ``track_ids`` and ``labels``, one per row.
    folds : mapping
        Test fold number to that fold's parts: ``train``, ``val`` and ``test`` to their
        table rows (each member's set-up datamodule ``indices``; seeds of one fold
        share them).

    Returns
    -------
    str
        ``<name>@<digest>``, the value of the run's ``genreclf.dataset`` tag.
    """
    import hashlib

    if not folds:
        raise ValueError("log_folds needs at least one fold")
    location = data_location(data)
    base = dataset_name(_data_kind(data), location)
    frames = {k: tracks_frame(table.track_ids, table.labels, parts) for k, parts in folds.items()}
    items = [
        dataset_input(
            frame[frame["part"] == part].reset_index(drop=True),
            f"{base}/fold{fold}/{part}",
            location,
            synthetic,
            PART_CONTEXTS.get(part, part),
            {FOLD_INPUT_TAG: str(fold)},
        )
        for fold, frame in sorted(frames.items())
        for part in PART_CONTEXTS
        if (frame["part"] == part).any()
    ]
    writer.log_inputs(items)
    digest = hashlib.sha256(" ".join(i.dataset.digest for i in items).encode()).hexdigest()
    label = f"{base}@{digest[:8]}"
    writer.log_metrics(fold_counts(list(frames.values())))
    writer.log_tags({names.DATASET_TAG: label})
    return label
