"""The model package: a folder of data, not code, that :class:`GenreModel` is rebuilt from.

A package holds:

- ``genreclf.json``: the spec (:func:`genreclf.inference.spec.model_spec`) plus the
  head's registry name and parameters, and the fitted transform's steps;
- ``weights.safetensors``: the head's state dict (safetensors: tensors only);
- ``transform.npz``: the fitted transform's arrays (read with ``allow_pickle=False``),
  if the run had a transform;
- ``MLmodel``: added by :mod:`genreclf.tracking.models` when the package is logged.

Loading trusts nothing in the folder, and sizes everything before it is allocated:

1. the spec is at most :data:`MAX_SPEC_BYTES`, nests at most
   :data:`~genreclf.inference.spec.MAX_SPEC_DEPTH` deep, and is a
   :class:`~genreclf.inference.spec.ModelSpec` (unknown keys refused, finite numbers);
2. the head is built on PyTorch's meta device and refused above ``max_parameters``
   values (default :data:`MAX_PARAMETERS`); the weights file's tensor names and shapes,
   read from its header, must be the head's;
3. each ``transform.npz`` entry's numpy header (shape, dtype) and declared size are
   checked, and the arrays refused above :data:`MAX_ARRAY_ELEMENTS` values in all,
   before any data is inflated;
4. only then are the data read, and every float must be finite.

The head and the feature set are rebuilt from genreclf's registries by name, every
file is read from inside the folder (no absolute paths, no ``..``, no links out), and
nothing is unpickled or imported.
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy
from pydantic import ValidationError

from genreclf.core.registry import RegistryError
from genreclf.core.untrusted import Refused, TooLarge, capped_size, json_depth, safetensors_header
from genreclf.features.sets import build_feature_set
from genreclf.inference.files import ModelLoadError, inside, read_bounded
from genreclf.inference.pipeline import GenreModel
from genreclf.inference.spec import MAX_SPEC_DEPTH, MODEL_FORMAT, ModelSpec, spec_error
from genreclf.models.heads import HEADS, build_head, count_parameters
from genreclf.transforms import TransformExportError, transform_from_data, transform_to_data

log = logging.getLogger(__name__)

SPEC_FILE = "genreclf.json"
WEIGHTS_FILE = "weights.safetensors"
TRANSFORM_FILE = "transform.npz"
#: The largest spec file read (bytes); a spec is a few kilobytes.
MAX_SPEC_BYTES = 4_000_000
#: The most values (parameters and buffers) a head may hold unless the caller raises
#: it (``load_model(max_parameters=...)``, ``predict max_parameters=...``): 10^8, 400 MB
#: of float32. genreclf's heads on its feature sets hold well under 10^7.
MAX_PARAMETERS = 10**8
#: The most values a transform's arrays may hold in all (10^8: 800 MB of float64).
MAX_ARRAY_ELEMENTS = 10**8
#: The most arrays a ``transform.npz`` may hold (a step holds at most three).
MAX_ARRAYS = 256
#: Bytes a weights file may hold beyond its tensors' data (its JSON header).
WEIGHTS_HEADER_BYTES = 1_000_000
#: Float types a transform array may have.
_ARRAY_KINDS = ("f",)


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
        Its registry name (``dense``, ``cnn``, ``rnn``) and every parameter but
        ``input_shape`` and ``num_classes`` (checked: a loaded package fills none in).
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

    # Complete, as load_model will check them: no default is filled in on loading.
    HEADS.check(head_name, head_params, fixed=("input_shape", "num_classes"))
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


# --- The spec ----------------------------------------------------------------------------


def read_spec(folder: Path) -> ModelSpec:
    """The checked spec of a package folder, sized and depth-bounded before it is parsed.

    Raises
    ------
    ModelLoadError
        One line naming the file: too large, nested too deep, not JSON, another format,
        a bad field.
    """
    path = inside(folder, SPEC_FILE, "the spec")
    raw = read_bounded(path, MAX_SPEC_BYTES, "a model spec")
    if json_depth(raw) > MAX_SPEC_DEPTH:
        raise ModelLoadError(
            f"{path}: nests more than {MAX_SPEC_DEPTH} brackets deep, not a model spec"
        )
    try:
        return ModelSpec.model_validate_json(raw)
    except ValidationError as exc:
        raise ModelLoadError(f"{path}: {spec_error(exc)}") from None


def _check_remote_code(folder: Path, spec: ModelSpec, trust_remote_code: bool) -> None:
    sets = spec.features.every_set() if spec.features else []
    if any(s.params.get("trust_remote_code") is True for s in sets):
        if not trust_remote_code:
            raise ModelLoadError(
                f"{folder / SPEC_FILE}: its encoder needs trust_remote_code=true, which runs "
                "the encoder folder's own Python code; refused unless given to predict "
                "(trust_remote_code=true) for a model from a source you trust"
            )


# --- The head: sized on the meta device, compared with the weights' header -------------------


def _head_size(folder: Path, spec: ModelSpec, max_parameters: int) -> int:
    """The head's number of values, refused above ``max_parameters`` (nothing allocated)."""
    where = folder / SPEC_FILE
    try:
        size = count_parameters(
            spec.head.name,
            spec.head.params,
            input_shape=spec.input_shape,
            num_classes=len(spec.class_names),
        )
    except (RegistryError, ValueError) as exc:
        raise ModelLoadError(f"{where}: head: {exc}") from None
    except (RuntimeError, TypeError, OverflowError, MemoryError):
        raise ModelLoadError(f"{where}: head: too large to be built at all") from None
    if size > max_parameters:
        raise ModelLoadError(
            f"{where}: its {spec.head.name} head would hold {size:,} values, more than the "
            f"{max_parameters:,} allowed; for a model you trust, raise max_parameters"
        )
    return size


