"""The ``+preset=`` presets compose, and ``split=seed`` is the original's test set."""

from __future__ import annotations

from collections import Counter

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from genreclf.cli import CONFIG_DIR

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "preset").glob("*.yaml"))

#: Test-set support per genre in the original project's classification report
#: (../shared/seed/report.txt): 200 tracks of train_test_split(test_size=0.2, random_state=42).
ORIGINAL_TEST_SUPPORT = {
    "blues": 21,
    "classical": 12,
    "country": 24,
    "disco": 22,
    "hiphop": 15,
    "jazz": 27,
    "metal": 18,
    "pop": 19,
    "reggae": 22,
    "rock": 20,
}


def compose_experiment(name: str, *overrides: str):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+preset={name}", *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_presets_exist():
    assert {"seed_lstm", "seed_dense", "seed_rnn_cv"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_preset_composes_and_builds(name):
    cfg = compose_experiment(name)
    assert cfg.data._target_ == "genreclf.data.sources.TableSource"
    assert cfg.data.path.endswith("seed_features.csv")
    for group in ("split", "transforms", "optimizer"):
        assert instantiate(cfg[group]) is not None
    head = instantiate(cfg.model)(input_shape=(174,), num_classes=10)
    assert head is not None
    assert cfg.callbacks.early_stopping.monitor == "val_loss"


def test_seed_lstm_is_the_originals_setting():
    cfg = compose_experiment("seed_lstm")
    assert cfg.split._target_ == "genreclf.split.SeedSplit"
    assert (cfg.split.test_size, cfg.split.random_state) == (0.2, 42)
    assert cfg.model._target_ == "genreclf.models.heads.LSTMHead"
    assert (cfg.model.hidden_size, cfg.model.num_layers, cfg.model.dropout) == (256, 2, 0.3)
    assert cfg.optimizer.lr == 0.0005
    assert cfg.callbacks.early_stopping.patience == 10


def test_seed_dense_splits_as_asked():
    """The preset's split=seed by default; a command-line split= replaces it, the rest stays."""
    targets = {(): "SeedSplit", ("split=kfold",): "KFoldSplit", ("split=files",): "FileListSplit"}
    for overrides, split in targets.items():
        cfg = compose_experiment("seed_dense", *overrides)
        assert cfg.split._target_ == f"genreclf.split.{split}"
        assert (cfg.model.hidden_size, cfg.callbacks.early_stopping.patience) == (256, 20)


def test_seed_split_test_support_is_the_original_reports(shared_data):
    cfg = compose_experiment("seed_lstm", f"data.path={shared_data / 'seed_features.csv'}")
    frame = instantiate(cfg.data).frame()
    labels, tracks = frame["label"].to_numpy(str), frame["filename"].to_numpy(str)
    train, val, test = instantiate(cfg.split)(labels, tracks)
    assert (len(train) + len(val), len(test)) == (799, 200)
    assert Counter(labels[test].tolist()) == ORIGINAL_TEST_SUPPORT
