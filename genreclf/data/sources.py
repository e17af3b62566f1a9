"""Data sources: where a collection comes from, each built from ``conf/data/*.yaml``.

An audio source (:class:`GTZANSource`, :class:`FolderSource`) lists labelled audio
files with ``.tracks()``; a table source (:class:`TableSource`) reads precomputed
features with ``.frame()``. When its data is missing, a source raises a one-line
:class:`FileNotFoundError` naming the config option and the path; when its data are
unusable (an empty or unreadable table, NaN or inf features, missing labels, fewer
than two classes), a one-line :class:`~genreclf.data.errors.DataError` naming the
file. It does so when used, not when built, so that the error is not wrapped in
Hydra's ``InstantiationException``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from genreclf.core.errors import MissingPathError, one_line
from genreclf.core.filenames import printable_name
from genreclf.core.params import AnyText, Bool, ExistingFile, ExistingFolder, Pattern, Text
from genreclf.core.registry import Registry
from genreclf.data.errors import DataError
from genreclf.data.tracks import Track, list_labelled_audio

logger = logging.getLogger(__name__)

#: Data sources by name (the ``conf/data/`` option names). ``synthetic`` is imported on
#: first :meth:`~genreclf.core.registry.Registry.get` only (it needs scipy).
DATA_SOURCES: Registry[object] = Registry("data source", group="data")
DATA_SOURCES.register_lazy("synthetic", "genreclf.data.synthetic.dataset:SyntheticGTZAN")

#: Sub-folders of a GTZAN root that hold the ``<genre>/`` folders, in the order tried.
GTZAN_LAYOUTS: tuple[str, ...] = ("genres_original", "genres")

#: What :class:`TableSource` does with rows holding NaN or inf features (``data.nonfinite``).
NONFINITE_CHOICES: tuple[str, ...] = ("error", "drop")

#: How many column names or row numbers a message lists.
_SHOWN = 5


def _existing_dir(path: str | Path, option: str) -> Path:
    """``path`` as a Path, or a one-line FileNotFoundError naming ``option``."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise MissingPathError(f"{option}: no such folder: {printable_name(path)}")
    return path


def _first(items: Sequence[object], n: int = _SHOWN) -> str:
    """The first ``n`` items joined with commas, and ``...`` if there are more."""
    shown = ", ".join(str(i) for i in items[:n])
    return f"{shown}, ..." if len(items) > n else shown


def require_classes(labels: Sequence[str], where: str, column: str = "label") -> None:
    """Raise DataError unless ``labels`` hold at least two classes (a classifier needs two).

    Parameters
    ----------
    labels : sequence of str
        The class label of each row.
    where : str
        The file or folder the labels come from, to start the message with.
    column : str
        What holds the labels, for the message.
    """
    classes = pd.unique(np.asarray(labels, dtype=object))
    if len(classes) == 0:
        raise DataError(f"{where}: no labelled rows")
    if len(classes) == 1:
        raise DataError(
            f"{where}: only one class in {column} ({classes[0]!r} on all {len(labels)} rows); "
            "a classifier needs at least two"
        )


@DATA_SOURCES.register("gtzan")
class GTZANSource:
    """The GTZAN collection, in either common folder layout.

    ``root`` may be the GTZAN download folder holding ``genres_original/<genre>/*.wav``
    (Kaggle) or ``genres/<genre>/*.au`` (the original archive), or the folder that
    holds the ``<genre>/`` folders itself.

    Parameters
    ----------
    root : str or Path
        GTZAN root (config option ``data.root``).

    """

    def __init__(self, root: ExistingFolder) -> None:
        self.root = Path(root).expanduser()

    @property
    def genre_root(self) -> Path:
        """The folder whose sub-folders are the genres.

        Raises
        ------
        FileNotFoundError
            If ``root`` is not a folder.
        """
        root = _existing_dir(self.root, "data.root")
        for name in GTZAN_LAYOUTS:
            if (root / name).is_dir():
                return root / name
        return root

    def tracks(self) -> list[Track]:
        """List the labelled clips, sorted by genre then file name.

        Returns
        -------
        list of Track
            ``track_id`` is ``<genre>/<file>``, e.g. ``blues/blues.00000.wav``.

        Raises
        ------
        FileNotFoundError
            If ``root`` is not a folder, or holds no audio under genre folders.
        """
        return list_labelled_audio(self.genre_root)


