"""FeatureTable: a table never holds NaN or inf features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genreclf.data import DataError
from genreclf.features.table import FeatureTable


@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 3)], ids=["summary", "frame-level"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_features_refused(shape, value):
    X = np.ones(shape, dtype=np.float32)
    X[2, ..., 1] = value
    with pytest.raises(DataError) as err:
        FeatureTable(X, ["a", "b", "a", "b"], ["a/0", "b/1", "a/2", "b/3"], ["f", "g", "h"])
    message = str(err.value)
    assert (
        message == "features: 1 of 4 rows hold NaN or inf (first: track 'a/2'), in 1 column(s) (g)"
    )


def test_finite_extremes_and_empty_tables_accepted():
    big = np.full((3, 2), np.finfo(np.float32).max, dtype=np.float32)  # the sum overflows float32
    assert len(FeatureTable(big, ["a", "b", "a"], ["0", "1", "2"], ["f", "g"])) == 3
    assert len(FeatureTable(np.zeros((0, 0, 2)), [], [], ["f", "g"])) == 0


def test_from_frame_refuses_nan():
    frame = pd.DataFrame({"f": [1.0, np.nan], "label": ["a", "b"], "filename": ["a/0", "b/1"]})
    with pytest.raises(DataError, match="1 of 2 rows hold NaN or inf"):
        FeatureTable.from_frame(frame)
