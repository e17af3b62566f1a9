"""Sweep reports: ``python -m genreclf.report`` on a real k-fold sweep in a SQLite store."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from matplotlib import image as mpimg
from mlflow import MlflowClient

from genreclf.config.checks import check_train_config
from genreclf.config.runconfig import ARTIFACT, CONFIG_DIR
from genreclf.reports.build import make_report
from genreclf.reports.pca import transform_from_config
from genreclf.reports.plots import impact_figure
from genreclf.reports.runs import load_runs, swept_params
from genreclf.reports.tables import configuration_table, mean_std_text, selection_table
from genreclf.tracking import names
from genreclf.tracking.history import epoch_curves
from genreclf.tracking.selection import best_run, rank_runs
from genreclf.tracking.store import Store
from tests.e2e import run_command, run_in_new_folder

EXPERIMENT = "sweep"
KFOLD = "genreclf.split.KFoldSplit"
DENSE = "genreclf.models.heads.DenseHead"
TABLE = "genreclf.data.sources.TableSource"


def _fake_run(client, experiment_id, name, status, params, metrics, tags=None) -> str:
    """A run made through the MLflow client, as a crashed, live or report run leaves one."""
    run_id = client.create_run(experiment_id, run_name=name, tags=tags or {}).info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for step, (key, value) in enumerate(metrics.items()):
        client.log_metric(run_id, key, value, step=step)
    if status != "RUNNING":
        client.set_terminated(run_id, status)
    return run_id


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, shared_data):
    """A real 2-config x 2-fold sweep, plus a FAILED, a RUNNING and an older report run."""
    cwd, cache, _ = run_in_new_folder(
        tmp_path_factory,
        "sweep",
        "genreclf.train",
        "--multirun",
        "data=table",
        f"data.path={shared_data / 'seed_features.csv'}",
        "model=dense",
        "model.hidden_size=8,16",
        "split=kfold",
        "split.fold=0,1",
        "trainer.max_epochs=2",
        "tracking.log_model=false",
        f"tracking.experiment={EXPERIMENT}",
    )
    uri = f"sqlite:///{cwd}/mlruns/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    jobs = "tags.`genreclf.sweep_role` = 'job'"  # every multirun also has a parent run
    trained = [r.info.run_id for r in client.search_runs([experiment_id], jobs)]
    data = {"data._target_": TABLE, "data.path": str(shared_data / "seed_features.csv")}
    base = {"model._target_": DENSE, "split._target_": KFOLD, **data}
    fakes = {
        "failed": _fake_run(
            client,
            experiment_id,
            "crashed",
            "FAILED",
            {**base, "split.fold": "0"},
            {"val_acc": 0.99},
        ),
        "running": _fake_run(
            client,
            experiment_id,
            "still-going",
            "RUNNING",
            {**base, "split.fold": "1", "model.hidden_size": "32"},
            {"val_acc": 0.021, "epoch": 0},
        ),
        "old_report": _fake_run(
            client,
            experiment_id,
            "old report",
            "FINISHED",
            {},
            {"best_val_acc": 1.0, "test_acc": 1.0},
            {"genreclf.report": "true"},
        ),
    }
    result = run_command(
        "genreclf.report", f"experiment={EXPERIMENT}", "top_k=20", cwd=cwd, cache=cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = cwd / "reports" / EXPERIMENT
    return {
        "cwd": cwd,
        "uri": uri,
        "client": client,
        "trained": trained,
        "fakes": fakes,
        "result": result,
        "out": out,
        "html": (out / "report.html").read_text(encoding="utf-8"),
    }


@pytest.mark.slow
def test_every_png_is_a_real_image_embedded_in_the_html(sweep):
    pngs = sorted(sweep["out"].glob("*.png"))
    names = {p.name for p in pngs}
    expected = {"best_curves.png", "best_confusion_matrix.png", "pca.png"}
    expected.add("impact_model.hidden_size.png")
    assert expected <= names, names
    for png in pngs:
        pixels = mpimg.imread(png)
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100, png.name
        assert pixels[..., :3].std() > 0.01, f"{png.name} is blank"
        encoded = base64.b64encode(png.read_bytes()).decode("ascii")
        assert f"data:image/png;base64,{encoded}" in sweep["html"], png.name
    assert len(re.findall(r"<img ", sweep["html"])) == len(pngs)


@pytest.mark.slow
def test_top_runs_table_matches_mlflow(sweep):
    client, top = sweep["client"], pd.read_csv(sweep["out"] / "top_runs.csv")
    running = sweep["fakes"]["running"]
    assert set(top["run_id"]) == {*sweep["trained"], running}
    assert list(top["val_acc"]) == sorted(top["val_acc"], reverse=True)
    for _, row in top.iterrows():
        run = client.get_run(row["run_id"])  # the id exists in the store
        assert row["status"] == run.info.status
        assert row["run_id"][:8] in sweep["html"]  # short ids on the page
        assert str(row["split.fold"]) == run.data.params["split.fold"]
        metrics = run.data.metrics
        if row["run_id"] == running:
            assert row["val_acc"] == pytest.approx(metrics["val_acc"], rel=1e-12)
            assert np.isnan(row["test_acc"])
            continue
        for column, key in (("val_acc", "best_val_acc"), ("test_acc", "test_acc")):
            assert row[column] == pytest.approx(metrics[key], rel=1e-12)
            assert f"{row[column]:.4f}" in sweep["html"]
        assert row["test_f1"] == pytest.approx(metrics["test_f1"], rel=1e-12)


@pytest.mark.slow
def test_failed_and_report_runs_are_counted_or_left_out(sweep):
    fakes, html = sweep["fakes"], sweep["html"]
    runs = pd.read_csv(sweep["out"] / "runs.csv")
    assert fakes["failed"] not in set(runs["run_id"])
    assert fakes["old_report"] not in set(runs["run_id"]) and fakes["old_report"] not in html
    assert "1 FAILED" in html and "1 RUNNING" in html and "4 FINISHED" in html
    assert re.search(r"Failed or killed runs \(1\).*" + fakes["failed"][:8], html, re.S)


@pytest.mark.slow
def test_runs_of_single_folds_are_ranked_as_runs_as_best_ranks_them(sweep):
    """A sweep over ``split.fold`` is runs, one per fold: the report chooses among them as
    ``best:`` does, and groups no configurations of its own (no configuration runs)."""
    client, out = sweep["client"], sweep["out"]
    trained = [client.get_run(run_id) for run_id in sweep["trained"]]
    best = best_run(trained).info.run_id
    assert re.search(r"Best run on validation: (\w+)", sweep["result"].stdout).group(1) == best
    selection = pd.read_csv(out / "selection.csv")
    assert selection.loc[0, "choice"] == "chosen on validation"
    assert selection.loc[0, "run_id"] == best
    assert not (out / "configurations.csv").exists() and not (out / "folds.csv").exists()
    assert "Configurations over folds and seeds" not in sweep["html"]


@pytest.mark.slow
def test_best_run_section_and_report_run(sweep):
    client, out = sweep["client"], sweep["out"]
    result = sweep["result"]
    best = re.search(r"Best run on validation: (\w+)", result.stdout).group(1)
    assert best in sweep["trained"]
    curves = epoch_curves(
        Store(sweep["uri"]), best
    )  # what best_curves.png draws: the 2 trained epochs
    assert list(curves.index) == [0, 1] and {"train_loss", "val_acc"} <= set(curves.columns)
    logged = client.download_artifacts(best, "classification_report.txt", str(sweep["cwd"]))
    report_text = (out / "best_classification_report.txt").read_text()
    assert report_text == open(logged).read() and "blues" in report_text
    report_run = re.search(r"MLflow report run: (\w+)", result.stdout).group(1)
    run = client.get_run(report_run)
    assert run.data.tags["genreclf.report"] == "true" and run.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(report_run)}
    assert {"report.html", "report.md", "top_runs.csv", "selection.csv", "pca.png"} <= artifacts
    assert not (out / "report.tex").exists()  # formats defaults to [html, md]


def test_report_says_why_pca_is_missing_when_data_is_gone(tmp_path):
    """A run whose data has gone: the report notes it and skips only the PCA map."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("gone", (tmp_path / "artifacts").as_uri())
    run_id = _fake_run(
        client,
        experiment_id,
        "old",
        "FINISHED",
        {"model._target_": DENSE},
        {"best_val_acc": 0.5, "test_acc": 0.4, "test_f1": 0.3},
    )
    table = tmp_path / "deleted.csv"
    table.write_text("label,x\n")
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["data=table", f"data.path={table}"])
    client.log_text(run_id, check_train_config(cfg).to_json(), ARTIFACT)
    table.unlink()
    report = make_report(uri, "gone", tmp_path / "out", log_to_mlflow=False)
    page = report.html_path.read_text()
    assert report.best_run_id == run_id and report.report_run_id is None
    assert "No PCA map" in page and "deleted.csv" in page
    assert not (tmp_path / "out" / "pca.png").exists()
    assert "No confusion matrix or per-genre report" in page
    with pytest.raises(ValueError, match="no such experiment"):
        load_runs(Store(uri), "nope")