@DATA_SOURCES.register("folder")
class FolderSource:
    """Any ``<root>/<label>/<file>`` tree of audio files; other files are ignored.

    Parameters
    ----------
    root : str or Path
        Folder whose sub-folders are the labels (config option ``data.root``).
    extensions : sequence of str
        Audio file suffixes, with or without the dot, any case.
    """

    def __init__(
        self,
        root: ExistingFolder,
        extensions: Annotated[tuple[Text, ...], Field(min_length=1)],
    ) -> None:
        self.root = Path(root).expanduser()
        self.extensions = tuple(f".{str(e).lower().lstrip('.')}" for e in extensions)

    def tracks(self) -> list[Track]:
        """List the labelled audio files, sorted by label then file name.

        Returns
        -------
        list of Track

        Raises
        ------
        FileNotFoundError
            If ``root`` is not a folder, or holds no audio under label folders.
        """
        return list_labelled_audio(_existing_dir(self.root, "data.root"), self.extensions)


@DATA_SOURCES.register("table")
class TableSource:
    """A precomputed feature table, CSV or Parquet (chosen by the file suffix).

    The table is checked when read (:meth:`read`, :meth:`frame`); what cannot be used
    raises a one-line :class:`~genreclf.data.errors.DataError` naming the file: an
    empty, header-only, binary or undecodable file; missing columns; missing labels or
    track names (the message counts them and gives their first CSV lines, or Parquet
    rows counted from 1); NaN or inf features (unless ``nonfinite="drop"``); fewer
    than two classes. Many rows sharing a track name when the names are not segment
    names (``segment_pattern``) are kept together, with a warning.

    Parameters
    ----------
    path : str or Path
        The table (config option ``data.path``): ``.csv``, ``.parquet`` or ``.pq``.
    label_column : str
        Column holding the class label.
    track_column : str or None
        Column naming each row's track. Rows of one track (e.g. segments) are kept
        together by the split. ``None``: each row is its own track ``row<i>``.
    exclude : sequence of str
        Columns that are neither features, label nor track (e.g. Kaggle's ``length``).
    recipe : str or None
        Name of the audio feature set that produced the table (e.g. ``seed174``),
        so a model can say which features it needs; ``None`` if unknown.
    segment_pattern : str or None
        Regular expression removed from track names so that segments map to their
        track; the default turns ``blues.00000.3.wav`` into ``blues.00000.wav`` and
        leaves other names alone. ``None`` keeps names as they are.
    prefix_label : bool
        Prefix track names holding no ``/`` with ``<label>/`` (Kaggle's ``blues.00000.wav``
        becomes ``blues/blues.00000.wav``, as in audio sources and split lists).
    nonfinite : {"error", "drop"}
        Rows with NaN or inf in a feature column: refuse the table (``error``), or drop
        those rows with a warning saying how many (``drop``).
    """

    def __init__(
        self,
        path: ExistingFile,
        label_column: Text,
        track_column: Text | None,
        exclude: list[AnyText],
        recipe: Text | None,
        segment_pattern: Pattern | None,
        prefix_label: Bool,
        nonfinite: Literal["error", "drop"],
    ) -> None:
        self.path = Path(path).expanduser()
        self.label_column = label_column
        self.track_column = track_column or None
        self.exclude = list(exclude or ())
        self.feature_recipe = recipe or None
        self.segment_pattern = segment_pattern or None
        self.prefix_label = prefix_label
        self.nonfinite = nonfinite

    @property
    def _is_csv(self) -> bool:
        return self.path.suffix.lower() == ".csv"

    def _rows(self, mask: np.ndarray) -> str:
        """Where the rows of ``mask`` are: CSV lines (the header is line 1), or Parquet rows."""
        first = np.flatnonzero(mask)
        numbers = first + (2 if self._is_csv else 1)
        word = "line" if self._is_csv else "row"
        return f"{word}{'s' if len(first) > 1 else ''} {_first(numbers.tolist())}"

    def read(self) -> pd.DataFrame:
        """The table as stored, without any normalization.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file.
        DataError
            If its suffix is neither ``.csv`` nor ``.parquet``/``.pq``, or it is empty,
            holds a header but no rows, is binary or undecodable, or does not parse.
        """
        if not self.path.is_file():
            raise MissingPathError(f"data.path: no such file: {self.path}")
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise DataError(f"data.path: expected a .csv or .parquet table, got {self.path}")
        if self.path.stat().st_size == 0:
            raise DataError(f"{self.path}: empty file")
        kind = "CSV" if self._is_csv else "Parquet"
        try:
            if self._is_csv:
                with open(self.path, "rb") as f:
                    if b"\0" in f.read(8192):
                        raise DataError(f"{self.path}: binary file, not a CSV table")
                raw = pd.read_csv(self.path)
            else:
                raw = pd.read_parquet(self.path)
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"{self.path}: empty table (no header, no rows)") from exc
        except (OSError, ValueError) as exc:  # decoding and parsing errors are ValueErrors
            if isinstance(exc, DataError):
                raise
            raise DataError(
                f"{self.path}: not a readable {kind} table ({one_line(exc, named=True)})"
            ) from exc
        if len(raw) == 0:
            raise DataError(f"{self.path}: no rows, only a header ({len(raw.columns)} columns)")
        return raw

    def _missing(self, raw: pd.DataFrame, column: str, what: str, hint: str = "") -> None:
        """DataError if some rows of ``column`` are empty (NaN, or blank text)."""
        values = raw[column]
        missing = values.isna().to_numpy() | (
            values.astype(str).str.strip().eq("").to_numpy() & values.notna().to_numpy()
        )
        if missing.any():
            raise DataError(
                f"{self.path}: {int(missing.sum())} of {len(raw)} rows have no {what} in "
                f"column {column!r} ({self._rows(missing)}){hint}"
            )

    def _finite_rows(self, feats: pd.DataFrame) -> np.ndarray:
        """Mask of the rows to keep: all of them, or (``drop``) those with finite features.

        Raises DataError if some rows hold NaN or inf and ``nonfinite`` is ``error``.
        """
        finite = np.isfinite(feats.to_numpy(dtype=np.float64))
        keep = finite.all(axis=1)
        if keep.all():
            return keep
        n_bad = int((~keep).sum())
        if self.nonfinite == "drop":
            logger.warning(
                "%s: dropped %d of %d rows with NaN or inf features (data.nonfinite=drop)",
                self.path,
                n_bad,
                len(keep),
            )
            return keep
        columns = [
            str(c) for c, ok in zip(feats.columns, finite.all(axis=0), strict=True) if not ok
        ]
        raise DataError(
            f"{self.path}: {n_bad} of {len(keep)} rows have NaN or inf features, in "
            f"{len(columns)} column(s) ({_first(columns, 3)}), at {self._rows(~keep)}; "
            "fix the table or set data.nonfinite=drop to drop those rows"
        )

    def _warn_shared_names(self, ids: pd.Series, mapped: pd.Series) -> None:
        """Warn if rows that are not segments (``segment_pattern``) share track names."""
        shared = ids[~mapped.to_numpy()]
        shared = shared[shared.duplicated(keep=False)]
        if shared.empty:
            return
        counts = shared.value_counts()
        logger.warning(
            "%s: %d rows share %d name(s) in column %r (e.g. %r on %d rows) and are kept "
            "together as one track each; if each row is its own track, set "
            "data.track_column=null",
            self.path,
            len(shared),
            len(counts),
            self.track_column,
            counts.index[0],
            int(counts.iloc[0]),
        )

    def _feature_columns(self, raw: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of ``raw``: all but the label, track and excluded ones.

        Raises DataError if one of those is not in the table, if a remaining column is
        not numeric or is named ``label``/``filename``, or if none remains.
        """
        needed = [("data.label_column", self.label_column)]
        if self.track_column:
            needed.append(("data.track_column", self.track_column))
        needed += [("data.exclude", c) for c in self.exclude]
        absent = [f"{opt}={col}" for opt, col in needed if col not in raw.columns]
        if absent:
            raise DataError(f"{self.path}: column(s) not in the table: {', '.join(absent)}")

        drop = {self.label_column, *self.exclude}
        if self.track_column:
            drop.add(self.track_column)
        feats = raw.drop(columns=[c for c in raw.columns if c in drop])
        bad = [
            str(c)
            for c in feats.columns
            if c in ("label", "filename") or not pd.api.types.is_numeric_dtype(feats[c])
        ]
        if bad:
            raise DataError(
                f"{self.path}: non-feature column(s) {_first(bad)} (add them to data.exclude)"
            )
        if feats.shape[1] == 0:
            raise DataError(f"{self.path}: no feature columns")
        return feats

    def _track_ids(self, raw: pd.DataFrame, labels: np.ndarray) -> np.ndarray | list[str]:
        """Each row's track id: its track name (segment suffix removed, label prefixed if
        ``prefix_label`` and bare), or ``row<i>`` without a track column."""
        if not self.track_column:
            return [f"row{i}" for i in range(len(raw))]
        ids = raw[self.track_column].astype(str)
        if self.segment_pattern:
            mapped = ids.str.contains(self.segment_pattern, regex=True)
            ids = ids.str.replace(self.segment_pattern, "", regex=True)
        else:
            mapped = pd.Series(False, index=ids.index)
        if self.prefix_label:
            bare = ~ids.str.contains("/", regex=False)
            ids = ids.where(~bare, pd.Series(labels, index=ids.index) + "/" + ids)
        self._warn_shared_names(ids, mapped)
        return ids.to_numpy()

    def frame(self) -> pd.DataFrame:
        """The table normalized to numeric features, then ``label`` and ``filename``.

        Returns
        -------
        pandas.DataFrame
            Feature columns in file order, ``label`` (str) and ``filename`` (the
            track id, str), ready for ``FeatureTable.from_frame``; all features finite.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file.
        DataError
            If the file cannot be read (see :meth:`read`); the label, track or
            excluded columns are not in the table; a remaining column is not numeric
            or is named ``label``/``filename`` (add it to ``data.exclude``); there are
            no feature columns; labels or track names are missing; features are NaN
            or inf (``nonfinite="error"``); fewer than two classes remain; or
            ``nonfinite`` is not one of :data:`NONFINITE_CHOICES`.
        """
        if self.nonfinite not in NONFINITE_CHOICES:
            raise DataError(
                f"data.nonfinite={self.nonfinite}: must be one of {', '.join(NONFINITE_CHOICES)}"
            )
        raw = self.read()
        feats = self._feature_columns(raw)
        self._missing(raw, self.label_column, "label")
        if self.track_column:
            self._missing(raw, self.track_column, "track name", "; or set data.track_column=null")

        keep = self._finite_rows(feats)
        if not keep.all():
            raw, feats = raw[keep].reset_index(drop=True), feats[keep].reset_index(drop=True)
        labels = raw[self.label_column].astype(str).to_numpy()
        require_classes(labels, str(self.path), f"column {self.label_column!r}")
        out = feats.copy()
        out.columns = [str(c) for c in out.columns]
        out["label"] = labels
        out["filename"] = self._track_ids(raw, labels)
        return out
