"""Train one model: ``python -m genreclf.train [group=option ...] [key=value ...]``.

Composes ``conf/config.yaml``, checks it once into a typed ``RunConfig``
(:func:`genreclf.config.checks.check_train_config`) and builds every object from its
sections (:mod:`genreclf.build`). Early stopping and checkpoint selection use the
validation split; the test split is scored once, with the best checkpoint. Reads like
lightning-hydra-template's ``train.py``: check, seed, build, fit, evaluate, log; every
fold and seed of the config (:mod:`genreclf.protocol`) is seeded, built, fitted and
evaluated by :func:`fit_and_evaluate`.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from omegaconf import DictConfig

from genreclf import build
from genreclf.cli import hydra_app, print_result
from genreclf.config.checks import check_train_config
from genreclf.config.runconfig import ARTIFACT, RunConfig
from genreclf.protocol import checked_members, run_configuration
from genreclf.sweeps import is_multirun, sweep_job
from genreclf.sweeps.hashing import config_hash
from genreclf.tracking import names
from genreclf.tracking.datasets import log_folds, log_split
from genreclf.tracking.run import tracked_run
from genreclf.tracking.selection import selection_metrics
from genreclf.tracking.store import check_store

log = logging.getLogger("genreclf.train")

__all__ = ["check_train_config", "fit_and_evaluate", "main", "train"]


def train(cfg: DictConfig, choices: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check ``cfg`` once, then train its typed configuration (:func:`train_config`).

    ``choices``: its group choices, when they are not the running Hydra app's (a rerun).
    """
    return train_config(check_train_config(cfg, choices))


def train_config(config: RunConfig) -> dict[str, Any]:
    """Build the data, then fit and evaluate each fold and seed of ``config``; log.

    One fold and one seed (the default) is one run. More (``split=kfold`` without
    ``split.fold``, ``repeats=N``) is a configuration run with one child run each; see
    :mod:`genreclf.protocol`. The run logs ``config`` whole (``run_config.json``).

    Returns
    -------
    dict
        ``run_id``, ``val_acc`` and ``val_loss`` (of the selected checkpoint; a
        configuration's means), ``test_acc``, ``test_f1`` (means), the text ``report``,
        ``budget_runs``: the runs logged for other epoch budgets of a sweep (see
        :mod:`genreclf.sweeps.budgets`), with ``refit=train_val`` the ``refit_*`` figures
        of :mod:`genreclf.refit`, and for a configuration its summary (``*_mean``,
        ``*_std``, ``test_acc_ci_*``).
    """
    if not is_multirun():  # a sweep's job has opened its run (or spooled it) already
        check_store(str(config.tracking["uri"]))
    plan = checked_members(config)
    # torch and Lightning load here, not at import: a bad option answers at once
    from genreclf.features.build import cached_feature_table
    from genreclf.models.build import model_choice
    from genreclf.reports.run_files import log_run_artifacts
    from genreclf.serving.publish import check_packaging

    cfg = config.dictconfig()  # for what reads the config as a whole (hash, config.yaml)
    source, feature_set = build.data_source(config), build.feature_set(config)
    check_packaging(config, feature_set, source)
    synthetic = bool(getattr(source, "synthetic", False))
    if synthetic:
        log.warning("data=synthetic: procedurally generated toy audio, NOT real music")
    key = json.dumps([config.data.node(), config.features.node(), config.extraction.node()])
    table = cached_feature_table(key, source, feature_set, lambda: build.extractor(config))

    tags = {names.SYNTHETIC_TAG: str(synthetic), names.MODEL_TAG: model_choice(cfg)}
    if not hasattr(source, "frame"):  # features extracted from audio (not a table's)
        tags[names.FEATURES_TAG] = feature_set.describe()
    run_tags = tags | ({names.ROLE_TAG: names.CONFIG_ROLE} if len(plan) > 1 else {})

    def log_parts(writer: Any, parts: dict[int, dict[str, Any]]) -> None:
        log_folds(writer, cfg.data, synthetic, table, parts)

    with tracked_run(config.tracking, run_tags, config_digest=config_hash(cfg)) as writer:
        writer.log_config(config.to_container())
        writer.log_text(config.to_json(), ARTIFACT)
        fit = functools.partial(fit_and_evaluate, table=table, tags=tags)
        outcome = run_configuration(config, fit, writer, tags, log_parts)
        writer.flush()  # artifacts read the run's metrics back
        if config.tracking.get("log_artifacts"):
            log_run_artifacts(writer, cfg, outcome, table)
        model_uri = _log_model(writer, config, outcome, feature_set, source)

    if not is_multirun():  # a sweep job prints one line (genreclf.sweeps.progress)
        print_result(config, writer.run_id, outcome, model_uri)
    return {
        "run_id": writer.run_id,
        "budget_runs": list(outcome.budget_runs),
        "report": outcome.report,
        **outcome.scores,
    }


