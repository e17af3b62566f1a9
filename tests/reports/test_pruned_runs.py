"""Pruned sweep jobs: counted and marked by the report, never ranked or chosen by anyone."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from mlflow.entities import Metric

from genreclf.reports.build import make_report
from genreclf.reports.dataset import PRUNED_COLUMN
from genreclf.reports.plots import PRUNED_LABEL, PRUNED_STYLE, impact_figure
from genreclf.reports.runs import load_runs, pruned_runs
from genreclf.sweeps.callbacks import best_job_run, sweep_runs
from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store

EXPERIMENT = "pruned"
SWEEP_ID = "asha-0123456789ab"
T0 = 1_700_000_000_000  # milliseconds
DENSE = "genreclf.models.heads.DenseHead"

#: name -> (role, hidden_size, best_val_acc or None if pruned, val_acc curve).
#: The pruned runs' last val_acc (0.95, 0.97) beats every completed run's.
PLANTED = {
    "completed_a": (names.JOB_ROLE, "8", 0.70, [0.5, 0.6, 0.7]),
    "completed_b": (names.CONFIG_ROLE, "16", 0.80, [0.6, 0.8, 0.75]),
    "completed_c": (names.CONFIG_ROLE, "32", 0.60, [0.4, 0.6, 0.55]),
    "pruned_job": (names.JOB_ROLE, "16", None, [0.3, 0.95]),
    "pruned_config": (names.CONFIG_ROLE, "64", None, [0.2, 0.5, 0.97]),
}
COMPLETED = [n for n, planted in PLANTED.items() if planted[2] is not None]
PRUNED = [n for n in PLANTED if n not in COMPLETED]


def _curves(curve: list[float]) -> list[Metric]:
    """Per-epoch curves up to the last epoch of ``curve`` (steps are epochs), with the
    ``epoch`` metric that Lightning logs beside them."""
    metrics = []
    for epoch, acc in enumerate(curve):
        values = {"val_acc": acc, "val_loss": 1 - acc, "train_acc": acc, "train_loss": 1 - acc}
        for key, value in {**values, names.EPOCH: epoch}.items():
            metrics.append(Metric(key, value, T0 + epoch, epoch))
    return metrics


def _plant(store: Store, experiment_id: str, number: int, name: str) -> str:
    """A FINISHED sweep job; a pruned one as the pruner leaves it: tagged, no scores."""
    role, hidden, best, curve = PLANTED[name]
    tags = {
        names.SWEEP_ID_TAG: SWEEP_ID,
        names.ROLE_TAG: role,
        names.JOB_NUM_TAG: str(number),
        names.MODEL_TAG: "dense",
        names.TRIAL_TAG: str(number),
    }
    if best is None:
        tags[names.PRUNED_TAG] = str(len(curve))
    run = store.call(
        lambda c: c.create_run(
            experiment_id, start_time=T0 + 1000 * number, tags=tags, run_name=name
        )
    )
    metrics = _curves(curve)
    if best is not None:
        scores = {
            names.BEST_VAL_ACC: best,
            names.BEST_VAL_LOSS: 1 - best,
            names.TEST_ACC: best - 0.1,
            names.TEST_F1: best - 0.2,
        }
        metrics += [Metric(k, v, T0, len(curve)) for k, v in scores.items()]
    params = {"model._target_": DENSE, "model.hidden_size": hidden}
    store.log_batch(run.info.run_id, params, metrics)
    store.end_run(run.info.run_id, names.FINISHED)
    return run.info.run_id


@pytest.fixture
def planted(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment_id = store.experiment_id(EXPERIMENT)
    ids = {name: _plant(store, experiment_id, i, name) for i, name in enumerate(PLANTED)}
    return store, experiment_id, ids


def test_no_ranking_chooses_a_pruned_run(planted):
    store, experiment_id, ids = planted
    winner = ids["completed_b"]
    assert best_run([store.get_run(i) for i in ids.values()]).info.run_id == winner
    assert best_job_run(sweep_runs(store, experiment_id, SWEEP_ID)).info.run_id == winner
    runs = load_runs(store, EXPERIMENT)
    assert set(pruned_runs(runs)["run_id"]) == {ids[n] for n in PRUNED}
    assert runs.set_index("run_id").loc[[ids[n] for n in PRUNED], "val_acc"].isna().all()
    last = runs.set_index("run_id")["last_val_acc"]
    assert [last[ids[n]] for n in PRUNED] == [0.95, 0.97]  # the last point of each curve


def test_the_report_counts_pruned_runs_and_never_chooses_one(planted, tmp_path):
    store, _, ids = planted
    out = tmp_path / "out"
    report = make_report(
        store.uri, EXPERIMENT, out, pca=False, log_to_mlflow=False, formats=["html", "md", "tex"]
    )
    assert report.best_run_id == ids["completed_b"]
    count = f"pruned: {len(PRUNED)} of {len(PLANTED)} runs (stopped early by the sweep's pruner)"
    for fmt in ("html", "md", "tex"):
        page = html.unescape(report.page_path(fmt).read_text(encoding="utf-8"))
        assert f"{len(PLANTED)} runs: {len(PLANTED)} FINISHED; {count}" in page, fmt
        assert "Hollow grey circles are the 2 runs" in page, fmt
    pruned_ids = {ids[n] for n in PRUNED}
    for table in ("top_runs", "selection", "configurations"):
        frame = pd.read_csv(out / f"{table}.csv")
        assert not pruned_ids & set(frame["run_id"]), table
    assert pd.read_csv(out / "top_runs.csv")["run_id"].tolist() == [
        ids[n] for n in ("completed_b", "completed_a", "completed_c")
    ]
    assert pd.read_csv(out / "configurations.csv")["run_id"].iloc[0] == ids["completed_b"]
    listed = pd.read_csv(out / "runs.csv").set_index("run_id")[PRUNED_COLUMN]
    assert listed[ids["pruned_job"]] == 2 and listed[ids["pruned_config"]] == 3
    assert listed[[ids[n] for n in COMPLETED]].isna().all()
    assert (out / "impact_model.hidden_size.png").is_file()


def _hollow_points(ax) -> np.ndarray:
    """The y values of the points drawn in :data:`PRUNED_STYLE` (no face colour)."""
    found = [
        c.get_offsets()[:, 1]
        for c in ax.collections
        if len(c.get_offsets()) and len(c.get_facecolors()) == 0
    ]
    return np.concatenate(found) if found else np.array([])


def test_the_impact_plot_marks_pruned_runs_at_their_last_val_acc(planted):
    store, _, ids = planted
    runs = load_runs(store, EXPERIMENT)
    done = runs[runs["val_acc"].notna()]
    fig = impact_figure(done, "model.hidden_size", pruned=pruned_runs(runs))
    val_ax, test_ax = fig.axes[:2]
    assert [t.get_text() for t in val_ax.get_xticklabels()] == ["8", "16", "32", "64"]
    assert sorted(_hollow_points(val_ax)) == pytest.approx([0.95, 0.97])
    assert len(_hollow_points(test_ax)) == 0  # a pruned run has no test score
    edges = {
        tuple(c.get_edgecolors()[0])
        for c in val_ax.collections
        if len(c.get_offsets()) and not len(c.get_facecolors())
    }
    assert edges == {to_rgba(PRUNED_STYLE["edgecolors"])}
    (legend,) = fig.legends  # one, beside the axes: none inside to hide the pruned points
    assert [t.get_text() for t in legend.get_texts()] == ["dense", PRUNED_LABEL]
    assert val_ax.get_legend() is None and test_ax.get_legend() is None
    filled = np.concatenate(
        [
            c.get_offsets()[:, 1]
            for c in val_ax.collections
            if len(c.get_offsets()) and len(c.get_facecolors())
        ]
    )
    assert sorted(filled) == pytest.approx(sorted(done["val_acc"]))  # completed: as before