def _frame(rows: list[dict]) -> pd.DataFrame:
    runs = pd.DataFrame(rows)
    runs["run_name"] = runs["run_id"]
    return runs


def test_selection_table_shows_what_choosing_on_test_would_claim():
    runs = _frame(
        [
            {"run_id": "a", "model": "M", "val_acc": 0.8, "test_acc": 0.70, "test_f1": 0.6},
            {"run_id": "b", "model": "M", "val_acc": 0.7, "test_acc": 0.75, "test_f1": 0.7},
            {"run_id": "c", "model": "M", "val_acc": 0.8, "test_acc": 0.60, "test_f1": 0.5},
        ]
    )
    table = selection_table(runs)
    assert list(table["run_id"]) == ["a", "b"]  # the tie on validation keeps the first run
    assert list(table["test_rank"]) == [2, 1] and list(table["val_rank"]) == [1, 3]


def test_swept_params_ignore_per_model_defaults_and_single_folds_stay_runs():
    rows = []
    for model, hidden in (("Dense", "256"), ("LSTM", "128")):
        for lr in ("0.1", "0.01"):
            for fold in ("0", "1"):
                score = float(lr) + int(fold) / 100
                rows.append(
                    {
                        "run_id": f"{model}{lr}{fold}",
                        "model": model,
                        "params.model.hidden_size": hidden,
                        "params.optimizer.lr": lr,
                        "params.split.fold": fold,
                        "params.trainer.default_root_dir": f"out/{model}{lr}{fold}",
                        "val_acc": score,
                        "test_acc": score / 2,
                        "test_f1": score / 3,
                    }
                )
    runs = _frame(rows)
    params = swept_params(runs)
    assert params == ["optimizer.lr", "split.fold"]
    assert configuration_table(runs, params) is None  # runs of one fold each: no grouping


