"""musicnn embeddings as a feature set (``features=musicnn``).

The pretrained music-tagging networks of the ``musicnn`` 0.1.0 wheel (Pons and Serra,
ISC licence), ported to PyTorch in :mod:`genreclf.features.musicnn_net` with the
wheel's own weights; no TensorFlow. Install the weights with
``pip install --no-deps musicnn==0.1.0``.

Windows follow the models' input: 3 s patches (187 frames of a 16 kHz log-mel), not
overlapping, the trailing partial patch dropped. A clip shorter than one patch is read
whole by the musicnn models (they pool over time, so any length works) and padded with
silence to 3 s for the VGG models (which need a fixed size).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from genreclf.core.params import rule
from genreclf.features.sets import FEATURE_SETS, EncoderPooling, PooledEncoder

Model = Literal["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"]
Layer = Literal["penultimate", "pool", "taggram"]
#: Bumped when the port's numbers change, so cached embeddings are recomputed.
PORT_VERSION = 1
_BATCH = 32


@functools.lru_cache(maxsize=4)
def network(model: str) -> Any:
    """The loaded network of ``model`` (once per process)."""
    from genreclf.features.musicnn_net import load_network

    return load_network(model)


@functools.lru_cache(maxsize=4)
def weights_digest(model: str) -> str:
    """Content digest of ``model``'s checkpoint data (part of the cache key)."""
    from genreclf.features.cache import file_digest
    from genreclf.features.musicnn_net import checkpoint_prefix

    return file_digest(f"{checkpoint_prefix(model)}.data-00000-of-00001")


def layer_outputs(model: str, layer: str, out: dict[str, Any]) -> Any:
    """The ``(batch, d)`` tensor of ``layer`` in a network's outputs."""
    if layer == "taggram":
        return out["taggram"]
    if model.endswith("vgg"):
        return out["pool5"]  # penultimate: the output layer's input
    if layer == "pool":
        return np.concatenate([out["mean_pool"], out["max_pool"]], axis=1)
    return out["penultimate"]


def layer_width(model: str, layer: str) -> int:
    """Width ``d`` of one window's embedding."""
    if layer == "taggram":
        return 50
    if model.endswith("vgg"):
        return 256
    return 1506 if layer == "pool" else 200


def _pool_of_musicnn(params: Any) -> None:
    if params.layer == "pool" and params.model.endswith("vgg"):
        raise ValueError(f"layer=pool: musicnn models only, not {params.model}")


def _installed(params: Any) -> None:
    from genreclf.features.musicnn_net import INSTALL, MusicnnMissing, checkpoint_prefix

    try:
        checkpoint_prefix(params.model)
    except MusicnnMissing:
        raise ValueError(
            f"model={params.model}: the musicnn weights are not installed: {INSTALL}"
        ) from None


@FEATURE_SETS.register("musicnn")
@dataclass(kw_only=True)
class Musicnn(PooledEncoder):
    """Embeddings of a pretrained musicnn or VGG tagger, one per 3 s window.

    Parameters
    ----------
    sr : int
        Loading rate: the models' 16000 Hz (any other value is refused).
    model : str
        ``MSD_musicnn``, ``MTT_musicnn`` (musicnn trained on the Million Song Dataset
        or MagnaTagATune), ``MSD_vgg`` or ``MTT_vgg``.
    layer : str
        ``penultimate`` (musicnn's 200-d dense layer; VGG's 256-d last pooling),
        ``pool`` (musicnn only: the front- and mid-end features, mean then max over
        time, 1506-d) or ``taggram`` (the 50 tag probabilities).
    pooling : str
        ``mean`` over windows, ``mean_std`` (mean then std, ``2 d`` values) for one
        row per clip, or ``segments``: one row per window, averaged per track at
        evaluation like the frame-level sets.

    Returns
    -------
    :meth:`compute` gives ``(d,)``, ``(2 d,)`` or ``(windows, d)`` float32.
    """

    name: ClassVar[str] = "musicnn"
    param_rules: ClassVar[tuple[Any, ...]] = (rule(_pool_of_musicnn), rule(_installed))
    sr: Literal[16000]
    model: Model
    layer: Layer
    pooling: EncoderPooling

    @property
    def output_ndim(self) -> int:
        return 2 if self.frame_level else 1

    @property
    def segment_seconds(self) -> float:
        """Window length (3 s): what predict cuts a song into."""
        return 3.0

    @property
    def columns(self) -> list[str]:
        if self.layer == "taggram":
            from genreclf.features.musicnn_net import labels

            base = [f"tag_{tag.replace(' ', '_')}" for tag in labels(self.model)]
        else:
            base = [f"{self.layer}_{i}" for i in range(1, layer_width(self.model, self.layer) + 1)]
        if self.pooling == "mean_std":
            return [f"mean_{c}" for c in base] + [f"std_{c}" for c in base]
        return base

    def params(self) -> dict[str, Any]:
        return {**super().params(), "weights": weights_digest(self.model), "port": PORT_VERSION}

    def embed(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Per-window embeddings of one 16 kHz signal.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
        sr : int

        Returns
        -------
        np.ndarray, shape (windows, d)
        """
        import torch

        from genreclf.features.musicnn_net import log_mel, patches

        x = patches(log_mel(y, sr=sr), whole_if_short=not self.model.endswith("vgg"))
        net = network(self.model)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(x), _BATCH):
                out = net(torch.from_numpy(x[start : start + _BATCH]))
                out = {k: v.numpy() for k, v in out.items()}
                rows.append(layer_outputs(self.model, self.layer, out))
        return np.concatenate(rows).astype(np.float32)

    def compute(self, y: np.ndarray, sr: int) -> np.ndarray:
        rows = self.embed(y, sr)
        if self.pooling == "segments":
            return rows
        if self.pooling == "mean_std":
            return np.concatenate([rows.mean(axis=0), rows.std(axis=0)]).astype(np.float32)
        return rows.mean(axis=0).astype(np.float32)
