"""A configuration across folds and seeds (genreclf.protocol): members, summary, pooling."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient
from omegaconf import OmegaConf, open_dict

from genreclf.core.errors import ConfigError
from genreclf.protocol import (
    Member,
    MemberResult,
    bootstrap_interval,
    checked_members,
    member_config,
    members,
    pooled_predictions,
    run_configuration,
    summarize,
)
from genreclf.tracking import names
from genreclf.tracking.run import tracked_run
from genreclf.train import check_train_config
from tests.paths import ROOT

GENRES = ["blues", "jazz", "rock"]


def compose_train(*overrides: str):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def compose_job(tmp_path, *overrides: str):
    """The config of a training job, with Hydra's runtime set as in a real job."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[*overrides, f"hydra.runtime.output_dir={tmp_path}"],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def result(fold: int, seed: int, correct: list[bool], val_acc: float, **kw) -> MemberResult:
    """A member whose test tracks are ``t<fold>-<i>``, right where ``correct`` says so."""
    n = len(correct)
    y_true = np.arange(n) % len(GENRES)
    predicted = np.where(correct, y_true, (y_true + 1) % len(GENRES))
    probs = np.full((n, len(GENRES)), 0.1)
    probs[np.arange(n), predicted] = 0.8
    return MemberResult(
        fold=fold,
        seed=seed,
        run_id=kw.get("run_id", f"r{fold}{seed}"),
        start_time=kw.get("start_time", 0.0),
        val_acc=val_acc,
        val_loss=kw.get("val_loss", 1.0),
        test_acc=float(np.mean(correct)),
        test_f1=kw.get("test_f1", 0.5),
        tracks=np.array([f"t{fold}-{i}" for i in range(n)]),
        y_true=y_true,
        probs=probs,
    )


# ------------------------------------------------------------------------------- members
def test_kfold_without_fold_is_every_fold_times_every_seed():
    cfg = compose_train("split=kfold", "split.n_splits=3", "repeats=2", "seed=7")
    assert cfg.split.fold is None
    assert members(cfg) == [Member(f, s) for f in range(3) for s in (7, 8)]


def test_one_fold_and_one_seed_is_one_member():
    assert members(compose_train("split=kfold", "split.fold=2")) == [Member(2, 42)]
    assert members(compose_train()) == [Member(0, 42)]  # holdout: one split, numbered 0


def test_repeats_of_a_single_split():
    assert members(compose_train("split=holdout", "repeats=3")) == [
        Member(0, 42),
        Member(0, 43),
        Member(0, 44),
    ]


def test_refit_of_several_members_is_refused():
    cfg = compose_train("split=kfold", "refit=train_val")
    with pytest.raises(ConfigError, match="^refit: .*5 \\(folds x repeats\\)"):
        checked_members(cfg)
    assert len(checked_members(compose_train("split=kfold", "split.fold=0", "refit=train_val")))


@pytest.mark.parametrize("value", [0, -1, 1.5, "two"])
def test_repeats_is_declared_once(value):
    cfg = compose_train()
    with open_dict(cfg):
        cfg.repeats = value
        cfg.data.root = str(ROOT)
    with pytest.raises(ConfigError, match=f"^repeats={value}"):
        check_train_config(cfg)


def test_member_config_sets_its_fold_and_seed_only():
    config = check_train_config(compose_train("split=kfold", "repeats=2"))
    child = member_config(config, Member(3, 43), "cfg")
    assert (child.split.params["fold"], child.seed, child.datamodule.params["seed"]) == (3, 43, 43)
    assert child.tracking["run_name"] == "cfg fold3 seed43"
    assert config.split.params["fold"] is None and config.seed == 42  # frozen, unchanged
    holdout = member_config(check_train_config(compose_train()), Member(0, 45))
    assert "fold" not in holdout.split.params and holdout.seed == 45


# ------------------------------------------------------------------------------ summary
def test_summary_is_mean_and_sample_std_over_members():
    runs = [
        result(0, 42, [True, True, False, False], val_acc=0.6, test_f1=0.4),
        result(1, 42, [True, True, True, False], val_acc=0.8, test_f1=0.6),
        result(2, 42, [True, True, True, True], val_acc=0.7, test_f1=0.8),
    ]
    summary = summarize(runs)
    assert summary[names.VAL_ACC_MEAN] == pytest.approx(0.7)
    assert summary[names.VAL_ACC_STD] == pytest.approx(0.1)  # ddof=1
    assert summary[names.TEST_ACC_MEAN] == pytest.approx(0.75)
    assert summary[names.TEST_ACC_STD] == pytest.approx(0.25)
    assert summary[names.TEST_F1_MEAN] == pytest.approx(0.6)
    low, high = summary[names.TEST_ACC_CI_LOW], summary[names.TEST_ACC_CI_HIGH]
    assert 0.0 <= low < 9 / 12 < high <= 1.0  # around the pooled accuracy, 9 of 12
    assert summarize(runs) == summary  # a fixed resampling seed


