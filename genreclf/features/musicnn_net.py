"""The musicnn and VGG music-tagging networks in PyTorch, with the musicnn wheel's weights.

A port of the architectures in the ``musicnn`` 0.1.0 package (``musicnn/models.py``,
Pons and Serra, ISC licence) for inference only: batch normalisation uses the stored
moving statistics (TensorFlow's ``epsilon=1e-3``), dropout is off. Weights are read
from the package's TensorFlow checkpoints by :mod:`genreclf.features.tf_bundle`; the
package itself is never imported (it needs TensorFlow).

Inputs are log-mel patches ``(batch, frames, 96)``: 16 kHz audio, ``n_fft=512``,
``hop_length=256``, ``log10(10000 * mel + 1)`` (see :func:`log_mel`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genreclf.data.errors import DataError
from genreclf.features.tf_bundle import read_bundle

#: The checkpoints the musicnn 0.1.0 wheel ships (``<model>/`` folders in the package).
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames of one 3 s input patch, as the original computes them:
#: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``.
PATCH_FRAMES = 187
_EPS = 1e-3
INSTALL = "pip install --no-deps musicnn==0.1.0"


class MusicnnMissing(DataError):
    """The musicnn wheel (its weight files) is not installed."""


def package_dir() -> Path:
    """The installed ``musicnn`` package's folder, found without importing it.

    Raises
    ------
    MusicnnMissing
        One line naming the install command.
    """
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MusicnnMissing(f"features=musicnn needs the musicnn weights: {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_prefix(model: str) -> str:
    """Checkpoint prefix of one of :data:`MODELS` (``<package>/<model>/``)."""
    if model not in MODELS:
        raise ValueError(f"musicnn model {model!r}: expected one of {', '.join(MODELS)}")
    folder = package_dir() / model
    if not (folder / ".index").is_file():
        raise MusicnnMissing(f"musicnn: no checkpoint in {folder}: {INSTALL}")
    return f"{folder}/"


def labels(model: str) -> list[str]:
    """Tag names of ``model``'s 50 outputs, read from the package's ``configuration.py``.

    The file is parsed as Python literals (``ast``), never executed.
    """
    import ast

    source = (package_dir() / "configuration.py").read_text()
    wanted = "MTT_LABELS" if model.startswith("MTT") else "MSD_LABELS"
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == wanted:
            return [str(tag) for tag in ast.literal_eval(node.value)]
    raise MusicnnMissing(f"musicnn: no {wanted} in {package_dir() / 'configuration.py'}")


def log_mel(y: np.ndarray, *, sr: int = SR) -> np.ndarray:
    """musicnn's input representation, computed in float32.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio at 16 kHz.
    sr : int
        Its rate (must be 16000).

    Returns
    -------
    np.ndarray, shape (frames, 96)
        ``log10(10000 * mel + 1)`` of librosa's power mel spectrogram. The original
        casts the mel power to float16 first, which overflows on loud audio; float32
        keeps the same tags on its reference clips.
    """
    import librosa

    if sr != SR:
        raise ValueError(f"musicnn expects {SR} Hz audio, got {sr}")
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=sr, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS
    )
    return np.log10(10000 * mel.T.astype(np.float32) + 1).astype(np.float32)


def patches(spec: np.ndarray, *, frames: int = PATCH_FRAMES, whole_if_short: bool) -> np.ndarray:
    """Non-overlapping patches of a log-mel spectrogram, as the original batches them.

    Parameters
    ----------
    spec : np.ndarray, shape (n_frames, 96)
    frames : int
        Patch length; the trailing partial patch is dropped.
    whole_if_short : bool
        A spectrogram shorter than one patch is one patch of its own length (musicnn
        pools over time, so it reads any length); otherwise it is padded with
        silence (zeros) to ``frames`` (VGG needs a fixed size).

    Returns
    -------
    np.ndarray, shape (n_patches, frames, 96)
    """
    n = len(spec) // frames
    if n == 0:
        if whole_if_short:
            return spec[None]
        return np.pad(spec, ((0, frames - len(spec)), (0, 0)))[None]
    return np.ascontiguousarray(spec[: n * frames].reshape(n, frames, spec.shape[1]))


class _BatchNorm(nn.Module):
    """Inference batch norm on axis ``dim`` from TensorFlow's four tensors."""

    def __init__(self, w: dict[str, np.ndarray], name: str) -> None:
        super().__init__()
        scale = w[f"{name}/gamma"] / np.sqrt(w[f"{name}/moving_variance"] + _EPS)
        shift = w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale
        self.register_buffer("scale", torch.from_numpy(np.array(scale, np.float32)))
        self.register_buffer("shift", torch.from_numpy(np.array(shift, np.float32)))

    def forward(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[dim] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32))  # a writable copy


