"""The one genreclf-made transform step, :func:`log_columns`, and its :func:`safe_log10`."""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.preprocessing import FunctionTransformer

from genreclf.core.params import Float, Pattern


def safe_log10(x: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """``log10(x + eps)``, with ``x`` clipped at 0 first so non-positive values give ``log10(eps)``.

    Parameters
    ----------
    x : array-like
        Non-negative (power-like) values.
    eps : float
        Floor added before the logarithm (librosa's ``power_to_db`` uses ``amin=1e-10``).

    Returns
    -------
    np.ndarray
    """
    return np.log10(np.maximum(np.asarray(x, dtype=np.float64), 0.0) + eps)


def log_columns(pattern: Pattern, eps: Float(gt=0, le=1)) -> ColumnTransformer:
    """Log-scale the columns whose name matches ``pattern``, pass the others through.

    Output columns: first the unmatched columns, then the matched ones, each group in
    input order (so seed174's order, with the mel bands last, is kept). If no column
    matches, the step passes everything through unchanged.

    Parameters
    ----------
    pattern : str
        Regular expression searched in each column name (``re.search``).
    eps : float
        See :func:`safe_log10`.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        To be fit on a ``pandas.DataFrame`` with the feature names as columns.
    """
    log = FunctionTransformer(safe_log10, kw_args={"eps": eps}, feature_names_out="one-to-one")
    return ColumnTransformer(
        [
            ("keep", "passthrough", make_column_selector(pattern=f"(?s)^(?!.*(?:{pattern}))")),
            ("log", log, make_column_selector(pattern=pattern)),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
