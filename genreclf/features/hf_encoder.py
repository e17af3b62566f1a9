"""Hugging Face audio encoders as a feature set (``features=hf_encoder``).

Any self-supervised speech or music encoder that ``transformers.AutoModel`` loads and
that takes raw audio (``input_values``) and returns ``hidden_states``: HuBERT,
wav2vec2, WavLM, data2vec-audio, and MERT (whose modelling code lives in its hub
repository: it needs ``features.trust_remote_code=true``, an explicit opt-in, since
that code runs in this process). ``features.model`` is a folder saved with
``save_pretrained`` or a hub id; by default nothing is downloaded
(``features.local_files_only=true``).

The signal is cut into non-overlapping windows of ``window_seconds`` (the last,
shorter one kept if it lasts at least 1 s or if it is the only one), each encoded on
its own, so memory stays bounded whatever the length. Each window's input is
normalised as the model's feature extractor does (its ``preprocessor_config.json``:
``Wav2Vec2FeatureExtractor`` normalises to zero mean and unit variance only if its
``do_normalize`` is set); a model without one gets every window normalised to zero
mean and unit variance.

Weights are read from safetensors files only; a model with pickled weights only
(``pytorch_model.bin``) is refused (convert it once with ``save_pretrained``).

The model is checked before any clip is read (:func:`check_encoder`, run by the first
use of the feature set: its ``columns`` or ``params()``); a broken one is a
configuration error (:class:`HFEncoderError`, one line, exit status 2):

- every file it uses resolves inside the folder (no link out of it);
- ``config.json`` is JSON of at most :data:`MAX_CONFIG_BYTES`, with sizes under
  :data:`CONFIG_CAPS`, and the model it describes, built on torch's ``meta`` device
  (nothing allocated), has at most :data:`MAX_ENCODER_PARAMETERS` values;
- the safetensors headers hold tensors, each of the shape the model expects;
- transformers loads the weights with no missing, unexpected or mismatched key (a
  MISSING report would mean random layers), and every weight is finite.

Needs the ``transformers`` package (``pip install -e '.[hf]'``); ``torch`` and
``transformers`` are imported only when a model is read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field, Strict

from genreclf.errors import ConfigError, one_line
from genreclf.features.sets import FEATURE_SETS, EncoderPooling, PooledEncoder, Rate, Seconds
from genreclf.params import AnyText, Bool, Int
from genreclf.registry import RegistryError

INSTALL = "pip install -e '.[hf]'"
#: Files of a model folder whose bytes enter the cache key: weights, configs and code.
DIGESTED_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".json", ".py"}
)
#: A window shorter than this (seconds) is dropped, unless it is the only one.
MIN_WINDOW_SECONDS = 1.0
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
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_LAYER = re.compile(r"-?\d+")
_NOT_A_MODEL = "not a readable Hugging Face model folder"
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


def _transformers() -> Any:
    """The ``transformers`` module, or one line saying how to install it."""
    try:
        import transformers
    except ImportError:
        raise HFEncoderError(
            f"features=hf_encoder needs the transformers package: {INSTALL}"
        ) from None
    return transformers


def _local_folder(model: str) -> Path | None:
    """``model`` as an existing local folder; None for a hub id.

    Raises
    ------
    HFEncoderError
        If ``model`` is neither an existing folder nor shaped like a hub id.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise HFEncoderError(f"features.model={model}: not a folder")
    if not _HUB_ID.fullmatch(model):
        raise HFEncoderError(
            f"features.model={model}: no such folder (a model saved with save_pretrained, "
            "or a Hugging Face hub id)"
        )
    return None


def _missing(model: str, exc: BaseException) -> HFEncoderError:
    """The one-line error of a model whose files cannot be read."""
    if _local_folder(model) is not None:
        return HFEncoderError(
            f"features.model={model}: {_NOT_A_MODEL} "
            f"(config.json and weights saved with save_pretrained): {one_line(exc)}"
        )
    return HFEncoderError(
        f"features.model={model}: not found offline (features.local_files_only=true); "
        f"download it once with features.local_files_only=false or "
        f"`huggingface-cli download {model}`, or set features.model=<folder saved with "
        f"save_pretrained> ({one_line(exc)})"
    )


def _quiet(transformers: Any) -> None:
    """No progress bars while loading (one per worker process otherwise)."""
    transformers.utils.logging.disable_progress_bar()


@contextlib.contextmanager
def _no_load_report(transformers: Any) -> Iterator[None]:
    """Keep transformers' multi-line LOAD REPORT off the console: genreclf says it in one line."""
    logging = transformers.utils.logging
    before = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before)


