"""Checks of a Hugging Face encoder folder, made before any weight is loaded.

A model folder (or a cached hub snapshot) is untrusted input; :func:`check_encoder
<genreclf.features.hf_loading.check_encoder>` runs these checks in order, each refusal a
configuration error (:class:`HFEncoderError`, one line naming ``features.model``):

- :func:`check_files`: every file it uses resolves inside the folder (no link out);
- :func:`read_config_json` and :func:`check_config_sizes`: ``config.json`` is JSON of at
  most :data:`MAX_CONFIG_BYTES`, with sizes under :data:`CONFIG_CAPS`;
  :func:`check_preprocessor_size` caps ``preprocessor_config.json`` too;
- :func:`expected_shapes`: the model the config describes, built on torch's ``meta``
  device (nothing allocated), has at most :data:`MAX_ENCODER_PARAMETERS` values;
- :func:`check_headers`: the safetensors headers hold tensors of the shapes the model
  expects (pickled weights are never read);
- after loading, :func:`check_loading_info` and :func:`check_finite`: no missing,
  unexpected or mismatched key, and every weight finite.

The file checks themselves are :mod:`genreclf.core.untrusted`'s; ``torch`` and
``transformers`` are imported only when a model is read.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genreclf.core.errors import ConfigError, one_line
from genreclf.core.untrusted import (
    NotInside,
    Refused,
    TooLarge,
    capped_size,
    json_object,
    read_capped,
    resolve_inside,
    safetensors_header,
)

INSTALL = "pip install -e '.[hf]'"
#: Files of a model folder whose bytes enter the cache key: weights, configs and code.
DIGESTED_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".json", ".py"}
)
#: Largest ``config.json`` read (bytes).
MAX_CONFIG_BYTES = 1 << 20
#: Bounds of the sizes a ``config.json`` may set, checked before any model is built.
CONFIG_CAPS = {
    "hidden_size": 16384,
    "num_hidden_layers": 256,
    "intermediate_size": 65536,
    "num_attention_heads": 1024,
}
#: Bound of any other integer in ``config.json`` (its absolute value).
MAX_CONFIG_INT = 2**31 - 1
#: Longest list in ``config.json`` (e.g. ``conv_dim``: one entry per convolution).
MAX_CONFIG_LIST = 1024
#: Most parameter and buffer values a model (and its weights files) may hold.
MAX_ENCODER_PARAMETERS = 10**9
NOT_A_MODEL = "not a readable Hugging Face model folder"
#: What each non-empty list of transformers' loading info holds, and what that means.
_LOADING_PROBLEMS = {
    "missing_keys": ("tensor", "missing from the weights (transformers would make them random)"),
    "unexpected_keys": ("tensor", "in the weights that the model does not have"),
    "mismatched_keys": ("tensor", "of another shape than the model's"),
    "error_msgs": ("error", "while loading the weights"),
}


class HFEncoderError(ConfigError):
    """``transformers`` is missing, or the model is missing, unreadable or broken.

    One line naming ``features.model``; a configuration error (exit status 2).
    """


def import_transformers() -> Any:
    """The ``transformers`` module, or one line saying how to install it."""
    try:
        import transformers
    except ImportError:
        raise HFEncoderError(
            f"features=hf_encoder needs the transformers package: {INSTALL}"
        ) from None
    return transformers


def folder_error(model: str, why: str) -> HFEncoderError:
    """The one-line error of a model whose files are broken."""
    return HFEncoderError(f"features.model={model}: {why}")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text[:limit] + ("..." if len(text) > limit else "")


def check_files(folder: Path, model: str, root: Path | None = None) -> None:
    """Refuse a folder whose files link out of it or are not plain files.

    Every file that could be used (weights, configs, code: the suffixes of
    :data:`DIGESTED_SUFFIXES`, hidden ones aside) must resolve inside ``root``
    (default: ``folder``; a hub snapshot's root is its repository's cache folder,
    which holds the blobs its links point to).

    Raises
    ------
    HFEncoderError
        Naming the first file that links out, loops or is not a regular file.
    """
    root = root or folder
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.suffix not in DIGESTED_SUFFIXES or any(
            part.startswith(".") for part in path.relative_to(folder).parts
        ):
            continue
        try:
            resolve_inside(path, root)
        except NotInside as exc:
            raise folder_error(
                model, f"{name} links outside the model folder (to {exc.target})"
            ) from None
        except Refused as exc:  # a dangling link, a loop, not a regular file
            raise folder_error(model, f"{name}: {exc}") from None


def read_config_json(folder: Path, model: str) -> dict[str, Any]:
    """``folder/config.json`` as a dict, read with :mod:`json` (at most :data:`MAX_CONFIG_BYTES`).

    Raises
    ------
    HFEncoderError
        If it is missing, too large, not JSON (``NaN`` and ``Infinity`` included) or
        not an object.
    """
    path = folder / "config.json"
    if not path.is_file():
        raise folder_error(
            model,
            f"{NOT_A_MODEL} (config.json and weights saved with save_pretrained): no config.json",
        )
    try:
        return json_object(read_capped(path.resolve(), MAX_CONFIG_BYTES))
    except TooLarge:
        raise folder_error(model, f"config.json is larger than {MAX_CONFIG_BYTES} bytes") from None
    except Refused as exc:  # not JSON, not an object, not a regular file
        raise folder_error(model, f"config.json is {exc}") from None


def check_preprocessor_size(folder: Path, model: str) -> None:
    """Refuse a ``preprocessor_config.json`` above :data:`MAX_CONFIG_BYTES` (transformers reads it).

    Raises
    ------
    HFEncoderError
    """
    path = folder / "preprocessor_config.json"
    if path.is_file():
        try:
            capped_size(path, MAX_CONFIG_BYTES)
        except TooLarge:
            raise folder_error(
                model, f"preprocessor_config.json is larger than {MAX_CONFIG_BYTES} bytes"
            ) from None


def _values(config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every ``(dotted key, value)`` of a JSON tree, depth first, without recursion."""
    stack: list[tuple[str, Any]] = [("", config)]
    while stack:
        key, value = stack.pop()
        yield key, value
        if isinstance(value, dict):
            stack.extend((f"{key}.{k}".lstrip("."), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{key}[{i}]", v) for i, v in enumerate(value))


def check_config_sizes(config: dict[str, Any], model: str) -> None:
    """Refuse sizes above :data:`CONFIG_CAPS`, :data:`MAX_CONFIG_INT` or :data:`MAX_CONFIG_LIST`.

    Raises
    ------
    HFEncoderError
        Naming the first key at fault.
    """
    for key, cap in CONFIG_CAPS.items():
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap:
            raise folder_error(
                model, f"config.json {key}={_short(value)}: must be an integer in [1, {cap}]"
            )
    for key, value in _values(config):
        if isinstance(value, int) and abs(value) > MAX_CONFIG_INT:
            raise folder_error(model, f"config.json {key}={_short(value)}: above {MAX_CONFIG_INT}")
        if isinstance(value, list) and len(value) > MAX_CONFIG_LIST:
            raise folder_error(
                model, f"config.json {key}: {len(value)} entries, above {MAX_CONFIG_LIST}"
            )


def expected_shapes(config: Any, trust_remote_code: bool, model: str) -> dict[str, tuple[int, ...]]:
    """Name and shape of every tensor of the model ``config`` describes.

    The model is built on torch's ``meta`` device: nothing is allocated.

    Raises
    ------
    HFEncoderError
        If ``config`` builds no model, a model of more than
        :data:`MAX_ENCODER_PARAMETERS` values, or one that does not take raw audio.
    """
    import torch

    transformers = import_transformers()
    try:
        with torch.device("meta"):
            net = transformers.AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise folder_error(model, f"config.json builds no model ({one_line(exc)})") from None
    shapes = {name: tuple(t.shape) for name, t in net.state_dict().items()}
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_ENCODER_PARAMETERS:
        raise folder_error(
            model,
            f"config.json describes {total:.3g} parameters, above the cap "
            f"{MAX_ENCODER_PARAMETERS:.0e}",
        )
    if "input_values" not in inspect.signature(net.forward).parameters:
        raise folder_error(model, f"{type(net).__name__} takes no raw audio (input_values)")
    return shapes


def weights_files(folder: Path, model: str) -> list[Path]:
    """The folder's ``*.safetensors`` files (at least one).

    Raises
    ------
    HFEncoderError
        If there is none (a pickled ``pytorch_model.bin`` is never read).
    """
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise folder_error(
            model,
            f"{NOT_A_MODEL} (config.json and weights saved with save_pretrained): "
            "no *.safetensors weights file",
        )
    return files


def check_headers(files: list[Path], expected: dict[str, tuple[int, ...]], model: str) -> None:
    """Refuse weights files that hold nothing, too much, or a tensor of the wrong shape.

    A tensor whose name the model also has must have its shape. Other names (an old
    checkpoint's, that transformers renames on loading) are judged by the loading
    itself (:func:`load_encoder`).

    Raises
    ------
    HFEncoderError
        Naming the file and the tensor at fault.
    """
    total = 0
    for path in files:
        try:
            header = safetensors_header(path)
        except Refused as exc:
            raise folder_error(model, f"{path.name}: not a safetensors file ({exc})") from None
        for name, (_, shape) in header.items():
            want = expected.get(name)
            if want is not None and shape != want:
                raise folder_error(
                    model,
                    f"{path.name}: {name} has shape {list(shape)}, the model's config "
                    f"needs {list(want)}",
                )
            total += math.prod(shape)
        if total > MAX_ENCODER_PARAMETERS:
            raise folder_error(model, f"{path.name}: more than {MAX_ENCODER_PARAMETERS:.0e} values")
    if total == 0:
        raise folder_error(model, f"{', '.join(p.name for p in files)}: no weights (no tensors)")


def check_loading_info(model: str, info: dict[str, Any]) -> None:
    """Refuse any missing, unexpected or mismatched key that transformers reports.

    transformers has already left out the keys each model class declares as ignored
    (``_keys_to_ignore_on_load_missing`` and ``_unexpected``).
    """
    for key, (noun, meaning) in _LOADING_PROBLEMS.items():
        found = sorted(str(k) for k in info.get(key) or ())
        if found:
            n = len(found)
            shown = ", ".join(one_line(k, limit=80) for k in found[:3])
            more = f" and {n - 3} more" if n > 3 else ""
            raise folder_error(model, f"{n} {noun}{'s' * (n != 1)} {meaning}: {shown}{more}")


def check_finite(model: str, net: Any) -> None:
    """Refuse a model with a NaN or infinite weight."""
    import torch

    for name, tensor in net.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise folder_error(model, f"weights: {name} holds NaN or infinite values")