def test_impact_figure_orders_numeric_values_and_splits_by_model(tmp_path):
    runs = pd.DataFrame(
        {
            "model": ["Dense", "Dense", "Dense", "LSTM", "LSTM"],
            "params.model.hidden_size": ["8", "16", "32", "8", "32"],
            "val_acc": [0.1, 0.2, 0.3, 0.4, 0.5],
            "test_acc": [0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    fig = impact_figure(runs, "model.hidden_size")
    val_ax = fig.axes[0]
    assert [t.get_text() for t in val_ax.get_xticklabels()] == ["8", "16", "32"]
    assert [t.get_text() for t in val_ax.get_legend().get_texts()] == ["Dense", "LSTM"]
    points = np.concatenate(
        [c.get_offsets()[:, 1] for c in val_ax.collections if len(c.get_offsets())]
    )
    assert sorted(points) == pytest.approx(sorted(runs["val_acc"]))
    fig.savefig(tmp_path / "impact.png")
    assert mpimg.imread(tmp_path / "impact.png")[..., :3].std() > 0.01


def test_transform_is_rebuilt_from_a_logged_config():
    """The report rebuilds the run's transform from its logged configuration, by name."""
    config = {
        "transforms": {
            "_target_": "sklearn.pipeline.make_pipeline",
            "_args_": [
                {
                    "_target_": "genreclf.transforms.log_columns",
                    "pattern": "^mel_spectrogram_",
                    "eps": 1e-10,
                },
                {"_target_": "sklearn.preprocessing.StandardScaler"},
            ],
        },
    }
    assert [type(step).__name__ for _, step in transform_from_config(config).steps] == [
        "ColumnTransformer",
        "StandardScaler",
    ]


def _configuration_runs() -> pd.DataFrame:
    """Three configuration runs (two tied on mean validation accuracy) and a plain run."""
    role = f"tags.{names.ROLE_TAG}"
    rows = [
        ("a", 0.5, 0.9, 0.01, 0.40, 0.02, names.CONFIG_ROLE),
        ("b", 0.5, 0.2, 0.03, 0.45, 0.01, names.CONFIG_ROLE),
        ("c", 0.7, 0.5, 0.00, 0.30, float("nan"), names.CONFIG_ROLE),
        ("d", 0.9, 0.1, float("nan"), 0.50, float("nan"), None),
    ]
    return _frame(
        [
            {
                "run_id": run_id,
                "model": "Dense",
                "status": "FINISHED",
                "params.optimizer.lr": {"a": "0.1", "b": "0.01", "c": "0.001"}.get(run_id, "1"),
                "val_acc": acc,
                "val_loss": loss,
                "start_time": 0,
                "test_acc": test,
                "test_f1": test / 2,
                f"metrics.{names.VAL_ACC_STD}": acc_std,
                f"metrics.{names.TEST_ACC_STD}": test_std,
                role: tag,
            }
            for run_id, acc, loss, acc_std, test, test_std, tag in rows
        ]
    )


def test_configuration_table_is_in_best_runs_order():
    """The configurations are ranked by the one ranking: a tie on mean validation accuracy
    goes to the lower mean validation loss, as best_run breaks it."""
    runs = _configuration_runs()
    configs = configuration_table(runs, ["optimizer.lr"])
    candidates = runs[runs[f"tags.{names.ROLE_TAG}"] == names.CONFIG_ROLE]
    ranked = rank_runs(candidates, acc="val_acc", loss="val_loss")
    assert list(configs["run_id"]) == list(ranked["run_id"]) == ["c", "b", "a"]
    assert configs["run_id"].iloc[0] == best_run(candidates, "val_acc", "val_loss")["run_id"]
    assert list(configs["rank"]) == [1, 2, 3]
    b = configs.set_index("run_id").loc["b"]
    assert (b["val_acc_mean"], b["val_acc_std"]) == (0.5, 0.03)
    assert (b["test_acc_mean"], b["test_acc_std"]) == (0.45, 0.01)
    assert np.isnan(b["test_f1_std"])  # not logged: the mean alone is shown
    shown = mean_std_text(configs).set_index("run_id")
    assert shown.loc["b", "val_acc"] == "0.500 ± 0.030"
    assert shown.loc["b", "test_acc"] == "0.450 ± 0.010"
    assert shown.loc["b", "test_f1"] == "0.225"
    assert shown.loc["c", "test_acc"] == "0.300"


def test_ties_with_the_chosen_run_are_named():
    from genreclf.reports.comparison import tie_blocks

    done = pd.DataFrame({"run_id": ["a" * 32, "b" * 32, "c" * 32], "val_acc": [0.5, 0.5, 0.4]})
    (block,) = tie_blocks(done, "a" * 32)
    assert "bbbbbbbb" in block.value and "cccccccc" not in block.value
    assert tie_blocks(done, "c" * 32) == []