@functools.lru_cache(maxsize=8)
def model_config(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> Any:
    """The model's config (``config.json`` only; no weights are read).

    ``weights`` (see :meth:`HFEncoder.weights`) only keys the per-process cache, so
    that a folder whose files changed is read again.

    Raises
    ------
    HFEncoderError
        If ``transformers`` is missing or the config cannot be found or read.
    """
    transformers = _transformers()
    _local_folder(model)
    try:
        return transformers.AutoConfig.from_pretrained(
            model, trust_remote_code=trust_remote_code, local_files_only=local_files_only
        )
    except (OSError, ValueError, KeyError) as exc:
        raise _missing(model, exc) from exc


@functools.lru_cache(maxsize=2)
def load_encoder(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> Any:
    """The encoder, in eval mode and float32, loaded once per process (and ``weights``).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    HFEncoderError
        If ``transformers`` is missing or the weights cannot be found or read.
    """
    transformers = _transformers()
    _quiet(transformers)
    _local_folder(model)
    try:
        with _no_load_report(transformers):
            net, info = transformers.AutoModel.from_pretrained(
                model,
                trust_remote_code=trust_remote_code,
                local_files_only=local_files_only,
                use_safetensors=True,  # pickled weights (pytorch_model.bin) are never unpickled
                output_loading_info=True,
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise _missing(model, exc) from exc
    _check_loading_info(model, info)
    _check_finite(model, net)
    return net.float().eval()


@functools.lru_cache(maxsize=8)
def load_extractor(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> Any:
    """The model's feature extractor (its ``preprocessor_config.json``), or None without one.

    Raises
    ------
    HFEncoderError
        If ``transformers`` is missing, or a folder's preprocessor config is unreadable.
    """
    transformers = _transformers()
    folder = _local_folder(model)
    if folder is not None and not (folder / "preprocessor_config.json").is_file():
        return None
    try:
        return transformers.AutoFeatureExtractor.from_pretrained(
            model, trust_remote_code=trust_remote_code, local_files_only=local_files_only
        )
    except (OSError, ValueError, KeyError) as exc:
        if folder is not None:
            raise _missing(model, exc) from exc
        return None  # a hub model without a preprocessor config


# ------------------------------------------------------------------- folder checks
def _bad(model: str, why: str) -> HFEncoderError:
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
    root = (root or folder).resolve()
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.suffix not in DIGESTED_SUFFIXES or any(
            part.startswith(".") for part in path.relative_to(folder).parts
        ):
            continue
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # a dangling link or a loop
            raise _bad(model, f"{name}: cannot be resolved ({one_line(exc)})") from None
        if not target.is_relative_to(root):
            raise _bad(model, f"{name} links outside the model folder (to {target})")
        if not target.is_file():
            raise _bad(model, f"{name}: not a regular file")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


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
        raise _bad(
            model,
            f"{_NOT_A_MODEL} (config.json and weights saved with save_pretrained): no config.json",
        )
    with path.open("rb") as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise _bad(model, f"config.json is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        config = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise _bad(model, f"config.json is not valid JSON ({one_line(exc)})") from None
    if not isinstance(config, dict):
        raise _bad(model, "config.json is not a JSON object")
    return config


def check_preprocessor_size(folder: Path, model: str) -> None:
    """Refuse a ``preprocessor_config.json`` above :data:`MAX_CONFIG_BYTES` (transformers reads it).

    Raises
    ------
    HFEncoderError
    """
    path = folder / "preprocessor_config.json"
    if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
        raise _bad(model, f"preprocessor_config.json is larger than {MAX_CONFIG_BYTES} bytes")


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
            raise _bad(
                model, f"config.json {key}={_short(value)}: must be an integer in [1, {cap}]"
            )
    for key, value in _values(config):
        if isinstance(value, int) and abs(value) > MAX_CONFIG_INT:
            raise _bad(model, f"config.json {key}={_short(value)}: above {MAX_CONFIG_INT}")
        if isinstance(value, list) and len(value) > MAX_CONFIG_LIST:
            raise _bad(model, f"config.json {key}: {len(value)} entries, above {MAX_CONFIG_LIST}")


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

    transformers = _transformers()
    try:
        with torch.device("meta"):
            net = transformers.AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise _bad(model, f"config.json builds no model ({one_line(exc)})") from None
    shapes = {name: tuple(t.shape) for name, t in net.state_dict().items()}
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_ENCODER_PARAMETERS:
        raise _bad(
            model,
            f"config.json describes {total:.3g} parameters, above the cap "
            f"{MAX_ENCODER_PARAMETERS:.0e}",
        )
    if "input_values" not in inspect.signature(net.forward).parameters:
        raise _bad(model, f"{type(net).__name__} takes no raw audio (input_values)")
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
        raise _bad(
            model,
            f"{_NOT_A_MODEL} (config.json and weights saved with save_pretrained): "
            "no *.safetensors weights file",
        )
    return files


def header_shapes(path: Path, model: str) -> dict[str, tuple[int, ...]]:
    """Name and shape of each tensor of a safetensors file, from its header alone.

    Raises
    ------
    HFEncoderError
        If the file is not safetensors (empty, truncated, another format).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (OSError, SafetensorError) as exc:
        raise _bad(model, f"{path.name}: not a safetensors file ({one_line(exc)})") from None


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
        shapes = header_shapes(path, model)
        for name, shape in shapes.items():
            want = expected.get(name)
            if want is not None and shape != want:
                raise _bad(
                    model,
                    f"{path.name}: {name} has shape {list(shape)}, the model's config "
                    f"needs {list(want)}",
                )
            total += math.prod(shape)
        if total > MAX_ENCODER_PARAMETERS:
            raise _bad(model, f"{path.name}: more than {MAX_ENCODER_PARAMETERS:.0e} values")
    if total == 0:
        raise _bad(model, f"{', '.join(p.name for p in files)}: no weights (no tensors)")


def _check_loading_info(model: str, info: dict[str, Any]) -> None:
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
            raise _bad(model, f"{n} {noun}{'s' * (n != 1)} {meaning}: {shown}{more}")


def _check_finite(model: str, net: Any) -> None:
    """Refuse a model with a NaN or infinite weight."""
    import torch

    for name, tensor in net.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise _bad(model, f"weights: {name} holds NaN or infinite values")


def cached_snapshot(model: str) -> Path | None:
    """The cached snapshot folder of hub model ``model`` (its ``config.json``'s), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model, "config.json")
    return Path(found).parent if isinstance(found, str) else None


@functools.lru_cache(maxsize=8)
def check_encoder(
    model: str, trust_remote_code: bool, local_files_only: bool, weights: str = ""
) -> None:
    """Refuse a model that is missing, incomplete, mis-shaped, too large or linked out.

    In order: the folder's files (:func:`check_files`), ``config.json``
    (:func:`read_config_json`, :func:`check_config_sizes`), the model it describes
    (:func:`expected_shapes`), the weights' headers (:func:`check_headers`), and then
    the loading itself (:func:`load_encoder`: no missing, unexpected or mismatched
    key; finite weights). A hub model not cached yet is checked from its config and
    its loading. Once per process and ``weights`` (see :meth:`HFEncoder.weights`).

    Raises
    ------
    HFEncoderError
        One line naming ``features.model`` and what is wrong.
    """
    _transformers()
    folder = _local_folder(model)
    snapshot = folder or cached_snapshot(model)
    if snapshot is not None:
        check_files(snapshot, model, root=folder or snapshot.parent.parent)
        check_config_sizes(read_config_json(snapshot, model), model)
        check_preprocessor_size(snapshot, model)
    config = model_config(model, trust_remote_code, local_files_only, weights)
    expected = expected_shapes(config, trust_remote_code, model)
    if snapshot is not None:
        check_headers(weights_files(snapshot, model), expected, model)
    load_encoder(model, trust_remote_code, local_files_only, weights)


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    from genreclf.features.cache import file_digest

    return file_digest(path)


def folder_digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of a model folder's weight, config and code files.

    Each file is hashed once per process (while its size and modification time stay).
    """
    h = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in DIGESTED_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for p in files:
        stat = p.stat()
        digest = _file_digest(str(p), stat.st_size, stat.st_mtime_ns)
        h.update(json.dumps([p.relative_to(folder).as_posix(), digest]).encode())
    return h.hexdigest()


def hub_revision(model: str) -> str | None:
    """The cached commit of hub model ``model`` (from its cached ``config.json``), or None."""
    snapshot = cached_snapshot(model)
    return None if snapshot is None else snapshot.name


#: ``last``, ``all``, or a hidden-state index written as a str (a logged ``"3"``).
LayerName = Annotated[
    str, Strict(), Field(pattern=r"^(last|all|-?\d{1,4})$", description="last, all or an index")
]


@FEATURE_SETS.register("hf_encoder")
@dataclass
class HFEncoder(PooledEncoder):
    """Hidden states of a pretrained Hugging Face audio encoder, averaged over time.

    Parameters
    ----------
    model : str
        A folder saved with ``save_pretrained`` or a hub id (e.g.
        ``facebook/hubert-base-ls960``, ``m-a-p/MERT-v1-95M``); must be set.
    layer : int or str
        Which hidden state: an index into ``hidden_states`` (0 is the convolutional
        front end's projected output, ``num_hidden_layers`` the last transformer
        layer; negative counts from the end), ``last``, or ``all`` (every hidden
        state, ``L = num_hidden_layers + 1`` of them). Kept as a str (``3`` -> ``"3"``).
    pooling : str
        ``mean`` over every frame of every window, ``mean_std`` (mean then standard
        deviation over those frames, ``2 d`` values) for one row per clip, or
        ``segments``: one row per window (its frames' mean), averaged per track at
        evaluation like the frame-level sets.
    window_seconds : float
        Length of the non-overlapping windows encoded one at a time.
    sr : int or None
        Loading rate; must be the model's (its feature extractor's ``sampling_rate``).
    trust_remote_code : bool
        Run the modelling code of the model's repository (MERT needs it): opt in only
        for code you trust.
    local_files_only : bool
        Never download (the default); ``false`` fetches a hub model once into the
        Hugging Face cache.

    Returns
    -------
    :meth:`compute` gives float32 ``(d,)`` (``mean``), ``(2 d,)`` (``mean_std``) or
    ``(windows, d)`` (``segments``) for one layer, and ``(L, d)``, ``(L, 2 d)`` or
    ``(windows, L, d)`` with ``layer=all``; ``d`` is the model's ``hidden_size``.
    Columns ``hf_1..hf_d`` (``mean_std``: ``hf_mean_1..``, then ``hf_std_1..``).
    """

    name: ClassVar[str] = "hf_encoder"
    sr: Rate | None = 16000
    model: AnyText = ""
    layer: Int(ge=-1024, le=1024) | LayerName = "last"
    pooling: EncoderPooling = "mean"
    window_seconds: Seconds = 10.0
    trust_remote_code: Bool = False
    local_files_only: Bool = True

    def __post_init__(self) -> None:
        self.layer = str(self.layer)  # an index is kept as a str (3 -> "3")

    # --------------------------------------------------------------------- shape
    @property
    def output_ndim(self) -> int:
        return 1 + (self.layer == "all") + self.frame_level

    @property
    def segment_seconds(self) -> float:
        """Window length: what one row of ``pooling=segments`` covers."""
        return float(self.window_seconds)

    def _require_model(self) -> None:
        if not self.model.strip():
            raise RegistryError(
                "features=hf_encoder needs a model: set features.model=<folder or hub id>"
            )

    def _load_args(self) -> tuple[str, bool, bool, str]:
        """What the loaders take; the model checked first (see :meth:`check`)."""
        self._require_model()
        args = (self.model, self.trust_remote_code, self.local_files_only, self.weights())
        check_encoder(*args)
        return args

    def check(self) -> None:
        """Refuse a broken model before any clip is read (:func:`check_encoder`).

        Every use of the model (``columns``, ``params()``, ``compute``) runs it first;
        once per process and weights.

        Raises
        ------
        HFEncoderError
            One line, a configuration error (exit status 2).
        RegistryError
            If no model is set.
        """
        self._load_args()

    def _config(self) -> Any:
        return model_config(*self._load_args())

    def weights(self) -> str:
        """What identifies the weights (part of the cache key).

        A digest of a local folder's weight, config and code files (see
        :func:`folder_digest`), or the cached commit of a hub model (``hub:<commit>``;
        ``hub:unknown`` if none is cached).
        """
        self._require_model()
        folder = _local_folder(self.model)
        if folder is not None:
            check_files(folder, self.model)  # no link out of the folder is read
            return folder_digest(folder)
        return f"hub:{hub_revision(self.model) or 'unknown'}"

    @property
    def num_states(self) -> int:
        """``L``: how many hidden states the model returns (its layers, plus the input)."""
        return int(self._config().num_hidden_layers) + 1

    def layer_index(self) -> int | None:
        """The index into ``hidden_states`` (non-negative), or None for ``layer=all``.

        Raises
        ------
        RegistryError
            If the index is out of range for the model.
        """
        if self.layer == "all":
            return None
        n = self.num_states
        index = n - 1 if self.layer == "last" else int(self.layer)
        if not -n <= index < n:
            raise RegistryError(
                f"features.layer={self.layer}: out of range for {self.model} "
                f"({n} hidden states: 0..{n - 1}, or -{n}..-1, last, all)"
            )
        return index % n

    def _extractor(self) -> Any:
        return load_extractor(*self._load_args())

    def _check_rate(self, sr: int | None) -> None:
        """Refuse a rate other than the model's (its feature extractor's ``sampling_rate``)."""
        want = getattr(self._extractor(), "sampling_rate", None)
        if want is not None and sr != want:
            raise RegistryError(
                f"features.sr={sr}: {self.model} reads audio at {want} Hz: set features.sr={want}"
            )
        if sr is None:
            raise RegistryError(
                f"features.sr=null: {self.model} has no feature extractor naming its rate; "
                "set features.sr=<the rate it was trained at>"
            )

    @property
    def columns(self) -> list[str]:
        """``hf_1..hf_d`` (``d``: the model's ``hidden_size``); none while no model is set."""
        if not self.model.strip():
            return []
        self.layer_index()  # an out-of-range layer or a wrong rate is refused before any work
        self._check_rate(self.sr)
        d = int(self._config().hidden_size)
        if self.pooling == "mean_std":
            return [f"hf_mean_{i}" for i in range(1, d + 1)] + [
                f"hf_std_{i}" for i in range(1, d + 1)
            ]
        return [f"hf_{i}" for i in range(1, d + 1)]

    def params(self) -> dict[str, Any]:
        """The fields, plus :meth:`weights`."""
        self._config()  # a missing model is named here, before any file is read
        return {**super().params(), "weights": self.weights()}

    # ------------------------------------------------------------------- compute
    def windows(self, y: np.ndarray, sr: int) -> list[np.ndarray]:
        """Non-overlapping windows of ``window_seconds``.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
        sr : int

        Returns
        -------
        list of np.ndarray
            Each ``(window_seconds * sr,)``; the last one shorter, kept if it lasts
            at least :data:`MIN_WINDOW_SECONDS` or if it is the only one.
        """
        length = max(1, int(round(self.window_seconds * sr)))
        pieces = [y[start : start + length] for start in range(0, len(y), length)]
        if len(pieces) > 1 and len(pieces[-1]) < MIN_WINDOW_SECONDS * sr:
            pieces.pop()
        return pieces or [y]

    def _inputs(self, window: np.ndarray, sr: int, extractor: Any) -> np.ndarray:
        """``(1, samples)`` model input of one window, normalised as the model expects."""
        if extractor is not None:
            out = extractor(window, sampling_rate=sr, return_tensors="np")
            return np.asarray(out["input_values"], dtype=np.float32).reshape(1, -1)
        x = window.astype(np.float64)
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        return x.astype(np.float32).reshape(1, -1)

    def embed(self, y: np.ndarray, sr: int) -> list[np.ndarray]:
        """Hidden states of each window, kept layers only.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            Mono signal at the model's rate.
        sr : int

        Returns
        -------
        list of np.ndarray
            One ``(L', frames, d)`` float32 array per window; ``L'`` is ``L`` for
            ``layer=all``, else 1.
        """
        import torch

        self._require_model()
        self._check_rate(sr)
        net = load_encoder(*self._load_args())
        extractor = self._extractor()
        index = self.layer_index()
        rows = []
        with torch.inference_mode():
            for window in self.windows(np.asarray(y, dtype=np.float32), sr):
                x = torch.from_numpy(self._inputs(window, sr, extractor))
                states = net(input_values=x, output_hidden_states=True).hidden_states
                if len(states) != self.num_states:
                    raise RegistryError(
                        f"features.model={self.model}: returned {len(states)} hidden states, "
                        f"its config says {self.num_states}"
                    )
                kept = states if index is None else (states[index],)
                rows.append(torch.cat([s[:1].float() for s in kept]).numpy())
        return rows

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        rows = self.embed(y, sr)  # each (L', frames, d)
        if self.pooling == "segments":
            out = np.stack([r.mean(axis=1) for r in rows])  # (windows, L', d)
        else:
            frames = np.concatenate(rows, axis=1).astype(np.float64)  # (L', all frames, d)
            out = frames.mean(axis=1)
            if self.pooling == "mean_std":
                out = np.concatenate([out, frames.std(axis=1)], axis=-1)
            out = out[None]  # (1, L', d or 2 d)
        if self.layer != "all":
            out = out[:, 0]
        if not self.frame_level:
            out = out[0]
        return np.ascontiguousarray(out, dtype=np.float32)