class MusicnnNet(nn.Module):
    """musicnn: a musically motivated front-end, dense mid-end and temporal pooling.

    Parameters
    ----------
    weights : dict of str to np.ndarray
        The checkpoint's tensors (:func:`read_bundle`).

    Notes
    -----
    :meth:`forward` returns, for a batch ``(batch, frames, 96)``:
    ``taggram`` ``(batch, 50)`` (sigmoid), ``penultimate`` ``(batch, 200)``,
    ``mean_pool`` and ``max_pool`` ``(batch, 753)`` (the front- and mid-end features
    pooled over time).
    """

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        bn = [_BatchNorm(weights, "batch_normalization")]
        bn += [_BatchNorm(weights, f"batch_normalization_{i}") for i in range(1, 11)]
        self.bn = nn.ModuleList(bn)
        conv = [(weights["conv2d/kernel"], weights["conv2d/bias"])]
        conv += [(weights[f"conv2d_{i}/kernel"], weights[f"conv2d_{i}/bias"]) for i in range(1, 8)]
        # front-end: TF (time, freq, 1, out) -> torch (out, 1, time, freq)
        self.front_w = [_tensor(k.transpose(3, 2, 0, 1)) for k, _ in conv[:5]]
        self.front_b = [_tensor(b) for _, b in conv[:5]]
        # mid-end: TF (7, in, 1, out) -> conv1d (out, in, 7)
        self.mid_w = [_tensor(k[:, :, 0, :].transpose(2, 1, 0)) for k, _ in conv[5:]]
        self.mid_b = [_tensor(b) for _, b in conv[5:]]
        self.dense_w = _tensor(weights["dense/kernel"].T)
        self.dense_b = _tensor(weights["dense/bias"])
        self.out_w = _tensor(weights["dense_1/kernel"].T)
        self.out_b = _tensor(weights["dense_1/bias"])

    def _front(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, frames, 96)`` normalised input to ``(batch, 561, frames)``.

        Each block is conv, ReLU, batch norm, then max over frequency. ReLU and the
        per-channel affine norm are monotonic, so the max is taken first (the min for
        a channel whose norm scale is negative): the same values, without normalising
        the whole feature map. One patch at a time keeps each map in cache.
        """
        outs = []
        for i, (w, b) in enumerate(zip(self.front_w, self.front_b, strict=True)):
            k = w.shape[2]
            # timbral blocks pad time by 3 on each side then convolve 'valid'; temporal
            # blocks use TF's 'same' (the extra row of an even kernel goes after)
            pad = (0, 0, 3, 3) if i < 2 else (0, 0, (k - 1) // 2, k // 2)
            norm = self.bn[i + 1]
            flip = norm.scale < 0
            pooled = []
            for patch in F.pad(x, pad).split(1):
                y = F.conv2d(patch, w)
                top = y.amax(dim=3)
                if bool(flip.any()):
                    top = torch.where(flip.view(1, -1, 1), y.amin(dim=3), top)
                pooled.append(top)
            y = torch.cat(pooled) + b.view(1, -1, 1)
            outs.append(norm(F.relu(y)))
        return torch.cat(outs, dim=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.bn[0](x.unsqueeze(1))
        front = self._front(x)
        mids, h = [], front
        for j, (w, b) in enumerate(zip(self.mid_w, self.mid_b, strict=True)):
            y = self.bn[6 + j](F.relu(F.conv1d(F.pad(h, (3, 3)), w, b)))
            h = y if j == 0 else y + h
            mids.append(h)
        feats = torch.cat([front, *mids], dim=1)  # (batch, 753, frames)
        max_pool, mean_pool = feats.amax(dim=2), feats.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF's (753, 2) order
        flat = self.bn[9](flat)
        penultimate = self.bn[10](F.relu(flat @ self.dense_w.T + self.dense_b))
        logits = penultimate @ self.out_w.T + self.out_b
        return {
            "taggram": torch.sigmoid(logits),
            "penultimate": penultimate,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
        }


class VggNet(nn.Module):
    """The VGG-like baseline: five 3x3 conv blocks with max-pooling, then one dense layer.

    :meth:`forward` returns ``taggram`` ``(batch, 50)`` and ``pool5`` ``(batch, 256)``
    (the flattened last pooling, the output layer's input) for ``(batch, 187, 96)``.
    """

    _POOLS = ((4, 1, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (4, 4, 4, 4))

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.bn = nn.ModuleList(
            [_BatchNorm(weights, "batch_normalization")]
            + [_BatchNorm(weights, f"batch_normalization_{i}") for i in range(1, 6)]
        )
        self.conv_w = [
            _tensor(weights[f"{i}CNN/kernel"].transpose(3, 2, 0, 1)) for i in range(1, 6)
        ]
        self.conv_b = [_tensor(weights[f"{i}CNN/bias"]) for i in range(1, 6)]
        self.out_w = _tensor(weights["dense/kernel"].T)
        self.out_b = _tensor(weights["dense/bias"])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.bn[0](x.unsqueeze(1))
        for i, (w, b) in enumerate(zip(self.conv_w, self.conv_b, strict=True)):
            h = self.bn[i + 1](F.relu(F.conv2d(h, w, b, padding=1)))
            kh, kw, sh, sw = self._POOLS[i]
            h = F.max_pool2d(h, (kh, kw), (sh, sw))
        pool5 = h.permute(0, 2, 3, 1).flatten(1)  # TF flattens (height, width, channels)
        return {"taggram": torch.sigmoid(pool5 @ self.out_w.T + self.out_b), "pool5": pool5}


def load_network(model: str) -> nn.Module:
    """The network of one of :data:`MODELS` with the wheel's weights, in eval mode."""
    weights = read_bundle(checkpoint_prefix(model))
    net = VggNet(weights) if model.endswith("vgg") else MusicnnNet(weights)
    return net.eval()
