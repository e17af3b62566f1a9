"""The model package: a folder of data, not code, that :class:`GenreModel` is rebuilt from.

A package holds:

- ``genreclf.json``: the spec (:func:`genreclf.inference.spec.model_spec`) plus the
  head's registry name and parameters, and the fitted transform's steps;
- ``weights.safetensors``: the head's state dict (safetensors: tensors only);
- ``transform.npz``: the fitted transform's arrays (read with ``allow_pickle=False``),
  if the run had a transform;
- ``MLmodel``: added by :mod:`genreclf.tracking.models` when the package is logged.

Loading trusts nothing in the folder: the head and the feature set are rebuilt from
genreclf's registries by name with checked parameters, every file is read from inside
the folder (no absolute paths, no ``..``, no links out), and nothing is unpickled or
imported. A model logged by genreclf before this format (pickled weights and
transform) is refused, unless ``trust_pickle`` is given (see
:mod:`genreclf.inference.legacy`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from genreclf.features.sets import build_feature_set
from genreclf.inference.files import ModelLoadError, inside
from genreclf.inference.pipeline import GenreModel
from genreclf.inference.spec import MODEL_FORMAT
from genreclf.models.heads import build_head
from genreclf.registry import RegistryError
from genreclf.transforms import TransformExportError, transform_from_data, transform_to_data

log = logging.getLogger(__name__)

SPEC_FILE = "genreclf.json"
WEIGHTS_FILE = "weights.safetensors"
TRANSFORM_FILE = "transform.npz"
#: The largest spec file read (bytes); a spec is a few kilobytes.
MAX_SPEC_BYTES = 4_000_000


def flavor() -> dict[str, Any]:
    """What the package's ``MLmodel`` file says of it (plain values)."""
    files = {"spec": SPEC_FILE, "weights": WEIGHTS_FILE, "transform": TRANSFORM_FILE}
    return {"format": MODEL_FORMAT, "files": files, "loader": "genreclf.inference.load_model"}


