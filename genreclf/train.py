"""Train one model: ``python -m genreclf.train [group=option ...] [key=value ...]``.

Composes ``conf/config.yaml``; every object is built from config with
``hydra.utils.instantiate``. Early stopping and checkpoint selection use the
validation split; the test split is scored once, with the best checkpoint. Reads like
lightning-hydra-template's ``train.py``: check, seed, build, fit, evaluate, log.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from genreclf.cli import hydra_app, print_result
from genreclf.config_checks import check_config
from genreclf.features.cache import PathsOptions
from genreclf.params import Options, Seed
from genreclf.sweeps import is_multirun, sweep_job
from genreclf.sweeps.options import SweepOptions
from genreclf.third_party import CallbackOptions, OptimizerOptions, TrainerOptions
from genreclf.tracking import names
from genreclf.tracking.options import RegistryOptions, TrackingOptions
from genreclf.tracking.run import tracked_run
from genreclf.tracking.selection import selection_metrics
from genreclf.tracking.store import check_store

log = logging.getLogger("genreclf.train")


class TrainOptions(Options):
    """``conf/config.yaml``'s own option."""

    seed: Seed = 42


#: Where each section of the training config is declared.
TRAIN_SECTIONS = {
    "": TrainOptions,
    "paths": PathsOptions,
    "tracking": TrackingOptions,
    "registry": RegistryOptions,
    "sweep": SweepOptions,
    "trainer": TrainerOptions,
    "optimizer": OptimizerOptions,
    "callbacks.*": CallbackOptions,
}
#: genreclf's groups in the training config.
TRAIN_GROUPS = (
    "data",
    "features",
    "extraction",
    "split",
    "transforms",
    "datamodule",
    "model",
    "classifier",
    "refit",
)


def check_train_config(cfg: DictConfig) -> None:
    """Every training option against its declaration, before any work."""
    check_config(cfg, TRAIN_SECTIONS, TRAIN_GROUPS)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Seed, build, fit, evaluate, log: one run of ``cfg``.

    Returns
    -------
    dict
        ``run_id``, ``val_acc`` and ``val_loss`` (of the selected checkpoint),
        ``test_acc``, ``test_f1``, the text ``report``, ``budget_runs``: the runs logged for
        other epoch budgets of a sweep (see :mod:`genreclf.sweeps.budgets`), and with
        ``refit=train_val`` the ``refit_*`` figures of :mod:`genreclf.refit`.
    """
    check_train_config(cfg)
    check_store(str(cfg.tracking.uri))
    # torch and Lightning load here, not at import: a bad option answers at once
    import pytorch_lightning as pl

    from genreclf.datamodule import build_datamodule
    from genreclf.features.build import cached_feature_table
    from genreclf.models.build import build_callbacks, build_classifier, model_choice
    from genreclf.models.evaluate import evaluate_selected
    from genreclf.models.run_logger import RunLogger
    from genreclf.reports.run_files import log_run_artifacts
    from genreclf.serving.publish import check_packaging, head_params, log_genre_model
    from genreclf.sweeps.budgets import shared_fit
    from genreclf.sweeps.selection import selected_checkpoint, selected_epoch

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    source, feature_set = instantiate(cfg.data), instantiate(cfg.features)
    check_packaging(cfg, feature_set, source)
    synthetic = bool(getattr(source, "synthetic", False))
    if synthetic:
        log.warning("data=synthetic: procedurally generated toy audio, NOT real music")
    table = cached_feature_table(cfg, source, feature_set)
    datamodule = build_datamodule(cfg, table)
    module = build_classifier(cfg, datamodule)

    tags = {names.SYNTHETIC_TAG: str(synthetic), names.MODEL_TAG: model_choice(cfg)}
    with tracked_run(cfg.tracking, tags) as writer:
        writer.log_params(OmegaConf.to_container(cfg, resolve=True))
        callbacks = build_callbacks(cfg)
        shared = shared_fit(cfg, callbacks, writer)  # a sweep's epoch budgets, else None
        trainer = instantiate(
            cfg.trainer,
            logger=RunLogger(writer),
            callbacks=callbacks,
            **(shared.trainer_kwargs if shared else {}),
        )
        trainer.fit(module, datamodule=datamodule)

        ckpt = selected_checkpoint(trainer)
        evaluate = functools.partial(evaluate_selected, trainer, module, datamodule, ckpt)
        if shared:
            result = shared.results(trainer, module, evaluate, tags)
        else:
            result = evaluate()
            writer.log_metrics(selection_metrics(result["val_acc"], result["val_loss"]))
        if cfg.get("refit"):
            epochs = selected_epoch(trainer) + 1
            result |= instantiate(cfg.refit)(cfg=cfg, datamodule=datamodule, selected_epochs=epochs)
            writer.log_metrics(
                {k: v for k, v in result.items() if k.startswith(names.REFIT_PREFIX)}
            )

        writer.flush()  # artifacts read the run's metrics back
        if cfg.tracking.log_artifacts:
            log_run_artifacts(writer.store, writer.run_id, cfg, result, datamodule, table)
        if cfg.tracking.log_model:
            result["model_uri"] = log_genre_model(
                writer.store,
                writer.run_id,
                head=module.head,
                head_params=head_params(cfg),
                datamodule=datamodule,
                feature_set=feature_set,
                source=source,
                registry_name=OmegaConf.select(cfg, "registry.name"),
                registry_alias=OmegaConf.select(cfg, "registry.alias"),
            )

    if not is_multirun():  # a sweep job prints one line (genreclf.sweeps.progress)
        print_result(cfg, writer.run_id, result)
    return {
        "run_id": writer.run_id,
        "budget_runs": result.get("budget_runs", []),
        **{k: result[k] for k in ("val_acc", "val_loss", "test_acc", "test_f1", "report")},
        **{k: v for k, v in result.items() if k.startswith("refit_")},
    }


def _task(cfg: DictConfig) -> float:
    """Hydra task: train, and return the selected model's validation accuracy (for sweepers)."""
    if is_multirun():
        return sweep_job(cfg, train)
    return train(cfg)["val_acc"]


main = hydra_app(_task, "config")
"""Entry point of ``python -m genreclf.train``."""


if __name__ == "__main__":
    main()