def _log_model(
    writer: Any, config: RunConfig, outcome: Any, feature_set: Any, source: Any
) -> str | None:
    """Log the run's model package (``tracking.log_model``); its URI, or ``None``."""
    from genreclf.serving.publish import log_genre_model

    if not config.tracking.get("log_model"):
        return None
    return log_genre_model(
        writer.store,
        writer.run_id,
        head=outcome.module.head,
        head_params=config.model.params,
        datamodule=outcome.datamodule,
        feature_set=feature_set,
        source=source,
        registry_name=config.registry.get("name"),
        registry_alias=config.registry.get("alias"),
        writer=writer,
    )


def fit_and_evaluate(
    config: RunConfig, writer: Any, table: Any, tags: dict[str, str]
) -> dict[str, Any]:
    """Seed, split, build, fit and evaluate one fold and seed of ``config``, logged to ``writer``.

    Returns :func:`~genreclf.models.evaluate.evaluate_selected`'s result (or a sweep's
    :class:`~genreclf.sweeps.budgets.SharedFit` result, and ``refit_*`` figures), with the
    fitted ``module`` and its ``datamodule``.
    """
    import pytorch_lightning as pl

    from genreclf.models.evaluate import evaluate_selected
    from genreclf.models.run_logger import RunLogger, hit_max_epochs
    from genreclf.refit import refit_on_train_val
    from genreclf.sweeps.budgets import shared_fit
    from genreclf.sweeps.pruning import pruning_callback, stop_if_pruned
    from genreclf.sweeps.selection import selected_checkpoint, selected_epoch

    cfg = config.dictconfig()
    pl.seed_everything(config.seed, workers=True, verbose=False)
    datamodule = build.datamodule(config, table)  # set up: its split is the run's data set
    synthetic = tags.get(names.SYNTHETIC_TAG) == "True"
    log_split(writer, cfg.data, synthetic, table, datamodule.indices)
    module = build.classifier(config, datamodule)
    callbacks = build.callbacks(config)
    shared = shared_fit(cfg, callbacks, writer)  # a sweep's epoch budgets, else None
    pruning = pruning_callback()  # a pruned sweep's trial, else None
    callbacks += [pruning] if pruning else []
    trainer = build.trainer(
        config,
        logger=RunLogger(writer),
        callbacks=callbacks,
        **(shared.trainer_kwargs if shared else {}),
    )
    trainer.fit(module, datamodule=datamodule)
    writer.log_tags({names.HIT_MAX_EPOCHS_TAG: str(hit_max_epochs(trainer)).lower()})
    stop_if_pruned(pruning, writer)  # a pruned fit is neither selected nor tested

    ckpt = selected_checkpoint(trainer)
    evaluate = functools.partial(evaluate_selected, trainer, module, datamodule, ckpt)
    if shared:
        result = shared.results(trainer, module, evaluate, tags)
    else:
        result = evaluate()
        writer.log_metrics(selection_metrics(result["val_acc"], result["val_loss"]))
    if config.refit is not None:
        epochs = selected_epoch(trainer) + 1
        result |= refit_on_train_val(config, datamodule, epochs, **config.refit.params)
        writer.log_metrics({k: v for k, v in result.items() if k.startswith(names.REFIT_PREFIX)})
    return result | {"module": module, "datamodule": datamodule}


def _task(cfg: DictConfig) -> float:
    """Hydra task: train, and return the selected model's validation accuracy (for sweepers).

    ``from_run=<run>`` first composes that run's logged configuration again, with this
    command line's overrides on top (:func:`genreclf.rerun.rerun_config`).
    """
    run = train
    if cfg.get("from_run"):
        from genreclf.rerun import rerun_config

        cfg, choices = rerun_config(cfg)
        run = functools.partial(train, choices=choices)
    if is_multirun():
        return sweep_job(cfg, run)
    return run(cfg)["val_acc"]


main = hydra_app(_task, "config")
"""Entry point of ``python -m genreclf.train``."""


if __name__ == "__main__":
    main()
