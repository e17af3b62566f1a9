"""Genre models in MLflow: logged as a run's MLflow 3 logged model, registered, found, fetched.

Tracking handles model folders as files: it logs a folder that
:mod:`genreclf.inference` wrote, and fetches one back for it to load. It never loads
a model, and nothing it fetches is executed here.

Model references:

- ``runs:/<run_id>/model``;
- ``models:/<name>/<version>`` and ``models:/<name>@<alias>`` (the model registry);
- ``best:<experiment>``: the best finished run of the experiment that logged a model,
  real-data runs before any synthetic-data one (see :mod:`genreclf.tracking.selection`);
- a local model folder (handed on as it is).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genreclf.core.errors import ConfigError
from genreclf.tracking import names
from genreclf.tracking.selection import best_real_first
from genreclf.tracking.store import Store, check_store, first_line, sqlite_path

log = logging.getLogger("genreclf.tracking")

#: The file that makes a folder an MLflow model.
MLMODEL_FILE = "MLmodel"
#: Registered model names: letters, digits, ``_``, ``-`` and ``.``.
REGISTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ModelRefError(ConfigError):
    """A model reference that cannot be resolved or fetched; the message is one line."""


def check_registry_name(name: str | None, alias: str | None = None) -> None:
    """Refuse a registered model name or alias MLflow cannot store (one line)."""
    if name is not None and not REGISTRY_NAME.match(str(name)):
        raise ModelRefError(
            f"registry.name={name}: use letters, digits, '_', '-' and '.' (no '/' or spaces)"
        )
    if alias is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", str(alias)):
        raise ModelRefError(f"registry.alias={alias}: use letters, digits, '_' and '-'")


#: The models-from-code file in a model folder (MLflow runs it to serve the model as pyfunc).
PYFUNC_CODE_FILE = "genreclf_pyfunc.py"
#: The pyfunc's input columns: a path on the server, or an audio file's bytes in base64.
PYFUNC_INPUTS = ("path", "audio_base64")


def write_mlmodel(
    folder: Path,
    run_id: str | None,
    flavor: Mapping[str, Any],
    class_names: list[str] | None = None,
    pyfunc_code: Path | None = None,
    model_id: str | None = None,
) -> None:
    """Write the ``MLmodel`` file that makes ``folder`` an MLflow model.

    Its flavor ``genreclf`` (plain values: the package format and files) is what
    genreclf reads. With ``pyfunc_code`` (a models-from-code file, copied into the
    folder as :data:`PYFUNC_CODE_FILE`) it is also a ``python_function`` model, which
    ``mlflow models serve`` serves: audio in (:data:`PYFUNC_INPUTS`), and out one row
    per input with ``file``, ``genre``, one probability per name of ``class_names`` and
    ``error``. That is its signature.
    """
    import shutil

    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    signature = None
    if class_names is not None:
        signature = ModelSignature(
            inputs=Schema([ColSpec("string", c, required=False) for c in PYFUNC_INPUTS]),
            outputs=Schema(
                [
                    ColSpec("string", "file"),
                    ColSpec("string", "genre", required=False),
                    *(ColSpec("double", c, required=False) for c in class_names),
                    ColSpec("string", "error", required=False),
                ]
            ),
        )
    model = Model(
        artifact_path=names.MODEL_ARTIFACT,
        run_id=run_id,
        flavors={"genreclf": dict(flavor)},
        signature=signature,
        model_id=model_id,
    )
    if pyfunc_code is not None:
        shutil.copyfile(pyfunc_code, folder / PYFUNC_CODE_FILE)
        mlflow.pyfunc.add_to_model(
            model,
            loader_module="mlflow.pyfunc.loaders.code_model",
            model_code_path=PYFUNC_CODE_FILE,
            artifacts={"package": {"path": "."}},  # the folder itself: genreclf's package
        )
    model.save(str(folder / MLMODEL_FILE))


def log_model(
    store: Store,
    run_id: str,
    folder: Path,
    flavor: Mapping[str, Any],
    registry_name: str | None = None,
    registry_alias: str | None = None,
    class_names: list[str] | None = None,
    pyfunc_code: Path | None = None,
) -> str:
    """Log a model folder as the run's MLflow 3 logged model ``model`` (and register it).

    The model is created with the run as its source, its folder uploaded as the model's
    artifacts, then marked READY and linked to the run as its output, so that the MLflow
    UI lists it in the run's Models column and ``runs:/<run_id>/model`` reaches it
    (MLflow resolves that URI to the run's logged model of that name). A model whose
    upload fails is marked FAILED.

    Parameters
    ----------
    store : Store
    run_id : str
    folder : Path
        A model folder written by :func:`genreclf.inference.package.save_model`.
    flavor : mapping
        The ``genreclf`` flavor of its ``MLmodel`` file; ``format`` is also set as the
        run's tag ``genreclf.model_format``.
    registry_name, registry_alias : str, optional
        Register the model as a new version of this name, and point this alias at it.
    class_names, pyfunc_code : optional
        See :func:`write_mlmodel`: the signature's genres, and the models-from-code file
        that makes the model servable.

    Returns
    -------
    str
        ``runs:/<run_id>/model``, or ``models:/<name>/<version>`` if registered.
    """
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    model_format = str(flavor.get("format", ""))
    model_id = _new_logged_model(store, run_id, model_format)
    try:
        write_mlmodel(folder, run_id, flavor, class_names, pyfunc_code, model_id)
        store.call(lambda c: c.log_model_artifacts(model_id, str(folder)))
    except BaseException:
        store.call(lambda c: c.finalize_logged_model(model_id, LoggedModelStatus.FAILED))
        raise
    store.call(lambda c: c.finalize_logged_model(model_id, LoggedModelStatus.READY))
    store.call(lambda c: c.log_outputs(run_id, [LoggedModelOutput(model_id, step=0)]))
    store.set_tag(run_id, names.MODEL_FORMAT_TAG, model_format)
    if not registry_name:
        return f"runs:/{run_id}/{names.MODEL_ARTIFACT}"
    # the logged model's own folder: MLflow resolves ``models:/<id>`` and ``runs:/`` sources
    # only against its global tracking URI, which genreclf never sets
    source = store.call(lambda c: c.get_logged_model(model_id)).artifact_location
    version = store.register(registry_name, source, run_id, registry_alias, model_id)
    return f"models:/{registry_name}/{version}"


def _new_logged_model(store: Store, run_id: str, model_format: str) -> str:
    """Create the logged model ``model`` of run ``run_id`` (PENDING, no files yet); its id."""
    experiment_id = store.get_run(run_id).info.experiment_id
    model = store.call(
        lambda c: c.create_logged_model(
            experiment_id,
            name=names.MODEL_ARTIFACT,
            source_run_id=run_id,
            tags={names.MODEL_FORMAT_TAG: model_format},
            model_type="genreclf",
        )
    )
    return model.model_id


def best_model_uri(store: Store, experiment: str) -> str:
    """``runs:/<id>/model`` of the best finished run of ``experiment`` that logged a model.

    Runs are ranked by :func:`genreclf.tracking.selection.best_run`: ``best_val_acc``,
    ties to the lower ``best_val_loss``, then to the earlier run. Runs without a logged
    genre model are passed over, and so are runs on the built-in synthetic data
    (tag ``genreclf.synthetic_data``) while any real-data run has a model: a synthetic
    one is chosen only when nothing else is there, with a one-line warning (logger
    ``genreclf.tracking``).

    Raises
    ------
    ModelRefError
        If the experiment does not exist or none of its finished runs has a model.
    """
    eid = store.experiment_id(experiment, create=False)
    if eid is None:
        raise ModelRefError(f"best:{experiment}: no experiment '{experiment}' in {store.uri}")
    runs = store.find_runs(eid, statuses=(names.FINISHED,))
    best, synthetic = best_real_first(
        run for run in runs if names.MODEL_FORMAT_TAG in run.data.tags
    )
    if synthetic:
        log.warning(
            "warning: best:%s: no model trained on real data; using run %s (%s), trained on "
            "the SYNTHETIC toy data: its genres say nothing about music",
            experiment,
            best.info.run_id,
            best.info.run_name,
        )
    if best is None:
        raise ModelRefError(
            f"best:{experiment}: no finished run with a '{names.BEST_VAL_ACC}' metric and a "
            f"logged model in {store.uri} (sweep jobs log none); log the best one's with: "
            f"python -m genreclf.train from_run=best:{experiment} tracking.log_model=true"
        )
    return f"runs:/{best.info.run_id}/{names.MODEL_ARTIFACT}"


def _registered_source(store: Store, uri: str) -> str:
    """The storage URI of ``models:/<name>/<version>`` or ``models:/<name>@<alias>``."""
    ref = uri[len("models:/") :].strip("/")
    name, sep, alias = ref.partition("@")
    try:
        if sep:
            version = store.model_version(name, alias=alias)
        else:
            name, _, number = ref.partition("/")
            if not number.isdigit():
                raise ModelRefError(
                    f"{uri}: give models:/<name>/<version> or models:/<name>@<alias>"
                )
            version = store.model_version(name, number)
    except ModelRefError:
        raise
    except Exception as exc:
        raise ModelRefError(f"{uri}: no such registered model ({first_line(exc)})") from exc
    return str(version.source)


def logged_model_location(store: Store, uri: str) -> str:
    """The storage URI of the MLflow 3 logged model behind ``uri``, else ``uri`` itself.

    ``runs:/<run_id>/<name>[/<path>]`` names the run's logged model ``<name>`` where it
    has one (a run of an older genreclf holds an artifact folder instead), and
    ``models:/m-<id>`` a logged model by id. MLflow resolves both only against its global
    tracking URI, which genreclf never sets; the store resolves them here.
    """
    try:
        if uri.startswith("models:/m-"):
            model_id, _, rest = uri[len("models:/") :].partition("/")
            location = store.call(lambda c: c.get_logged_model(model_id)).artifact_location
            return location.rstrip("/") + (f"/{rest}" if rest else "")
        if not uri.startswith("runs:/"):
            return uri
        run_id, _, path = uri[len("runs:/") :].partition("/")
        name, _, rest = path.partition("/")
        experiment_id = store.get_run(run_id).info.experiment_id
        found = store.call(
            lambda c: c.search_logged_models(
                experiment_ids=[experiment_id],
                filter_string=f"name = '{name}' AND source_run_id = '{run_id}'",
                max_results=1,
            )
        )
    except ModelRefError:
        raise
    except Exception as exc:
        raise ModelRefError(f"{uri}: cannot fetch the model ({first_line(exc)})") from exc
    if not found:
        return uri
    return found[0].artifact_location.rstrip("/") + (f"/{rest}" if rest else "")


def fetch_model(store: Store, model_uri: str, dst: Path) -> tuple[str, Path]:
    """Resolve a model reference and fetch its folder, ready for :mod:`genreclf.inference`.

    A local folder is handed on where it is (nothing is copied). A store reference must
    point at an MLflow model (a folder with an ``MLmodel`` file); anything else is refused
    before any file is downloaded.

    Returns
    -------
    uri : str
        The resolved reference (``best:`` becomes ``runs:/``).
    folder : Path

    Raises
    ------
    ModelRefError
        In one line, if the reference does not resolve or is not a model.
    StoreError
        In one line, if the store cannot be used (see :func:`check_store`).
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    local = Path(model_uri).expanduser()
    if ":" not in model_uri or model_uri.startswith("file:") or local.is_dir():
        path = Path(model_uri.removeprefix("file://")).expanduser()
        if not path.is_dir():
            raise ModelRefError(f"{model_uri}: no such model folder")
        return model_uri, path
    check_store(store.uri)  # a store that cannot be used: one line, before any lookup
    scheme = model_uri.split(":", 1)[0]
    db = sqlite_path(store.uri)
    if scheme in ("runs", "models", "best") and db is not None and not db.is_file():
        raise ModelRefError(
            f"{model_uri}: no MLflow database at {db} (tracking.uri={store.uri}); run from the "
            "folder you trained in, or give tracking.uri"
        )
    uri = model_uri
    if scheme == "best":
        uri = best_model_uri(store, model_uri[len("best:") :] or "genreclf")
    source = _registered_source(store, uri) if scheme == "models" else uri
    source = logged_model_location(store, source)
    if not source.startswith("models:/"):
        try:
            listed = store.list_uri(source)
        except Exception as exc:
            raise ModelRefError(f"{uri}: cannot fetch the model ({first_line(exc)})") from exc
        if MLMODEL_FILE not in listed:
            raise ModelRefError(
                f"{uri}: not an MLflow model (no {MLMODEL_FILE} file); nothing was downloaded"
            )
    try:
        folder = store.download(source, dst)
    except Exception as exc:  # MLflow raises several types for a bad reference
        raise ModelRefError(f"{uri}: cannot fetch the model ({first_line(exc)})") from exc
    if not (folder / MLMODEL_FILE).is_file():
        raise ModelRefError(f"{uri}: not an MLflow model (no {MLMODEL_FILE} file)")
    return uri, folder


def source_run_id(store: Store, uri: str) -> str | None:
    """The id of the run that logged the model ``uri`` (``None``: a local folder, or unknown)."""
    try:
        if uri.startswith("runs:/"):
            return uri[len("runs:/") :].split("/", 1)[0] or None
        if uri.startswith("models:/m-"):  # an MLflow 3 logged model id
            model_id = uri[len("models:/") :].split("/", 1)[0]
            return store.call(lambda c: c.get_logged_model(model_id)).source_run_id
        if uri.startswith("models:/"):
            ref = uri[len("models:/") :].strip("/")
            name, sep, alias = ref.partition("@")
            if sep:
                return store.model_version(name, alias=alias).run_id
            name, _, number = ref.partition("/")
            return store.model_version(name, number).run_id
    except Exception:  # the line describing a model never stops a prediction
        return None
    return None


def _short_class(target: str | None) -> str | None:
    return target.rsplit(".", 1)[-1] if target else None


def model_origin(store: Store, uri: str) -> dict[str, Any] | None:
    """What a model was trained on, from the run that logged it (``None``: no such run).

    Returns
    -------
    dict
        ``run_id``, ``run_name``, ``dataset`` (the ``genreclf.dataset`` tag, else the
        run's data choice and file or folder), ``synthetic`` (bool), ``features`` (the
        features choice, or ``None``) and ``val_acc`` (``best_val_acc``, or ``None``).
    """
    run_id = source_run_id(store, uri)
    if run_id is None:
        return None
    try:
        run = store.get_run(run_id)
    except Exception:
        return None
    tags, params = run.data.tags, run.data.params
    data = params.get("data") or _short_class(params.get("data._target_"))
    where = params.get("data.path") or params.get("data.root")
    dataset = tags.get(names.DATASET_TAG) or " ".join(p for p in (data, where) if p) or None
    return {
        "run_id": run_id,
        "run_name": run.info.run_name,
        "dataset": dataset,
        "synthetic": str(tags.get(names.SYNTHETIC_TAG, "")).lower() == "true",
        "features": params.get("features") or _short_class(params.get("features._target_")),
        "val_acc": run.data.metrics.get(names.BEST_VAL_ACC),
    }