def _meta_head(spec: ModelSpec) -> Any:
    """The head on the meta device: shapes only (its size was checked by :func:`_head_size`)."""
    import torch

    with torch.device("meta"):
        return build_head(
            spec.head.name,
            spec.head.params,
            input_shape=spec.input_shape,
            num_classes=len(spec.class_names),
        )


def _check_weights_header(path: Path, head: Any, size: int) -> None:
    """The weights file's tensor names and shapes (its header only) must be the head's."""
    try:
        capped_size(path, 8 * size + WEIGHTS_HEADER_BYTES)
    except TooLarge:
        raise ModelLoadError(
            f"{path}: larger than the weights of the spec's head could be"
        ) from None
    want = {key: tuple(t.shape) for key, t in head.state_dict().items()}
    try:
        have = {key: tensor.shape for key, tensor in safetensors_header(path).items()}
    except Refused as exc:
        raise ModelLoadError(f"{path}: not a safetensors weights file ({exc})") from None
    if set(have) != set(want):
        raise ModelLoadError(f"{path}: its tensors are not those of the spec's head")
    for key, shape in have.items():
        if shape != want[key]:
            raise ModelLoadError(f"{path}: tensor {key} is {shape}, the head's is {want[key]}")


def _read_weights(path: Path, head: Any) -> Any:
    """Load the (checked) weights into the meta-built head; every float must be finite."""
    import torch
    from safetensors import SafetensorError, safe_open

    want = head.state_dict()
    state = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            for key in want:
                tensor = file.get_tensor(key)
                if tensor.dtype != want[key].dtype:
                    raise ModelLoadError(
                        f"{path}: tensor {key} is {tensor.dtype}, the head's is {want[key].dtype}"
                    )
                if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                    raise ModelLoadError(f"{path}: tensor {key} holds NaN or infinite values")
                state[key] = tensor
    except (SafetensorError, OSError) as exc:
        reason = " ".join(str(exc).split())
        raise ModelLoadError(f"{path}: not a safetensors weights file ({reason})") from None
    head.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in [*head.parameters(), *head.buffers()]):
        raise ModelLoadError(f"{path}: does not hold every tensor of the head")
    head.eval()
    for param in head.parameters():
        param.requires_grad_(False)
    return head


# --- The transform: numpy headers and declared sizes first -----------------------------------


@dataclass(frozen=True)
class _Entry:
    """One checked ``.npy`` entry of an npz: its zip member, and its array's key and size."""

    info: zipfile.ZipInfo
    key: str
    values: int


def _npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple, np.dtype, int]:
    """Shape, dtype and header length of one entry, read with numpy's own header readers."""
    with zf.open(info) as fp:
        version = npy.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = npy.read_array_header_2_0(fp)
        else:
            raise ValueError(f"npy format version {version} is not read")
        return shape, dtype, fp.tell()


