"""Train one model: ``python -m genreclf.train [group=option ...] [key=value ...]``.

Composes ``conf/config.yaml``; every object is built from config with
``hydra.utils.instantiate``. Early stopping and checkpoint selection use the
validation split; the test split is scored once, with the best checkpoint.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from genreclf.cli import hydra_app
from genreclf.config_checks import ConfigError, check_train_config

log = logging.getLogger("genreclf.train")

#: This process's feature table, by its data/features/extraction config (sweep jobs
#: in one worker share it).
_TABLES: dict[str, Any] = {}


def _cached_table(cfg: DictConfig, build: Any) -> Any:
    """``build()``, memoized by the resolved ``data``, ``features`` and ``extraction``."""
    key = OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, ["data", "features", "extraction"]))
    if key not in _TABLES:
        _TABLES.clear()
        _TABLES[key] = build()
    return _TABLES[key]


def evaluate_selected(
    trainer: Any, module: Any, datamodule: Any, ckpt_path: str | None
) -> dict[str, Any]:
    """Score the selected model once on validation and once on test.

    Returns ``val_acc``, ``test_acc``, ``test_f1``, the per-genre text ``report``, and
    the test tracks' ``y_true`` and ``y_pred`` (encoded labels).
    """
    from sklearn.metrics import classification_report

    best = {"datamodule": datamodule, "ckpt_path": ckpt_path, "verbose": False}
    val_acc = trainer.validate(module, **best)[0]["val_acc"]
    test = trainer.test(module, **best)[0]
    probs, y_true = module.test_predictions
    y_true, y_pred = y_true.numpy(), probs.argmax(dim=1).numpy()
    report = classification_report(
        y_true,
        y_pred,
        labels=range(datamodule.num_classes),
        target_names=datamodule.class_names,
        digits=2,
        zero_division=0,
    )
    return {
        "val_acc": val_acc,
        "test_acc": test["test_acc"],
        "test_f1": test["test_f1"],
        "report": report,
        "y_true": y_true,
        "y_pred": y_pred,
    }


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run the whole path: features, datamodule, model, fit, test, MLflow.

    Returns
    -------
    dict
        ``run_id``, ``val_acc`` (of the selected checkpoint), ``test_acc``,
        ``test_f1``, the text ``report``, ``budget_runs``: the runs logged for
        other epoch budgets of a sweep (see :mod:`genreclf.sweeps.budgets`), and with
        ``refit=train_val`` the ``refit_*`` figures of :mod:`genreclf.refit`.
    """
    check_train_config(cfg)
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from genreclf.datamodule import build_datamodule
    from genreclf.features.build import build_feature_table
    from genreclf.models.build import build_classifier
    from genreclf.sweeps.budgets import epoch_budgets, log_budget_runs
    from genreclf.sweeps.selection import BestWeights, selected_checkpoint, selected_epoch
    from genreclf.tracking import flatten_params
    from genreclf.tracking.artifacts import log_run_artifacts
    from genreclf.tracking.model import log_genre_model
    from genreclf.tracking.run import tracked_run

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    source = instantiate(cfg.data)
    if getattr(source, "synthetic", False):
        log.warning("data=synthetic: procedurally generated toy audio, NOT real music")
    table = _cached_table(
        cfg,
        lambda: build_feature_table(source, instantiate(cfg.features), instantiate(cfg.extraction)),
    )
    datamodule = build_datamodule(cfg, table)
    module = build_classifier(cfg, datamodule)

    tags = {"genreclf.synthetic_data": str(bool(getattr(source, "synthetic", False)))}
    with tracked_run(cfg.tracking, tags) as logger:
        client, run_id = logger.experiment, logger.run_id
        logger.log_hyperparams(flatten_params(OmegaConf.to_container(cfg, resolve=True)))
        callbacks = [instantiate(c) for c in cfg.callbacks.values()]
        budgets = epoch_budgets(cfg)
        if budgets:  # one fit to the largest budget answers them all
            selection = next(c for c in callbacks if isinstance(c, BestWeights))
            selection.milestones = tuple(budgets)
            logger.flush_every_s = math.inf  # the job's own run gets its epochs only
            trainer = instantiate(
                cfg.trainer, logger=logger, callbacks=callbacks, max_epochs=budgets[-1]
            )
        else:
            trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
        trainer.fit(module, datamodule=datamodule)
        ckpt = selected_checkpoint(trainer)

        def evaluate() -> dict[str, Any]:
            return evaluate_selected(trainer, module, datamodule, ckpt)

        if budgets:
            result = log_budget_runs(
                cfg, budgets, selection, trainer, module, logger, evaluate, tags
            )
        else:
            result = evaluate()
            logger.log_metrics({"best_val_acc": result["val_acc"]})
        report, y_true, y_pred = result["report"], result["y_true"], result["y_pred"]
        if cfg.get("refit"):
            epochs = selected_epoch(trainer) + 1
            result |= instantiate(cfg.refit)(cfg=cfg, datamodule=datamodule, selected_epochs=epochs)
            logger.log_metrics({k: v for k, v in result.items() if k.startswith("refit_")})
        logger.flush()  # artifacts and model read the run's metrics back
        if cfg.tracking.log_artifacts:
            log_run_artifacts(
                client,
                run_id,
                cfg,
                report,
                y_true,
                y_pred,
                datamodule.class_names,
                table.skipped,
            )
        if cfg.tracking.log_model:
            model_uri = log_genre_model(
                run_id,
                module.head,
                datamodule,
                cfg.features,
                source,
                registry_name=OmegaConf.select(cfg, "registry.name"),
                registry_alias=OmegaConf.select(cfg, "registry.alias"),
            )
            print(f"Model: {model_uri}")

    print(f"\nClassification report (test split, {len(y_true)} tracks):\n{report}")
    print(f"test accuracy: {result['test_acc']:.3f}   macro-F1: {result['test_f1']:.3f}")
    if "refit_test_acc" in result:
        print(
            f"refit on train + validation ({result['refit_seeds']:.0f} seeds, "
            f"{result['refit_epochs']:.0f} epochs): test accuracy {result['refit_test_acc']:.3f}"
            f"   macro-F1: {result['refit_test_f1']:.3f}"
        )
    print(f"MLflow run: {run_id}  (experiment '{cfg.tracking.experiment}')")
    print(f"Browse runs: mlflow ui --backend-store-uri {cfg.tracking.uri}")
    return {
        "run_id": run_id,
        "budget_runs": result.get("budget_runs", []),
        **{k: result[k] for k in ("val_acc", "test_acc", "test_f1", "report")},
        **{k: v for k, v in result.items() if k.startswith("refit_")},
    }


def _task(cfg: DictConfig) -> float:
    """Hydra task: train, and return the selected model's validation accuracy (for sweepers)."""
    from genreclf.sweeps import is_multirun, sweep_job

    if is_multirun():
        return sweep_job(cfg, train)
    return train(cfg)["val_acc"]


main = hydra_app(_task, "config", (ConfigError, FileNotFoundError))
"""Entry point of ``python -m genreclf.train``."""


if __name__ == "__main__":
    main()
