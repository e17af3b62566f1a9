"""The paired comparison of two configurations' pooled predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from scipy.stats import binomtest

from genreclf.core.errors import ConfigError
from genreclf.reports import paired
from genreclf.reports.paired import compare, read_predictions
from genreclf.tracking import names
from genreclf.tracking.store import Store


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


def _store_with_runs(tmp_path):
    """A real SQLite store with two configuration runs' predictions and a single run."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("paired", artifact_location=str(tmp_path / "art"))
    ids = {}
    for name, probs in {"a": [[0.9, 0.1]] * 3, "b": [[0.1, 0.9]] * 3}.items():
        run = client.create_run(experiment, tags={names.ROLE_TAG: names.CONFIG_ROLE})
        frame = pd.DataFrame(
            {"track": ["x", "y", "z"], "fold": [0, 1, 2], "seed": 42, "true_genre": "blues"}
        )
        frame = pd.concat([frame, pd.DataFrame(probs, columns=["blues", "jazz"])], axis=1)
        frame.to_parquet(tmp_path / names.PREDICTIONS_ARTIFACT, index=False)
        client.log_artifact(run.info.run_id, str(tmp_path / names.PREDICTIONS_ARTIFACT))
        ids[name] = run.info.run_id
    ids["single"] = client.create_run(experiment).info.run_id
    return Store(uri), ids


def _ranked(ids, order):
    role = {"a": names.CONFIG_ROLE, "b": names.CONFIG_ROLE, "single": None}
    return pd.DataFrame(
        {
            "run_id": [ids[k] for k in order],
            "run_name": order,
            f"tags.{names.ROLE_TAG}": [role[k] for k in order],
        }
    )


def test_paired_table_reads_the_configurations_predictions_from_the_store(tmp_path):
    store, ids = _store_with_runs(tmp_path)
    table = paired.paired_table(store, _ranked(ids, ["a", "single", "b"]), tmp_path / "dl")
    assert table["run_id"].tolist() == [ids["b"]]  # the single run holds no predictions
    row = table.iloc[0]
    assert (row["paired"], row["acc_chosen"], row["acc_other"]) == (3, 1.0, 0.0)
    # the chosen run is no configuration: nothing to compare it with
    assert paired.paired_table(store, _ranked(ids, ["single", "a", "b"]), tmp_path) is None


def test_the_interval_is_resampled_from_counts_in_memory_flat_in_the_rows():
    import tracemalloc

    peaks = []
    for rows in (1_000, 10_000_000):
        tracemalloc.start()
        paired.paired_interval(rows // 4, rows // 5, rows)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0] + 100_000 and peaks[1] < 5_000_000, peaks


def test_a_refused_predictions_file_costs_its_run_only_with_a_note(tmp_path):
    store, ids = _store_with_runs(tmp_path)
    client = MlflowClient(store.uri)
    experiment = client.get_run(ids["a"]).info.experiment_id
    bad = client.create_run(experiment, tags={names.ROLE_TAG: names.CONFIG_ROLE}).info.run_id
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / names.PREDICTIONS_ARTIFACT).write_bytes(b"not parquet at all")
    client.log_artifact(bad, str(folder / names.PREDICTIONS_ARTIFACT))
    ids["bad"] = bad
    ranked = _ranked(ids, ["a", "b"])
    ranked = pd.concat([ranked.iloc[:1], _bad_row(bad), ranked.iloc[1:]], ignore_index=True)
    notes: list[str] = []
    table = paired.paired_table(store, ranked, tmp_path / "dl", notes=notes)
    assert table["run_id"].tolist() == [ids["b"]]
    assert len(notes) == 1 and f"without run {bad[:8]}" in notes[0] and "\n" not in notes[0]
    # the chosen run's file refused: nothing to compare against, and a note says why
    first = pd.concat([_bad_row(bad), _ranked(ids, ["a", "b"])], ignore_index=True)
    notes.clear()
    assert paired.paired_table(store, first, tmp_path / "dl2", notes=notes) is None
    assert len(notes) == 1


def _bad_row(run_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"run_id": [run_id], "run_name": ["bad"], f"tags.{names.ROLE_TAG}": [names.CONFIG_ROLE]}
    )
