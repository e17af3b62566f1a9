"""The paired comparison of two configurations' pooled predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from genreclf.errors import ConfigError
from genreclf.reports import paired
from genreclf.reports.paired import compare, read_predictions


def _rows(correct: list[bool], seed: int = 42) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track": [f"t{i}" for i in range(len(correct))],
            "fold": [i % 3 for i in range(len(correct))],
            "seed": seed,
            "correct": correct,
        }
    )


def test_compare_counts_the_discordant_pairs_and_brackets_the_difference():
    # 60 both right, 25 only the chosen, 10 only the other, 5 neither
    a = [True] * 60 + [True] * 25 + [False] * 10 + [False] * 5
    b = [True] * 60 + [False] * 25 + [True] * 10 + [False] * 5
    result = compare(_rows(a), _rows(b))
    assert result["paired"] == 100
    assert (result["only_chosen"], result["only_other"]) == (25, 10)
    assert result["difference"] == pytest.approx(0.85 - 0.70)
    assert result["diff_ci_low"] < 0.15 < result["diff_ci_high"]
    assert result["diff_ci_low"] > 0  # 25 against 10 on 100 pairs: the gap is real
    assert result["mcnemar_p"] == pytest.approx(binomtest(25, 35).pvalue)


def test_compare_pairs_rows_on_track_fold_and_seed_only():
    a, b = _rows([True, True, False, False]), _rows([True, False, True, False], seed=43)
    assert compare(a, b)["paired"] == 0  # another seed: nothing pairs
    b = _rows([False, False, False, False]).iloc[:2]
    result = compare(a, b)
    assert result["paired"] == 2 and result["difference"] == pytest.approx(1.0)


def test_identical_predictions_differ_by_exactly_nothing():
    rows = _rows([True, False, True, True])
    result = compare(rows, rows)
    assert (result["difference"], result["diff_ci_low"], result["diff_ci_high"]) == (0, 0, 0)
    assert result["mcnemar_p"] == 1.0


def _predictions(path, genres=("blues", "jazz")) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "track": ["a", "b", "c"],
            "fold": [0, 1, 2],
            "seed": [42, 42, 42],
            "true_genre": ["blues", "jazz", "jazz"],
        }
    )
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    frame = pd.concat([frame, pd.DataFrame(probs, columns=list(genres))], axis=1)
    frame.to_parquet(path, index=False)
    return frame


def test_read_predictions_marks_each_row_right_or_wrong(tmp_path):
    _predictions(tmp_path / "p.parquet")
    frame = read_predictions(tmp_path / "p.parquet")
    assert frame["correct"].tolist() == [True, True, False]
    assert frame["true"].tolist() == [0, 1, 1] and frame["predicted"].tolist() == [0, 1, 0]
    assert frame.attrs["genres"] == ["blues", "jazz"]


def test_read_predictions_refuses_a_table_without_its_columns(tmp_path):
    path = tmp_path / "p.parquet"
    _predictions(path).drop(columns="fold").to_parquet(path)
    with pytest.raises(ConfigError, match=r"p\.parquet: no fold column"):
        read_predictions(path)
    frame = _predictions(path)
    frame.assign(true_genre="rock").to_parquet(path)
    with pytest.raises(ConfigError, match="true genre 'rock' has no probability column"):
        read_predictions(path)
    path.write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match=r"p\.parquet: not a predictions table"):
        read_predictions(path)


def test_read_predictions_checks_the_size_before_reading(tmp_path, monkeypatch):
    _predictions(tmp_path / "p.parquet")
    monkeypatch.setattr(paired, "MAX_ROWS", 2)
    with pytest.raises(ConfigError, match="3 rows x 6 columns, above the limit"):
        read_predictions(tmp_path / "p.parquet")
