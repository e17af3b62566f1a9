"""``train`` runs end to end for every feature set, with a head that fits it."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient
from omegaconf import open_dict

from genreclf.cli import CONFIG_DIR
from genreclf.train import train
from tests.e2e import TINY_DATA

# (feature set, head): frame-level sets go to the heads that read time.
CASES = [
    ("seed174", "rnn"),
    ("summary", "cnn"),
    ("logmel_segments", "cnn"),
    ("mfcc_segments", "rnn"),
]


@pytest.mark.parametrize(("features", "model"), CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_train_each_feature_set(features, model, tmp_path, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "cache"
    overrides = [
        *TINY_DATA,
        f"features={features}",
        f"model={model}",
        "model.hidden_size=16",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        f"paths.cache_dir={cache}",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        "tracking.log_model=false",
        "tracking.log_artifacts=false",
        f"hydra.runtime.output_dir={tmp_path}",
    ]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):  # a Hydra app's task sees no `hydra` node
        del cfg["hydra"]
    result = train(cfg)
    run = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["features"] == features  # the group choice, not `_target_`
    assert not [key for key in run.data.params if "_target_" in key]
    assert run.data.metrics["test_acc"] == pytest.approx(result["test_acc"])
    assert "macro avg" in result["report"]