def test_bootstrap_interval_of_an_accuracy():
    correct = np.arange(400) % 5 != 0  # 80 % right
    low, high = bootstrap_interval(correct)
    half = 1.96 * math.sqrt(0.8 * 0.2 / 400)  # the normal approximation's half width
    assert low == pytest.approx(0.8 - half, abs=0.01)
    assert high == pytest.approx(0.8 + half, abs=0.01)
    assert bootstrap_interval(correct) == (low, high)
    assert bootstrap_interval(np.ones(50, bool)) == (1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_interval(np.ones(1, bool)))


def test_pooled_predictions_have_one_row_per_member_and_track():
    runs = [result(0, 42, [True, False], 0.5), result(1, 43, [False, True, True], 0.5)]
    frame = pooled_predictions(runs, GENRES)
    assert list(frame.columns) == ["track", "fold", "seed", "true_genre", *GENRES]
    assert frame["track"].tolist() == ["t0-0", "t0-1", "t1-0", "t1-1", "t1-2"]
    assert frame["fold"].tolist() == [0, 0, 1, 1, 1]
    assert frame["seed"].tolist() == [42, 42, 43, 43, 43]
    assert frame["true_genre"].tolist() == ["blues", "jazz", "blues", "jazz", "rock"]
    np.testing.assert_allclose(frame[GENRES].to_numpy(), np.vstack([r.probs for r in runs]))
    right = frame[GENRES].to_numpy().argmax(axis=1) == [GENRES.index(g) for g in frame.true_genre]
    assert right.tolist() == [True, False, False, True, True]


# ----------------------------------------------------------- runs in a real SQLite store
def test_configuration_run_holds_its_children_and_summary(tmp_path):
    """run_configuration with a fit that returns fixed scores: runs, tags, metrics, files."""
    cfg = compose_job(
        tmp_path,
        "split=kfold",
        "split.n_splits=2",
        "repeats=2",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        "tracking.run_name=cfg",
    )
    config = check_train_config(cfg)
    scores = {(0, 42): 0.5, (0, 43): 0.9, (1, 42): 0.7, (1, 43): 0.9}
    losses = {(0, 42): 0.5, (0, 43): 0.4, (1, 42): 0.3, (1, 43): 0.2}
    fitted = []

    def fit(member, writer):
        key = (member.split.params["fold"], member.seed)
        fitted.append(key)
        writer.log_metrics({names.BEST_VAL_ACC: scores[key]})
        one = result(key[0], key[1], [True, key[1] == 42, False], scores[key])
        return {
            "val_acc": scores[key],
            "val_loss": losses[key],
            "test_acc": one.test_acc,
            "test_f1": 0.5,
            "tracks": one.tracks,
            "y_true": one.y_true,
            "probs": one.probs,
            "datamodule": SimpleNamespace(class_names=GENRES, indices={"test": [key[0]]}),
            "module": key,
        }

    logged = []
    with tracked_run(cfg.tracking, {names.ROLE_TAG: names.CONFIG_ROLE}) as writer:
        out = run_configuration(
            config, fit, writer, {names.MODEL_TAG: "dense"}, lambda w, p: logged.append(p)
        )
    assert fitted == list(scores)  # fold by fold, each seed
    assert out.scores["val_acc"] == pytest.approx(0.75) and out.members == 4
    assert (out.folds, out.seeds) == (2, 2)
    assert out.module == (1, 43)  # a tie on val_acc goes to the lower loss
    assert logged == [{0: {"test": [0]}, 1: {"test": [1]}}]  # each fold's parts, once
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get(names.ROLE_TAG) == names.CONFIG_ROLE]
    children = [r for r in runs if r is not parent]
    assert len(children) == 4
    for child in children:
        tags = child.data.tags
        assert tags[names.ROLE_TAG] == names.MEMBER_ROLE and tags[names.MODEL_TAG] == "dense"
        assert tags[names.PARENT_RUN_TAG] == parent.info.run_id
        key = (int(tags[names.FOLD_TAG]), int(tags[names.SEED_TAG]))
        assert child.info.run_name == f"cfg fold{key[0]} seed{key[1]}"
        assert child.data.params["split.fold"] == str(key[0])
        assert child.data.metrics[names.BEST_VAL_ACC] == scores[key]
    metrics = parent.data.metrics
    assert metrics[names.VAL_ACC_MEAN] == metrics[names.BEST_VAL_ACC] == pytest.approx(0.75)
    assert metrics[names.BEST_VAL_LOSS] == pytest.approx(0.35)
    assert metrics[names.TEST_ACC_MEAN] == metrics[names.TEST_ACC] == pytest.approx(0.5)
    assert metrics[names.TEST_ACC_CI_LOW] <= 0.5 <= metrics[names.TEST_ACC_CI_HIGH]
    local = client.download_artifacts(parent.info.run_id, names.PREDICTIONS_ARTIFACT, str(tmp_path))
    import pandas as pd

    frame = pd.read_parquet(local)
    assert len(frame) == 12 and frame.groupby(["fold", "seed"]).size().tolist() == [3] * 4
    assert OmegaConf.select(cfg, "split.fold") is None
