"""refit=train_val: fresh models on training + validation rows, scored once on test."""

from __future__ import annotations

import contextlib
import io

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient
from omegaconf import open_dict

from genreclf.cli import CONFIG_DIR
from genreclf.train import train


def run_train(tmp_path, shared_data, *overrides: str) -> dict:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "+preset=seed_dense",
                "split=kfold",
                "split.fold=0",  # refit refits one model: one fold, one seed
                f"data.path={shared_data / 'seed_features.csv'}",
                f"tracking.uri={uri}",
                "tracking.log_model=false",
                "tracking.log_artifacts=false",
                "trainer.enable_progress_bar=false",
                f"hydra.runtime.output_dir={tmp_path}",
                "model.hidden_size=16",
                "trainer.max_epochs=4",
                *overrides,
            ],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = train(cfg)
    return result | {"stdout": out.getvalue(), "uri": uri}


def test_refit_logs_an_ensemble_score_beside_the_usual_one(tmp_path, shared_data):
    result = run_train(tmp_path, shared_data, "refit=train_val", "refit.seeds=2")
    assert 0.0 <= result["refit_test_acc"] <= 1.0 and 0.0 <= result["refit_test_f1"] <= 1.0
    assert result["refit_seeds"] == 2
    # At most 4 epochs were run, scaled by (train + val) / train = 1 / 0.85 at most.
    assert 1 <= result["refit_epochs"] <= round(4 / 0.85)
    metrics = MlflowClient(tracking_uri=result["uri"]).get_run(result["run_id"]).data.metrics
    assert metrics["refit_test_acc"] == pytest.approx(result["refit_test_acc"])
    assert metrics["test_acc"] == pytest.approx(result["test_acc"])  # the usual score stays
    assert "refit on train + validation (2 seeds" in result["stdout"]


def test_no_refit_by_default(tmp_path, shared_data):
    result = run_train(tmp_path, shared_data, "trainer.max_epochs=1")
    assert not any(key.startswith("refit_") for key in result)
