"""best_run: one ranking (accuracy, then lower loss, then the earlier run) on any input."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from genreclf.tracking import names
from genreclf.tracking.selection import Score, best_run, rank_runs, selection_key

T0 = 1_700_000_000_000  # a start time, in milliseconds

#: Best first: each row loses to the one above it on exactly one rule.
RANKED = [
    Score(0.9, 0.90, T0 + 9, "z"),  # the highest accuracy wins, whatever its loss
    Score(0.8, 0.40, T0 + 5, "c"),  # tied accuracy: the lower loss
    Score(0.8, 0.50, T0 + 1, "d"),  # tied loss: the earlier start
    Score(0.8, 0.50, T0 + 2, "a"),  # tied start: the smaller run id
    Score(0.8, 0.50, T0 + 2, "b"),
    Score(0.8, math.nan, T0 + 0, "e"),  # no loss logged: after every known loss
    Score(0.8, math.nan, math.nan, "f"),  # no start time either: last of the ties
    Score(0.1, 0.01, T0, "g"),
]


def test_each_tie_break_decides_in_its_documented_order():
    assert sorted(RANKED, key=selection_key) == RANKED


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_the_best_run_does_not_depend_on_the_order_runs_are_read_in(order):
    tied = [RANKED[i + 1] for i in order]  # c, d, a, b: equal accuracy
    assert best_run(tied) is RANKED[1]


def test_runs_without_a_finite_selection_metric_are_never_chosen():
    unranked = [Score(math.nan, 0.0, T0, "n"), Score(math.inf, 0.0, T0, "i")]
    assert best_run(unranked) is None
    assert best_run([*unranked, RANKED[-1]]) is RANKED[-1]
    assert best_run([]) is None


def _frame(scores: list[Score]) -> pd.DataFrame:
    """A runs frame as Store.runs_frame gives it (start times as timestamps)."""
    return pd.DataFrame(
        {
            "run_id": [s.run_id for s in scores],
            "start_time": pd.to_datetime([s.start_time for s in scores], unit="ms", utc=True),
            f"metrics.{names.BEST_VAL_ACC}": [s.val_acc for s in scores],
            f"metrics.{names.BEST_VAL_LOSS}": [s.val_loss for s in scores],
        }
    )


def test_a_runs_frame_is_ranked_by_the_same_key():
    shuffled = [RANKED[i] for i in (4, 7, 2, 0, 6, 1, 5, 3)]
    frame = _frame([*shuffled, Score(math.nan, 0.0, T0, "x")])
    assert list(rank_runs(frame)["run_id"]) == [s.run_id for s in RANKED]  # x is left out
    assert best_run(frame)["run_id"] == "z"
    assert best_run(frame.iloc[0:0]) is None


def test_a_frame_without_tie_break_columns_keeps_its_row_order_for_ties():
    frame = pd.DataFrame({"name": ["p", "q", "r"], "val_acc": [0.5, 0.7, 0.7]})
    assert list(rank_runs(frame, acc="val_acc", loss="val_loss")["name"]) == ["q", "r", "p"]


def test_an_mlflow_run_is_scored_from_its_metrics_and_start_time(tmp_path):
    from mlflow.entities import Metric

    from genreclf.tracking.selection import score_of
    from genreclf.tracking.store import Store

    store = Store(f"sqlite:///{tmp_path}/mlflow.db")
    eid = store.experiment_id("e")
    run_id = store.create_run(eid)
    metrics = [Metric(names.BEST_VAL_ACC, 0.75, 0, 0), Metric(names.BEST_VAL_LOSS, 0.25, 0, 0)]
    store.log_batch(run_id, metrics=metrics)
    run = store.get_run(run_id)
    assert score_of(run) == Score(0.75, 0.25, run.info.start_time, run_id)


def _model_run(store, eid, acc: float, synthetic: bool, tmp_path, name: str) -> str:
    """A FINISHED run with ``best_val_acc`` and a logged (empty) model package."""
    from mlflow.entities import Metric

    from genreclf.tracking.models import log_model

    run_id = store.create_run(eid, name, {names.SYNTHETIC_TAG: str(synthetic)})
    store.log_batch(run_id, {}, [Metric(names.BEST_VAL_ACC, acc, 0, 0)])
    folder = tmp_path / name
    folder.mkdir()
    (folder / "genreclf.json").write_text("{}")
    log_model(store, run_id, folder, {"format": 2})
    store.end_run(run_id, names.FINISHED)
    return run_id


def test_best_never_picks_a_synthetic_data_model_over_a_real_one(tmp_path, caplog):
    from genreclf.tracking.models import best_model_uri
    from genreclf.tracking.store import Store

    store = Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    eid = store.experiment_id("genreclf")
    toy = _model_run(store, eid, 0.99, True, tmp_path, "rnn-toy")
    with caplog.at_level("WARNING", logger="genreclf.tracking"):
        assert best_model_uri(store, "genreclf") == f"runs:/{toy}/model"  # nothing else there
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "genreclf.tracking"]
    assert "SYNTHETIC" in warning and toy in warning and "\n" not in warning
    caplog.clear()
    real = _model_run(store, eid, 0.41, False, tmp_path, "linear-musicnn")
    with caplog.at_level("WARNING", logger="genreclf.tracking"):
        assert best_model_uri(store, "genreclf") == f"runs:/{real}/model"
    assert not [r for r in caplog.records if r.name == "genreclf.tracking"]  # real: no warning


def test_best_real_first_falls_back_to_synthetic_runs_only_when_no_real_run_is_ranked():
    from types import SimpleNamespace

    from genreclf.tracking.selection import best_real_first

    def run(run_id: str, acc: float, synthetic: str | None):
        tags = {} if synthetic is None else {names.SYNTHETIC_TAG: synthetic}
        return SimpleNamespace(
            info=SimpleNamespace(run_id=run_id, start_time=T0),
            data=SimpleNamespace(metrics={names.BEST_VAL_ACC: acc}, tags=tags),
        )

    toy, real, untagged = run("t", 0.9, "True"), run("r", 0.5, "False"), run("u", 0.6, None)
    assert best_real_first([toy, real]) == (real, False)
    assert best_real_first([toy, real, untagged]) == (untagged, False)  # untagged: not synthetic
    assert best_real_first([toy, run("n", math.nan, "False")]) == (toy, True)
    assert best_real_first([]) == (None, False)


def test_a_selection_metric_that_is_no_accuracy_is_ignored_and_counted(caplog):
    from genreclf.tracking.selection import out_of_range

    hostile = [
        Score(1e9, 0.0, T0, "big"),
        Score(1.8e308, 0.0, T0, "inf"),
        Score(-5, 0.0, T0, "neg"),
    ]
    fair = Score(0.5, 0.9, T0, "fair")
    with caplog.at_level("WARNING", logger="genreclf.tracking.selection"):
        assert best_run([*hostile, fair, Score(math.nan, 0.0, T0, "none")]) is fair
    assert out_of_range([*hostile, fair]) == 3
    assert "3 run(s) ignored" in caplog.text and "[0, 1]" in caplog.text
    assert Score(1.0).ranked and Score(0.0).ranked and not Score(1.0000001).ranked
    frame = pd.DataFrame(
        {
            "run_id": ["big", "fair", "neg"],
            f"metrics.{names.BEST_VAL_ACC}": [1e9, 0.5, -5.0],
        }
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="genreclf.tracking.selection"):
        assert rank_runs(frame)["run_id"].tolist() == ["fair"]
    assert "2 run(s) ignored" in caplog.text
    assert best_run(frame.iloc[[0, 2]]) is None