def _check_entry(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    """An entry whose header is a float array and whose declared size is its data's."""
    name = info.filename
    if not name.endswith(".npy"):
        raise ModelLoadError(f"{path}: entry {name!r} is not a .npy array")
    if info.file_size > 8 * MAX_ARRAY_ELEMENTS + 100_000:
        raise ModelLoadError(
            f"{path}: entry {name!r} inflates to {info.file_size:,} bytes, more than a "
            f"transform of {MAX_ARRAY_ELEMENTS:,} values holds"
        )
    shape, dtype, header = _npy_header(zf, info)
    if dtype.hasobject or dtype.kind not in _ARRAY_KINDS:
        raise ModelLoadError(f"{path}: array {name!r} is {dtype}, not float")
    values = math.prod(shape)
    if values > MAX_ARRAY_ELEMENTS:
        raise ModelLoadError(
            f"{path}: array {name!r} has shape {shape}, more than {MAX_ARRAY_ELEMENTS:,} values"
        )
    if info.file_size != header + values * dtype.itemsize:
        raise ModelLoadError(
            f"{path}: entry {name!r} declares {info.file_size:,} bytes, its {shape} {dtype} "
            f"array holds {header + values * dtype.itemsize:,}"
        )
    return _Entry(info, name.removesuffix(".npy"), values)


def _check_npz(path: Path) -> list[_Entry]:
    """Every entry of an npz checked from its headers, before any array data is read.

    Raises
    ------
    ModelLoadError
        Not a zip of float ``.npy`` arrays, too many or too large arrays, or an entry
        whose declared size is not its array's (e.g. a compressed bomb).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if not infos or len(infos) > MAX_ARRAYS:
                raise ModelLoadError(f"{path}: holds {len(infos)} arrays, not 1 to {MAX_ARRAYS}")
            if len({info.filename for info in infos}) != len(infos):
                raise ModelLoadError(f"{path}: holds an array name twice")
            entries = [_check_entry(path, zf, info) for info in infos]
    except ModelLoadError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError, zlib.error) as exc:
        reason = " ".join(str(exc).split())
        raise ModelLoadError(f"{path}: not a transform of plain arrays ({reason})") from None
    except NotImplementedError as exc:  # a compression method zipfile cannot read
        raise ModelLoadError(f"{path}: not a transform of plain arrays ({exc})") from None
    total = sum(entry.values for entry in entries)
    if total > MAX_ARRAY_ELEMENTS:
        raise ModelLoadError(
            f"{path}: its arrays hold {total:,} values, more than {MAX_ARRAY_ELEMENTS:,}"
        )
    return entries


def _read_npz(path: Path, entries: list[_Entry]) -> dict[str, np.ndarray]:
    """The checked entries' arrays (``allow_pickle=False``)."""
    try:
        with zipfile.ZipFile(path) as zf:
            arrays = {}
            for entry in entries:
                with zf.open(entry.info) as fp:
                    arrays[entry.key] = npy.read_array(fp, allow_pickle=False)
            return arrays
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError, zlib.error) as exc:
        reason = " ".join(str(exc).split())
        raise ModelLoadError(f"{path}: not a transform of plain arrays ({reason})") from None


def _read_transform(path: Path, steps: list, entries: list[_Entry]) -> Any:
    """The fitted transform, rebuilt from its steps and arrays (each checked finite)."""
    try:
        return transform_from_data(steps, _read_npz(path, entries))
    except (TransformExportError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: {exc}") from None


# --- The feature set ---------------------------------------------------------------------


def _load_features(folder: Path, spec: ModelSpec) -> Any:
    where = folder / SPEC_FILE
    if spec.features is None:
        cols = spec.columns
        shown = ", ".join(cols[:5]) + (", ..." if len(cols) > 5 else "")
        raise ModelLoadError(
            f"{where}: trained on a feature table whose audio recipe genreclf cannot compute: "
            f"{spec.recipe_note}; it needs {len(cols)} features ({shown}); retrain on "
            "audio, or on a table with data.recipe=<feature set name>"
        )
    try:
        feature_set = build_feature_set(spec.features.plain())
        columns = feature_set.columns  # an encoder reads its model's config for these
    except (RegistryError, ValueError, TypeError) as exc:  # DataError is a ValueError
        raise ModelLoadError(f"{where}: features: {exc}") from None
    if sorted(columns) != sorted(spec.columns):
        raise ModelLoadError(
            f"{where}: the feature set '{spec.features.name}' now computes other "
            "columns than the model was trained on"
        )
    return feature_set


def load_model(
    folder: str | Path,
    *,
    uri: str | None = None,
    n_jobs: int = -1,
    max_windows: int | None = None,
    max_parameters: int = MAX_PARAMETERS,
    trust_remote_code: bool = False,
) -> GenreModel:
    """Load a model package from a local folder, every size checked before it is allocated.

    Parameters
    ----------
    folder : str or Path
    uri : str, optional
        Where it came from (for messages); default: the folder.
    n_jobs, max_windows
        See :class:`GenreModel`.
    max_parameters : int
        Refuse a head holding more values than this (default :data:`MAX_PARAMETERS`);
        raise it only for a model you trust.
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
    if not (folder / SPEC_FILE).exists():
        raise ModelLoadError(f"{uri}: not a genreclf model (no {SPEC_FILE} in {folder})")
    spec = read_spec(folder)
    _check_remote_code(folder, spec, trust_remote_code)
    # Sizes and headers first: nothing below allocates until every one is checked.
    size = _head_size(folder, spec, max_parameters)
    weights = inside(folder, spec.weights, "the weights")
    head = _meta_head(spec)
    _check_weights_header(weights, head, size)
    npz, entries = None, []
    if spec.transform is not None:
        npz = inside(folder, spec.transform.file, "the transform")
        entries = _check_npz(npz)
    head = _read_weights(weights, head)
    transform = None
    if spec.transform is not None:
        transform = _read_transform(npz, [dict(s) for s in spec.transform.steps], entries)
    feature_set = _load_features(folder, spec)
    width = getattr(transform, "n_features_out", None)
    if width not in (None, spec.input_shape[-1]):
        raise ModelLoadError(
            f"{npz}: gives {width} features, the head reads {spec.input_shape[-1]}"
        )
    return GenreModel(
        uri, head, feature_set, transform, spec.model_dump(), n_jobs=n_jobs, max_windows=max_windows
    )