def save_model(
    folder: Path,
    *,
    head: Any,
    head_name: str,
    head_params: dict[str, Any],
    transform: Any,
    spec: dict[str, Any],
) -> Path:
    """Write a model package into ``folder``.

    Parameters
    ----------
    folder : Path
        Created if needed.
    head : torch.nn.Module
        The trained head.
    head_name, head_params
        Its registry name (``dense``, ``cnn``, ``rnn``) and parameters.
    transform : fitted transform or None
        Saved as data (see :func:`genreclf.transforms.transform_to_data`).
    spec : dict
        :func:`genreclf.inference.spec.model_spec`.

    Returns
    -------
    Path
        ``folder``.
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    package = dict(spec) | {
        "head": {"name": head_name, "params": dict(head_params)},
        "weights": WEIGHTS_FILE,
        "transform": None,
    }
    if transform is not None:
        steps, arrays = transform_to_data(transform)
        np.savez(folder / TRANSFORM_FILE, **arrays)
        package["transform"] = {"file": TRANSFORM_FILE, "steps": steps}
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    (folder / SPEC_FILE).write_text(json.dumps(package, indent=2, allow_nan=False) + "\n")
    return folder


def _require(ok: bool, path: Path, message: str) -> None:
    if not ok:
        raise ModelLoadError(f"{path}: {message}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a model spec may hold")


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def read_spec(folder: Path) -> dict[str, Any]:
    """The checked spec of a package folder.

    Raises
    ------
    ModelLoadError
        One line naming the file: unreadable, not JSON, another format, a bad field.
    """
    path = inside(folder, SPEC_FILE, "the spec")
    _require(path.stat().st_size <= MAX_SPEC_BYTES, path, "too large for a model spec")
    try:
        spec = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a JSON model spec ({exc})") from exc
    _require(isinstance(spec, dict), path, "not a JSON object")
    fmt = spec.get("format")
    _require(
        fmt == MODEL_FORMAT,
        path,
        f"model format {fmt!r}; this genreclf reads format {MODEL_FORMAT}",
    )
    _require(_str_list(spec.get("class_names")), path, "class_names must be a list of names")
    _require(_str_list(spec.get("columns")), path, "columns must be a list of names")
    shape = spec.get("input_shape")
    _require(
        isinstance(shape, list)
        and 1 <= len(shape) <= 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape),
        path,
        "input_shape must be 1 or 2 positive whole numbers",
    )
    _require(isinstance(spec.get("frame_level"), bool), path, "frame_level must be true or false")
    for key in ("segment_seconds", "clip_seconds"):
        value = spec.get(key)
        _require(
            value is None
            or (isinstance(value, int | float) and not isinstance(value, bool) and value > 0),
            path,
            f"{key} must be a positive number or null",
        )
    rate = spec.get("sample_rate")
    _require(
        isinstance(rate, int) and not isinstance(rate, bool) and 0 < rate <= 1_000_000,
        path,
        "sample_rate must be a positive whole number",
    )
    head = spec.get("head")
    _require(
        isinstance(head, dict)
        and isinstance(head.get("name"), str)
        and isinstance(head.get("params"), dict),
        path,
        "head must be {name, params}",
    )
    transform = spec.get("transform")
    _require(
        transform is None
        or (isinstance(transform, dict) and isinstance(transform.get("steps"), list)),
        path,
        "transform must be {file, steps} or null",
    )
    return spec


def _load_head(folder: Path, spec: dict[str, Any]) -> Any:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = inside(folder, spec.get("weights"), "the weights")
    try:
        head = build_head(
            spec["head"]["name"],
            spec["head"]["params"],
            input_shape=tuple(spec["input_shape"]),
            num_classes=len(spec["class_names"]),
        )
    except (RegistryError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"{folder / SPEC_FILE}: head: {exc}") from exc
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a safetensors weights file ({exc})") from exc
    want = head.state_dict()
    if set(state) != set(want):
        raise ModelLoadError(f"{path}: its tensors are not those of a {spec['head']['name']} head")
    for key, tensor in state.items():
        if tensor.shape != want[key].shape or tensor.dtype != want[key].dtype:
            raise ModelLoadError(
                f"{path}: tensor {key} is {tuple(tensor.shape)} {tensor.dtype}, the head's is "
                f"{tuple(want[key].shape)} {want[key].dtype}"
            )
    head.load_state_dict(state, strict=True)
    head.eval()
    for param in head.parameters():
        param.requires_grad_(False)
    return head


def _load_transform(folder: Path, spec: dict[str, Any]) -> Any:
    info = spec.get("transform")
    if info is None:
        return None
    path = inside(folder, info.get("file"), "the transform")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError) as exc:
        raise ModelLoadError(f"{path}: not a transform of plain arrays ({exc})") from exc
    try:
        return transform_from_data(info["steps"], arrays)
    except (TransformExportError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc


def _load_features(folder: Path, spec: dict[str, Any], trust_remote_code: bool = False) -> Any:
    where = folder / SPEC_FILE
    params = (spec.get("features") or {}).get("params") or {}
    if (
        isinstance(params, dict)
        and params.get("trust_remote_code") is True
        and not trust_remote_code
    ):
        raise ModelLoadError(
            f"{where}: its encoder needs trust_remote_code=true, which runs the encoder "
            "folder's own Python code; refused unless given to predict (trust_remote_code=true) "
            "for a model from a source you trust"
        )
    if spec.get("features") is None:
        cols = spec["columns"]
        shown = ", ".join(cols[:5]) + (", ..." if len(cols) > 5 else "")
        raise ModelLoadError(
            f"{where}: trained on a feature table whose audio recipe genreclf cannot compute: "
            f"{spec.get('recipe_note')}; it needs {len(cols)} features ({shown}); retrain on "
            "audio, or on a table with data.recipe=<feature set name>"
        )
    try:
        feature_set = build_feature_set(spec["features"])
        columns = feature_set.columns  # an encoder reads its model's config for these
    except (RegistryError, ValueError, TypeError) as exc:  # DataError is a ValueError
        raise ModelLoadError(f"{where}: features: {exc}") from exc
    if sorted(columns) != sorted(spec["columns"]):
        raise ModelLoadError(
            f"{where}: the feature set '{spec['features'].get('name')}' now computes other "
            "columns than the model was trained on"
        )
    return feature_set


def is_legacy(folder: Path) -> bool:
    """Whether ``folder`` holds a model logged by genreclf before the package format."""
    return not (folder / SPEC_FILE).exists() and (folder / "MLmodel").is_file()


def load_model(
    folder: str | Path,
    *,
    uri: str | None = None,
    n_jobs: int = -1,
    max_windows: int | None = None,
    trust_pickle: bool = False,
    trust_remote_code: bool = False,
) -> GenreModel:
    """Load a model package from a local folder.

    Parameters
    ----------
    folder : str or Path
    uri : str, optional
        Where it came from (for messages); default: the folder.
    n_jobs, max_windows
        See :class:`GenreModel`.
    trust_pickle : bool
        Load a model of an earlier genreclf version (pickled), which runs code from it.
    trust_remote_code : bool
        Load a model whose Hugging Face encoder was trained with
        ``features.trust_remote_code=true`` (its folder's Python code runs).

    Raises
    ------
    ModelLoadError
        In one line naming the file at fault.
    """
    folder = Path(folder)
    uri = uri or str(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{uri}: no such model folder")
    if is_legacy(folder):
        from genreclf.inference.legacy import load_legacy

        return load_legacy(
            folder, uri=uri, trust_pickle=trust_pickle, n_jobs=n_jobs, max_windows=max_windows
        )
    if not (folder / SPEC_FILE).exists():
        raise ModelLoadError(f"{uri}: not a genreclf model (no {SPEC_FILE} in {folder})")
    spec = read_spec(folder)
    feature_set = _load_features(folder, spec, trust_remote_code)
    transform = _load_transform(folder, spec)
    head = _load_head(folder, spec)
    if transform is not None and getattr(transform, "n_features_out", None) not in (
        None,
        spec["input_shape"][-1],
    ):
        raise ModelLoadError(
            f"{folder / TRANSFORM_FILE}: gives {transform.n_features_out} features, the head "
            f"reads {spec['input_shape'][-1]}"
        )
    return GenreModel(
        uri, head, feature_set, transform, spec, n_jobs=n_jobs, max_windows=max_windows
    )
