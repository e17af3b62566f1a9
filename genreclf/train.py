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


def _png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import io

    from matplotlib import pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def log_run_artifacts(
    store: Any, run_id: str, cfg: DictConfig, result: dict[str, Any], datamodule: Any, table: Any
) -> None:
    """Log the resolved config, classification report, confusion matrix, curves and manifest."""
    from genreclf.reports.figures import confusion_matrix_figure, curves_figure
    from genreclf.tracking import names
    from genreclf.tracking.artifacts import log_run_files
    from genreclf.tracking.history import epoch_curves

    matrix = confusion_matrix_figure(result["y_true"], result["y_pred"], datamodule.class_names)
    files = {
        names.CONFIG_ARTIFACT: OmegaConf.to_yaml(cfg, resolve=True),
        names.REPORT_ARTIFACT: result["report"],
        names.SKIPPED_ARTIFACT: table.skipped.to_csv(index=False),
        names.CONFUSION_ARTIFACT: _png(matrix),
        names.CURVES_ARTIFACT: _png(curves_figure(epoch_curves(store, run_id))),
    }
    log_run_files(store, run_id, files)


def head_params(cfg: DictConfig) -> dict[str, Any]:
    """The ``model`` group's parameters (without Hydra's ``_target_`` and ``_partial_``)."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    return {k: v for k, v in model.items() if not str(k).startswith("_")}


def check_packaging(cfg: DictConfig, feature_set: Any, source: Any) -> None:
    """Refuse, before any work, a run whose model could not be saved as a data package."""
    from hydra.utils import get_class

    from genreclf.features.sets import FEATURE_SETS
    from genreclf.models.heads import HEADS
    from genreclf.registry import RegistryError
    from genreclf.tracking.models import check_registry_name
    from genreclf.transforms import TransformExportError, check_exportable

    check_registry_name(
        OmegaConf.select(cfg, "registry.name"), OmegaConf.select(cfg, "registry.alias")
    )
    if not cfg.tracking.log_model:
        return
    try:
        HEADS.name_of(get_class(cfg.model._target_))
        if not hasattr(source, "frame"):
            FEATURE_SETS.name_of(type(feature_set))
        check_exportable(instantiate_transforms(cfg))
    except (RegistryError, TransformExportError) as exc:
        raise ConfigError(f"{exc} (or set tracking.log_model=false)") from exc


def instantiate_transforms(cfg: DictConfig) -> Any:
    """The run's unfitted transform (``transforms`` group), or ``None``."""
    from hydra.utils import instantiate

    return None if cfg.get("transforms") is None else instantiate(cfg.transforms)


