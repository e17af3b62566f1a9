"""Data sources: where a collection comes from, each built from ``conf/data/*.yaml``.

An audio source (:class:`GTZANSource`, :class:`FolderSource`) lists labelled audio
files with ``.tracks()``; a table source (:class:`TableSource`) reads precomputed
features with ``.frame()``. When its data is missing, a source raises a one-line
:class:`FileNotFoundError` naming the config option and the path. It does so when
used, not when built, so that the error is not wrapped in Hydra's
``InstantiationException``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genreclf.data.tracks import AUDIO_EXTENSIONS, Track, list_labelled_audio
from genreclf.registry import Registry

#: Data sources by name (the ``conf/data/`` option names). ``synthetic`` is imported on
#: first :meth:`~genreclf.registry.Registry.get` only (it needs scipy).
DATA_SOURCES: Registry[object] = Registry("data source")
DATA_SOURCES.register_lazy("synthetic", "genreclf.data.synthetic.dataset:SyntheticGTZAN")

#: Sub-folders of a GTZAN root that hold the ``<genre>/`` folders, in the order tried.
GTZAN_LAYOUTS: tuple[str, ...] = ("genres_original", "genres")

#: Segment suffix of Kaggle's 3-s GTZAN table: ``blues.00000.3.wav`` -> ``blues.00000.wav``.
GTZAN_SEGMENT_PATTERN = r"(?<=\.\d{5})\.\d+(?=\.\w+$)"


def _existing_dir(path: str | Path, option: str) -> Path:
    """``path`` as a Path, or a one-line FileNotFoundError naming ``option``."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{option}: no such folder: {path}")
    return path


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

    def __init__(self, root: str | Path) -> None:
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
        root: str | Path,
        extensions: list[str] | tuple[str, ...] = AUDIO_EXTENSIONS,
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
    """

    def __init__(
        self,
        path: str | Path,
        label_column: str = "label",
        track_column: str | None = "filename",
        exclude: list[str] | tuple[str, ...] = (),
        recipe: str | None = None,
        segment_pattern: str | None = GTZAN_SEGMENT_PATTERN,
        prefix_label: bool = True,
    ) -> None:
        self.path = Path(path).expanduser()
        self.label_column = label_column
        self.track_column = track_column or None
        self.exclude = list(exclude or ())
        self.feature_recipe = recipe or None
        self.segment_pattern = segment_pattern or None
        self.prefix_label = prefix_label

    def read(self) -> pd.DataFrame:
        """The table as stored, without any normalization.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file.
        ValueError
            If its suffix is neither ``.csv`` nor ``.parquet``/``.pq``.
        """
        if not self.path.is_file():
            raise FileNotFoundError(f"data.path: no such file: {self.path}")
        suffix = self.path.suffix.lower()
        if suffix == ".csv":
            return pd.read_csv(self.path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(self.path)
        raise ValueError(f"data.path: expected a .csv or .parquet table, got {self.path}")

    def frame(self) -> pd.DataFrame:
        """The table normalized to numeric features, then ``label`` and ``filename``.

        Returns
        -------
        pandas.DataFrame
            Feature columns in file order, ``label`` (str) and ``filename`` (the
            track id, str), ready for ``FeatureTable.from_frame``.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a file.
        ValueError
            If the label, track or excluded columns are not in the table, or a
            remaining column is not numeric or is named ``label``/``filename``
            (add it to ``data.exclude``).
        """
        raw = self.read()
        needed = [("data.label_column", self.label_column)]
        if self.track_column:
            needed.append(("data.track_column", self.track_column))
        needed += [("data.exclude", c) for c in self.exclude]
        absent = [f"{opt}={col}" for opt, col in needed if col not in raw.columns]
        if absent:
            raise ValueError(f"column(s) not in {self.path.name}: {', '.join(absent)}")

        labels = raw[self.label_column].astype(str).to_numpy()
        if self.track_column:
            ids = raw[self.track_column].astype(str)
            if self.segment_pattern:
                ids = ids.str.replace(self.segment_pattern, "", regex=True)
            if self.prefix_label:
                bare = ~ids.str.contains("/", regex=False)
                ids = ids.where(~bare, pd.Series(labels, index=ids.index) + "/" + ids)
            ids = ids.to_numpy()
        else:
            ids = [f"row{i}" for i in range(len(raw))]

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
            raise ValueError(
                f"non-feature column(s) in {self.path.name}: {', '.join(bad)} "
                "(add them to data.exclude)"
            )
        out = feats.copy()
        out.columns = [str(c) for c in out.columns]
        out["label"] = labels
        out["filename"] = ids
        return out
