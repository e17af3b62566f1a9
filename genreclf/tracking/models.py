"""Genre models in MLflow: logged as a run's ``model`` folder, registered, found, fetched.

Tracking handles model folders as files: it logs a folder that
:mod:`genreclf.inference` wrote, and fetches one back for it to load. It never loads
a model, and nothing it fetches is executed here.

Model references:

- ``runs:/<run_id>/model``;
- ``models:/<name>/<version>`` and ``models:/<name>@<alias>`` (the model registry);
- ``best:<experiment>``: the best finished run of the experiment that logged a model
  (see :mod:`genreclf.tracking.selection`);
- a local model folder (handed on as it is).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genreclf.errors import ConfigError
from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store, check_store, first_line, sqlite_path

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
    """Log a model folder as the run's ``model`` artifacts (and register it).

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
    write_mlmodel(folder, run_id, flavor, class_names, pyfunc_code)
    store.log_artifacts(run_id, folder, names.MODEL_ARTIFACT)
    store.set_tag(run_id, names.MODEL_FORMAT_TAG, str(flavor.get("format", "")))
    uri = f"runs:/{run_id}/{names.MODEL_ARTIFACT}"
    if registry_name:
        version = store.register(registry_name, uri, run_id, registry_alias)
        uri = f"models:/{registry_name}/{version}"
    return uri


def best_model_uri(store: Store, experiment: str) -> str:
    """``runs:/<id>/model`` of the best finished run of ``experiment`` that logged a model.

    Runs are ranked by :func:`genreclf.tracking.selection.best_run`: ``best_val_acc``,
    ties to the lower ``best_val_loss``, then to the earlier run. Runs without a logged
    genre model are passed over.

    Raises
    ------
    ModelRefError
        If the experiment does not exist or none of its finished runs has a model.
    """
    eid = store.experiment_id(experiment, create=False)
    if eid is None:
        raise ModelRefError(f"best:{experiment}: no experiment '{experiment}' in {store.uri}")
    runs = store.find_runs(eid, statuses=(names.FINISHED,))
    best = best_run(run for run in runs if names.MODEL_FORMAT_TAG in run.data.tags)
    if best is None:
        raise ModelRefError(
            f"best:{experiment}: no finished run with a '{names.BEST_VAL_ACC}' metric and a "
            f"logged model in {store.uri}"
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
    if not source.startswith("models:/"):  # MLflow 3 logged models are listed by MLflow itself
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
