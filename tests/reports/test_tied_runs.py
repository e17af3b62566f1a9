"""Tied runs: ``best:``, the report, a sweep's summary and its progress line name one run."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.entities import Metric

from genreclf.reports.build import make_report
from genreclf.sweeps.callbacks import best_job_run, sweep_runs
from genreclf.sweeps.progress import JobValue, SweepProgress
from genreclf.tracking import names
from genreclf.tracking.models import fetch_model, log_model
from genreclf.tracking.selection import score_of
from genreclf.tracking.store import Store

EXPERIMENT = "tied"
SWEEP_ID = "probe-0123456789ab"
T0 = 1_700_000_000_000  # milliseconds
DENSE = "genreclf.models.heads.DenseHead"

#: Planted in this order: name -> (best_val_acc, best_val_loss or None, start in seconds).
#: All but the last tie on validation accuracy. "winner" has the lowest loss, which it
#: shares with "later_twin" (planted first, started later). "no_loss" (an older run that
#: logged no loss) started first; the old rules picked it (earliest) or "later_twin"
#: (latest).
PLANTED = {
    "later_twin": (0.8, 0.4, 30),
    "no_loss": (0.8, None, 0),
    "higher_loss": (0.8, 0.5, 10),
    "winner": (0.8, 0.4, 20),
    "lower_acc": (0.7, 0.1, 40),
}


def _plant(store: Store, experiment_id: str, tmp_path, job: int, name: str) -> str:
    """A FINISHED sweep job run with a logged model, started at ``T0 + start`` seconds."""
    acc, loss, start = PLANTED[name]
    tags = {
        names.SWEEP_ID_TAG: SWEEP_ID,
        names.ROLE_TAG: "job",
        names.JOB_NUM_TAG: str(job),
        names.MODEL_TAG: "dense",
    }
    run = store.call(
        lambda c: c.create_run(
            experiment_id, start_time=T0 + 1000 * start, tags=tags, run_name=name
        )
    )
    run_id = run.info.run_id
    scores = {names.BEST_VAL_ACC: acc, names.TEST_ACC: 0.5, names.TEST_F1: 0.5}
    if loss is not None:
        scores[names.BEST_VAL_LOSS] = loss
    params = {"model._target_": DENSE, "model.hidden_size": str(8 * (job + 1))}
    store.log_batch(run_id, params, [Metric(k, v, 0, 0) for k, v in scores.items()])
    folder = tmp_path / "packages" / name
    folder.mkdir(parents=True)
    (folder / "genreclf.json").write_text("{}")
    log_model(store, run_id, folder, {"format": 2})
    store.end_run(run_id, names.FINISHED)
    return run_id


@pytest.fixture
def planted(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment_id = store.experiment_id(EXPERIMENT)
    ids = {
        name: _plant(store, experiment_id, tmp_path, job, name) for job, name in enumerate(PLANTED)
    }
    return store, experiment_id, ids


def test_best_the_report_and_the_sweep_name_the_same_of_tied_runs(planted, tmp_path):
    store, experiment_id, ids = planted
    winner = ids["winner"]

    resolved, folder = fetch_model(store, f"best:{EXPERIMENT}", tmp_path / "fetched")
    assert resolved == f"runs:/{winner}/model" and (folder / "MLmodel").is_file()

    report = make_report(store.uri, EXPERIMENT, tmp_path / "report", pca=False, log_to_mlflow=False)
    assert report.best_run_id == winner
    top = pd.read_csv(tmp_path / "report" / "top_runs.csv")
    assert list(top["run_id"]) == [
        ids[n] for n in ("winner", "later_twin", "higher_loss", "no_loss", "lower_acc")
    ]
    selection = pd.read_csv(tmp_path / "report" / "selection.csv")
    assert selection.loc[0, "choice"] == "chosen on validation"
    assert selection.loc[0, "run_id"] == winner

    runs = sweep_runs(store, experiment_id, SWEEP_ID)
    assert len(runs) == len(PLANTED)
    assert best_job_run(runs).info.run_id == winner

    progress = SweepProgress("probe", total=len(PLANTED), keys=["run"])
    for job, name in enumerate(PLANTED):  # the jobs end in the order they were planted
        line = progress.finished(job, JobValue(score_of(store.get_run(ids[name]))), [f"run={name}"])
    assert line.endswith(f"best val_acc 0.800 [{list(PLANTED).index('winner') + 1}] run=winner")
