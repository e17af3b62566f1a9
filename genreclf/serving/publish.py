"""A trained head as a model package, logged (and registered) as the run's MLflow model."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from genreclf.errors import ConfigError

log = logging.getLogger("genreclf.train")


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
