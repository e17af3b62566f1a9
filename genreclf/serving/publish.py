"""A trained head as a model package, logged (and registered) as the run's MLflow model."""

from __future__ import annotations

import logging
from typing import Any

from genreclf.config.runconfig import RunConfig
from genreclf.core.errors import ConfigError

log = logging.getLogger("genreclf.train")


def check_packaging(config: RunConfig, feature_set: Any, source: Any) -> None:
    """Refuse, before any work, a run whose model could not be saved as a data package."""
    from genreclf import build
    from genreclf.core.registry import RegistryError
    from genreclf.features.sets import FEATURE_SETS
    from genreclf.models.heads import HEADS
    from genreclf.tracking.models import check_registry_name
    from genreclf.transforms import TransformExportError, check_exportable

    check_registry_name(config.registry.get("name"), config.registry.get("alias"))
    if not config.tracking.get("log_model"):
        return
    try:
        HEADS.name_of(str(config.model.target))
        if not hasattr(source, "frame"):
            FEATURE_SETS.name_of(type(feature_set))
        check_exportable(build.transform(config))
    except (RegistryError, TransformExportError) as exc:
        raise ConfigError(f"{exc} (or set tracking.log_model=false)") from exc


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
    writer: Any = None,
) -> str:
    """Save a trained head as a model package and log it as the run's ``model``.

    Parameters
    ----------
    store : Store
    run_id : str
    head : torch.nn.Module
        A registered head (``HEADS``), trained.
    head_params : dict
        Its ``model`` parameters (the checked ``model`` section's).
    datamodule : GenreDataModule
        Set up: its fitted ``transform``, ``class_names``, ``input_shape``, ``table``.
    feature_set : FeatureSet
        The run's feature set (for audio sources).
    source : object
        The run's data source.
    registry_name, registry_alias : str, optional
        Register the model under this name and point this alias at it.
    writer : RunWriter, optional
        The open run: while its store does not answer, the package is spooled with the
        run's writes (:meth:`~genreclf.tracking.run.RunWriter.log_model`).

    Returns
    -------
    str
        ``runs:/<run_id>/model``, or ``models:/<name>/<version>`` if registered.
    """
    from genreclf.inference.spec import model_spec

    spec = model_spec(
        feature_set=feature_set,
        source=source,
        columns=list(datamodule.table.columns),
        class_names=datamodule.class_names,
        input_shape=datamodule.input_shape,
    )
    registry = {"registry_name": registry_name, "registry_alias": registry_alias}
    uri = _save_and_log(store, run_id, head, head_params, datamodule, spec, registry, writer)
    if spec["features"] is None:
        log.warning(
            "the logged model cannot classify audio: %s; predict needs the table's recipe",
            spec["recipe_note"],
        )
    return uri


def _save_and_log(
    store: Any,
    run_id: str,
    head: Any,
    head_params: dict[str, Any],
    datamodule: Any,
    spec: dict[str, Any],
    registry: dict[str, str | None],
    writer: Any,
) -> str:
    """Save the package in a temporary folder and log it (through ``writer`` when given);
    return the model's URI (see :func:`log_genre_model`)."""
    import tempfile
    from pathlib import Path

    from genreclf.inference.package import flavor, save_model
    from genreclf.models.heads import HEADS
    from genreclf.serving.pyfunc import model_code_file
    from genreclf.tracking.models import log_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = save_model(
            Path(tmp) / "model",
            head=head,
            head_name=HEADS.name_of(type(head)),
            head_params=head_params,
            transform=datamodule.transform,
            spec=spec,
        )
        code, genres = model_code_file(), list(datamodule.class_names)
        if writer is not None:
            return writer.log_model(folder, flavor(), genres, pyfunc_code=code, **registry)
        return log_model(
            store, run_id, folder, flavor(), class_names=genres, pyfunc_code=code, **registry
        )