def log_genre_model(
    store: Any,
    run_id: str,
    *,
    head: Any,
    head_params: dict[str, Any],
    datamodule: Any,
    feature_set: Any,
    source: Any,
    registry_name: str | None = None,
    registry_alias: str | None = None,
) -> str:
    """Save a trained head as a model package and log it as the run's ``model``.

    Parameters
    ----------
    store : Store
    run_id : str
    head : torch.nn.Module
        A registered head (``HEADS``), trained.
    head_params : dict
        Its ``model`` parameters (see :func:`head_params`).
    datamodule : GenreDataModule
        Set up: its fitted ``transform``, ``class_names``, ``input_shape``, ``table``.
    feature_set : FeatureSet
        The run's feature set (for audio sources).
    source : object
        The run's data source.
    registry_name, registry_alias : str, optional
        Register the model under this name and point this alias at it.

    Returns
    -------
    str
        ``runs:/<run_id>/model``, or ``models:/<name>/<version>`` if registered.
    """
    import tempfile
    from pathlib import Path

    from genreclf.inference.package import flavor, save_model
    from genreclf.inference.spec import model_spec
    from genreclf.models.heads import HEADS
    from genreclf.serving.pyfunc import model_code_file
    from genreclf.tracking.models import log_model

    spec = model_spec(
        feature_set=feature_set,
        source=source,
        columns=list(datamodule.table.columns),
        class_names=datamodule.class_names,
        input_shape=datamodule.input_shape,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_model(
            Path(tmp) / "model",
            head=head,
            head_name=HEADS.name_of(type(head)),
            head_params=head_params,
            transform=datamodule.transform,
            spec=spec,
        )
        uri = log_model(
            store,
            run_id,
            folder,
            flavor(),
            registry_name,
            registry_alias,
            class_names=list(datamodule.class_names),
            pyfunc_code=model_code_file(),
        )
    if spec["features"] is None:
        log.warning(
            "the logged model cannot classify audio: %s; predict needs the table's recipe",
            spec["recipe_note"],
        )
    return uri


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
    from genreclf.tracking.store import check_store

    check_store(str(cfg.tracking.uri))
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from genreclf.datamodule import build_datamodule
    from genreclf.features.build import build_feature_table
    from genreclf.models.build import build_classifier
    from genreclf.models.run_logger import RunLogger
    from genreclf.sweeps import is_multirun
    from genreclf.sweeps.budgets import epoch_budgets, log_budget_runs
    from genreclf.sweeps.selection import BestWeights, selected_checkpoint, selected_epoch
    from genreclf.tracking import names
    from genreclf.tracking.run import tracked_run

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    source = instantiate(cfg.data)
    feature_set = instantiate(cfg.features)
    check_packaging(cfg, feature_set, source)
    if getattr(source, "synthetic", False):
        log.warning("data=synthetic: procedurally generated toy audio, NOT real music")
    table = _cached_table(
        cfg,
        lambda: build_feature_table(source, feature_set, instantiate(cfg.extraction)),
    )
    datamodule = build_datamodule(cfg, table)
    module = build_classifier(cfg, datamodule)

    tags = {
        names.SYNTHETIC_TAG: str(bool(getattr(source, "synthetic", False))),
        names.MODEL_TAG: model_choice(cfg),
    }
    with tracked_run(cfg.tracking, tags) as writer:
        run_id = writer.run_id
        writer.log_params(OmegaConf.to_container(cfg, resolve=True))
        logger = RunLogger(writer)
        callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]  # null: off
        budgets = epoch_budgets(cfg)
        if budgets:  # one fit to the largest budget answers them all
            selection = next(c for c in callbacks if isinstance(c, BestWeights))
            selection.milestones = tuple(budgets)
            writer.flush_every_s = math.inf  # the job's own run gets its epochs only
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
                cfg, budgets, selection, trainer, module, writer, evaluate, tags
            )
        else:
            result = evaluate()
            writer.log_metrics({names.BEST_VAL_ACC: result["val_acc"]})
        if cfg.get("refit"):
            epochs = selected_epoch(trainer) + 1
            result |= instantiate(cfg.refit)(cfg=cfg, datamodule=datamodule, selected_epochs=epochs)
            writer.log_metrics(
                {k: v for k, v in result.items() if k.startswith(names.REFIT_PREFIX)}
            )
        writer.flush()  # artifacts read the run's metrics back
        if cfg.tracking.log_artifacts:
            log_run_artifacts(writer.store, run_id, cfg, result, datamodule, table)
        if cfg.tracking.log_model:
            model_uri = log_genre_model(
                writer.store,
                run_id,
                head=module.head,
                head_params=head_params(cfg),
                datamodule=datamodule,
                feature_set=feature_set,
                source=source,
                registry_name=OmegaConf.select(cfg, "registry.name"),
                registry_alias=OmegaConf.select(cfg, "registry.alias"),
            )
            if not is_multirun():
                print(f"Model: {model_uri}")

    if not is_multirun():  # a sweep job prints one line (genreclf.sweeps.progress)
        print_result(cfg, run_id, result)
    return {
        "run_id": run_id,
        "budget_runs": result.get("budget_runs", []),
        **{k: result[k] for k in ("val_acc", "test_acc", "test_f1", "report")},
        **{k: v for k, v in result.items() if k.startswith("refit_")},
    }


def model_choice(cfg: DictConfig) -> str:
    """The run's ``model=`` config choice (``dense``, ``linear``, ...).

    Outside a Hydra app (a composed config): the registered name of its head's class.
    """
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("model")
        if choice:
            return str(choice)
    from genreclf.models.heads import model_name

    return model_name(None, OmegaConf.select(cfg, "model._target_"))


def print_result(cfg: DictConfig, run_id: str, result: dict[str, Any]) -> None:
    """Print a single run's classification report, scores and MLflow run."""
    report, y_true = result["report"], result["y_true"]
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


def _errors() -> tuple[type[BaseException], ...]:
    from genreclf.registry import RegistryError
    from genreclf.tracking.models import ModelRefError
    from genreclf.tracking.store import StoreError
    from genreclf.transforms import TransformExportError

    return (
        ConfigError,
        FileNotFoundError,
        ModelRefError,
        RegistryError,
        StoreError,
        TransformExportError,
    )


def _task(cfg: DictConfig) -> float:
    """Hydra task: train, and return the selected model's validation accuracy (for sweepers)."""
    from genreclf.sweeps import is_multirun, sweep_job

    if is_multirun():
        return sweep_job(cfg, train)
    return train(cfg)["val_acc"]


main = hydra_app(_task, "config", _errors())
"""Entry point of ``python -m genreclf.train``."""


if __name__ == "__main__":
    main()
