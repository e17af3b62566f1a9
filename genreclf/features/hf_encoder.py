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

Needs the ``transformers`` package (``pip install -e '.[hf]'``); ``torch`` and
``transformers`` are imported only when a model is read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genreclf.data.errors import DataError
from genreclf.features.sets import ENCODER_POOLINGS, FEATURE_SETS, PooledEncoder
from genreclf.registry import RegistryError

POOLINGS = ENCODER_POOLINGS
INSTALL = "pip install -e '.[hf]'"
#: Files of a model folder whose bytes enter the cache key: weights, configs and code.
DIGESTED_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".json", ".py"}
)
#: A window shorter than this (seconds) is dropped, unless it is the only one.
MIN_WINDOW_SECONDS = 1.0
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_LAYER = re.compile(r"-?\d+")


class HFEncoderError(DataError):
    """``transformers`` or the model's files are missing or unreadable (one line)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


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
            f"features.model={model}: not a readable Hugging Face model folder "
            f"(config.json and weights saved with save_pretrained): {_one_line(exc)}"
        )
    return HFEncoderError(
        f"features.model={model}: not found offline (features.local_files_only=true); "
        f"download it once with features.local_files_only=false or "
        f"`huggingface-cli download {model}`, or set features.model=<folder saved with "
        f"save_pretrained> ({_one_line(exc)})"
    )


def _quiet(transformers: Any) -> None:
    """No progress bars while loading (one per worker process otherwise)."""
    transformers.utils.logging.disable_progress_bar()


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
        net = transformers.AutoModel.from_pretrained(
            model,
            trust_remote_code=trust_remote_code,
            local_files_only=local_files_only,
            use_safetensors=True,  # pickled weights (pytorch_model.bin) are never unpickled
        )
    except (OSError, ValueError, KeyError) as exc:
        raise _missing(model, exc) from exc
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
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model, "config.json")
    if not isinstance(found, str):
        return None
    return Path(found).parent.name


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
    sr: int | None = 16000
    model: str = ""
    layer: int | str = "last"
    pooling: str = "mean"
    window_seconds: float = 10.0
    trust_remote_code: bool = False
    local_files_only: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.layer, int) and not isinstance(self.layer, bool):
            self.layer = str(self.layer)
        if not isinstance(self.layer, str) or not (
            self.layer in ("last", "all") or _LAYER.fullmatch(self.layer)
        ):
            raise RegistryError(
                f"features.layer={self.layer}: must be a hidden-state index (e.g. 6, -1), "
                "last or all"
            )
        if self.pooling not in POOLINGS:
            raise RegistryError(
                f"features.pooling={self.pooling}: must be one of {', '.join(POOLINGS)}"
            )
        if not self.window_seconds > 0:
            raise RegistryError(f"features.window_seconds={self.window_seconds}: must be > 0")

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
        self._require_model()
        return self.model, self.trust_remote_code, self.local_files_only, self.weights()

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
