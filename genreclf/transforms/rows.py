"""Applying a fitted transform to feature arrays, row by row, with named columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def feature_rows(x: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """Features ``(..., d)`` as a DataFrame of ``prod(...)`` rows and the ``d`` named columns.

    Parameters
    ----------
    x : np.ndarray
        Features, shape ``(..., d)``: ``(n, d)`` summary rows or ``(n, frames, d)`` segments.
    columns : sequence of str
        The ``d`` feature names.

    Returns
    -------
    pandas.DataFrame
        Shape ``(prod(...), d)``.
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[-1] != len(columns):
        raise ValueError(f"features of shape {x.shape} do not match {len(columns)} column names")
    return pd.DataFrame(x.reshape(-1, x.shape[-1]), columns=list(columns))


def transform_rows(transform: Any, x: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    """Apply a fitted transform to features of shape ``(..., d)``, row by row.

    The one place a fitted transform meets features (training, inference, reports).

    Parameters
    ----------
    transform : sklearn transformer, DataTransform or None
        Fitted; ``None`` returns ``x`` unchanged.
    x : np.ndarray
        Features, shape ``(..., d)``.
    columns : sequence of str
        The ``d`` feature names (the DataFrame columns the transform was fit with).

    Returns
    -------
    np.ndarray
        float32, shape ``(..., d_out)``.
    """
    if transform is None:
        return x
    x = np.asarray(x)
    out = np.asarray(transform.transform(feature_rows(x, columns)), dtype=np.float32)
    return out.reshape(*x.shape[:-1], out.shape[-1])
