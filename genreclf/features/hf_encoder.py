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

The model is checked before any clip is read
(:func:`~genreclf.features.hf_loading.check_encoder`, run by the first use of the
feature set: its ``columns`` or ``params()``): its files stay inside its folder, its
``config.json`` and safetensors headers are sized before anything is built or
allocated, and its loading leaves no weight missing, unexpected, mis-shaped or not
finite (:mod:`genreclf.features.hf_folder`). A broken one is a configuration error
(:class:`~genreclf.features.hf_folder.HFEncoderError`, one line, exit status 2).
Loading is :mod:`genreclf.features.hf_loading`'s.

Needs the ``transformers`` package (``pip install -e '.[hf]'``); ``torch`` and
``transformers`` are imported only when a model is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field, Strict

from genreclf.core.params import AnyText, Bool, Int
from genreclf.core.registry import RegistryError
from genreclf.features.hf_folder import check_files
from genreclf.features.hf_loading import (
    check_encoder,
    folder_digest,
    hub_revision,
    load_encoder,
    load_extractor,
    local_folder,
    model_config,
)
from genreclf.features.sets import FEATURE_SETS, EncoderPooling, PooledEncoder, Rate, Seconds

#: A window shorter than this (seconds) is dropped, unless it is the only one.
MIN_WINDOW_SECONDS = 1.0

#: ``last``, ``all``, or a hidden-state index written as a str (a logged ``"3"``).
LayerName = Annotated[
    str, Strict(), Field(pattern=r"^(last|all|-?\d{1,4})$", description="last, all or an index")
]


@FEATURE_SETS.register("hf_encoder")
@dataclass(kw_only=True)
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
    sr: Rate | None
    model: AnyText
    layer: Int(ge=-1024, le=1024) | LayerName
    pooling: EncoderPooling
    window_seconds: Seconds
    trust_remote_code: Bool
    local_files_only: Bool

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
        """Refuse a broken model before any clip is read (:func:`hf_loading.check_encoder`).

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
        folder = local_folder(self.model)
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
