"""The report's configuration table: the configuration runs in ``best:``'s order."""

from __future__ import annotations

import pandas as pd
from mlflow.entities import Metric

from genreclf.reports.build import make_report
from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store

EXPERIMENT = "configs"
T0 = 1_700_000_000_000  # milliseconds
DENSE = "genreclf.models.heads.DenseHead"

#: name -> (role, best_val_acc, best_val_loss, val_acc_std, test_acc, test_acc_std).
#: "winner" and "runner_up" tie on mean validation accuracy; the lower loss wins.
PLANTED = {
    "runner_up": (names.CONFIG_ROLE, 0.8, 0.5, 0.02, 0.70, 0.03),
    "winner": (names.CONFIG_ROLE, 0.8, 0.4, 0.01, 0.60, 0.05),
    "third": (names.CONFIG_ROLE, 0.6, 0.1, 0.04, 0.75, 0.02),
    "single": (names.JOB_ROLE, 0.7, 0.3, None, 0.65, None),
}


def _plant(store: Store, experiment_id: str, number: int, name: str) -> str:
    role, acc, loss, acc_std, test, test_std = PLANTED[name]
    tags = {names.ROLE_TAG: role, names.MODEL_TAG: "dense"}
    run = store.call(
        lambda c: c.create_run(
            experiment_id, start_time=T0 + 1000 * number, tags=tags, run_name=name
        )
    )
    scores = {
        names.BEST_VAL_ACC: acc,
        names.BEST_VAL_LOSS: loss,
        names.TEST_ACC: test,
        names.TEST_F1: test / 2,
        names.VAL_ACC_STD: acc_std,
        names.TEST_ACC_STD: test_std,
    }
    metrics = [Metric(k, v, 0, 0) for k, v in scores.items() if v is not None]
    params = {"model._target_": DENSE, "model.hidden_size": str(8 * (number + 1))}
    store.log_batch(run.info.run_id, params, metrics)
    store.end_run(run.info.run_id, names.FINISHED)
    return run.info.run_id


def test_the_configuration_table_follows_best_runs_order(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    experiment_id = store.experiment_id(EXPERIMENT)
    ids = {name: _plant(store, experiment_id, i, name) for i, name in enumerate(PLANTED)}

    report = make_report(store.uri, EXPERIMENT, tmp_path / "out", pca=False, log_to_mlflow=False)

    runs = [store.get_run(run_id) for run_id in ids.values()]
    assert report.best_run_id == ids["winner"] == best_run(runs).info.run_id
    configs = pd.read_csv(tmp_path / "out" / "configurations.csv")
    remaining = [r for r in runs if r.data.tags[names.ROLE_TAG] == names.CONFIG_ROLE]
    ranked = []
    while remaining:  # best_run, again and again: its order
        ranked.append(best_run(remaining))
        remaining.remove(ranked[-1])
    assert list(configs["run_id"]) == [r.info.run_id for r in ranked]
    assert list(configs["run_id"]) == [ids[n] for n in ("winner", "runner_up", "third")]
    page = report.html_path.read_text(encoding="utf-8")
    assert "Configurations over folds and seeds" in page
    assert "0.800 ± 0.010" in page and "0.600 ± 0.050" in page  # the winner's means ± stds
    tie = page.split("Tied with the chosen one on validation accuracy", 1)[1].split("</p>")[0]
    assert ids["runner_up"][:8] in tie and ids["third"][:8] not in tie
