"""FeatureTable: the hand-off between feature extraction and the datamodule."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genreclf.data.errors import DataError


@dataclass
class FeatureTable:
    """Features of a collection, one row per track (summary sets) or per segment.

    Every value of ``X`` is finite: a table holding NaN or inf is refused with a
    :class:`~genreclf.data.errors.DataError` (sources and the extractor refuse or drop
    such rows first, naming the file; this is the guarantee the datamodule relies on).

    Attributes
    ----------
    X : np.ndarray
        ``(n, d)`` summary features, or ``(n, frames, d)`` frame-level segments.
    labels : np.ndarray
        ``(n,)`` class label of each row, as strings.
    track_ids : np.ndarray
        ``(n,)`` track of each row (``<label>/<file>``); segments of one track share it.
    columns : list of str
        Names of the ``d`` features on the last axis of ``X``.
    skipped : pandas.DataFrame
        Files that yielded no features, with columns ``track_id``, ``path``, ``reason``.
    """

    X: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    columns: list[str]
    skipped: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["track_id", "path", "reason"])
    )

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=np.float32)
        self.labels = np.asarray(self.labels).astype(str)
        self.track_ids = np.asarray(self.track_ids).astype(str)
        n = len(self.X)
        if not (len(self.labels) == len(self.track_ids) == n):
            raise ValueError("X, labels and track_ids must have the same length")
        if self.X.ndim >= 2 and self.X.shape[-1] != len(self.columns):
            raise ValueError(f"X has {self.X.shape[-1]} features but {len(self.columns)} columns")
        # A float64 sum of float32 values cannot overflow: it is finite iff every value is.
        if not np.isfinite(self.X.sum(dtype=np.float64)):
            self._refuse_nonfinite()

    def _refuse_nonfinite(self) -> None:
        values = self.X.reshape(len(self.X), -1, self.X.shape[-1] if self.X.ndim >= 2 else 1)
        finite = np.isfinite(values)
        rows = np.flatnonzero(~finite.all(axis=(1, 2)))
        where = ""
        if self.X.ndim >= 2:
            ok = finite.all(axis=(0, 1))
            columns = [c for c, good in zip(self.columns, ok, strict=True) if not good]
            shown = ", ".join(columns[:3]) + (", ..." if len(columns) > 3 else "")
            where = f", in {len(columns)} column(s) ({shown})"
        raise DataError(
            f"features: {len(rows)} of {len(self.X)} rows hold NaN or inf (first: track "
            f"{str(self.track_ids[rows[0]])!r}){where}"
        )

    def __len__(self) -> int:
        return len(self.X)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        label_column: str = "label",
        track_column: str | None = "filename",
        exclude: list[str] | tuple[str, ...] = (),
    ) -> FeatureTable:
        """Build a summary table from a DataFrame of numeric feature columns.

        Columns other than ``label_column``, ``track_column`` and ``exclude`` are
        features. Without a track column, each row is its own track (``row<i>``).
        """
        non_features = {label_column, *(exclude or ())}
        if track_column:
            non_features.add(track_column)
        missing = [c for c in non_features if c not in frame.columns]
        if missing:
            raise KeyError(f"column(s) not in table: {', '.join(missing)}")
        feats = frame.drop(columns=list(non_features))
        bad = [c for c in feats.columns if not pd.api.types.is_numeric_dtype(feats[c])]
        if bad:
            raise ValueError(f"non-numeric feature column(s): {', '.join(map(str, bad))}")
        ids = frame[track_column] if track_column else [f"row{i}" for i in range(len(frame))]
        return cls(
            X=feats.to_numpy(dtype=np.float32),
            labels=frame[label_column].to_numpy(),
            track_ids=np.asarray(ids),
            columns=[str(c) for c in feats.columns],
        )

    def to_frame(self) -> pd.DataFrame:
        """Summary table in the original project's CSV layout: features, ``label``, ``filename``."""
        if self.X.ndim != 2:
            raise ValueError("only summary (2-D) feature tables export to a flat table")
        frame = pd.DataFrame(self.X, columns=self.columns)
        frame["label"] = self.labels
        frame["filename"] = self.track_ids
        return frame
