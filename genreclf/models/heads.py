"""Classifier heads: map a batch of features to class logits.

Every head takes ``input_shape`` (one example's shape without the batch axis:
``(d,)`` for summary features, ``(frames, d)`` for frame-level segments) and
``num_classes``, plus the shared knobs ``hidden_size``, ``num_layers``, ``dropout``
(the dense head alone takes ``num_layers=0``: a linear probe).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from genreclf.core.params import Bool, Float, Int
from genreclf.core.registry import Registry
from genreclf.models import effective

#: Heads by name (the ``conf/model/`` option names).
HEADS: Registry[nn.Module] = Registry("head", group="model")

#: The widest hidden layer and the deepest stack a head may declare.
MAX_WIDTH, MAX_LAYERS = 16384, 64

#: The shared knobs, declared once for every head.
HiddenSize = Int(ge=1, le=MAX_WIDTH)
Layers = Int(ge=1, le=MAX_LAYERS)
Dropout = Float(ge=0, lt=1)
#: A kernel, patch or step length.
Length = Int(ge=1, le=4096)


class LayerWeighting(nn.Module):
    """A learned softmax-weighted sum over the layer axis of ``(batch, layers, d)`` inputs.

    MARBLE's probe over every hidden layer of a pretrained encoder (``layer=all``):
    the weights start equal. Parameters: ``layers`` (the axis length).
    """

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.logits, dim=0)
        return torch.einsum("l,bl...->b...", weights, x)


def _layer_weighting(
    input_shape: tuple[int, ...], layer_weights: bool
) -> tuple[list[nn.Module], tuple[int, ...]]:
    """The optional :class:`LayerWeighting` stage and the shape after it."""
    if not layer_weights:
        return [], input_shape
    if len(input_shape) != 2:
        raise ValueError(
            f"model.layer_weights=true needs (layers, d) inputs (an encoder's layer=all), "
            f"got examples of shape {input_shape}"
        )
    return [LayerWeighting(input_shape[0])], input_shape[1:]


class Head(nn.Module):
    """Base of the heads: what of a head's params can change the model."""

    @classmethod
    def effective_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without those that cannot change this head (see
        :mod:`genreclf.models.effective`, where the rule of each head is kept torch-free).
        """
        return effective.effective_params(f"{cls.__module__}.{cls.__qualname__}", params)


@HEADS.register("dense")
class DenseHead(Head):
    """Multi-layer perceptron; frame-level inputs are flattened.

    With ``num_layers=0`` it is a linear probe (``model=linear``): one Linear layer, the
    usual probe of pretrained embeddings (HEAR, MARBLE); ``hidden_size`` and
    ``dropout`` then play no part.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one example.
    num_classes : int
        Number of output logits.
    hidden_size, num_layers, dropout
        Width and depth of the hidden stack (Linear, ReLU, Dropout).
    batch_norm : bool
        Put a BatchNorm1d after each hidden Linear layer.
    layer_weights : bool
        Inputs are ``(layers, d)`` (an encoder's every layer); a learned softmax-weighted
        sum over layers (:class:`LayerWeighting`) comes first.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        hidden_size: HiddenSize,
        num_layers: Int(ge=0, le=MAX_LAYERS),  # 0: a linear probe
        dropout: Dropout,
        batch_norm: Bool,
        layer_weights: Bool,
    ) -> None:
        super().__init__()
        layers, input_shape = _layer_weighting(tuple(input_shape), layer_weights)
        layers.append(nn.Flatten())
        width = math.prod(input_shape)
        for _ in range(num_layers):
            layers.append(nn.Linear(width, hidden_size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_size))
            layers += [nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@HEADS.register("cnn")
class CNNHead(Head):
    """1-D convolutional network.

    A summary vector ``(d,)`` is one channel of length ``d``; a frame-level
    segment ``(frames, d)`` has ``d`` channels along time. The first block is a
    patch convolution (kernel and stride ``patch_size``), which reads
    ``ceil(length / patch_size)`` patches; each further block is Conv1d
    (``kernel_size``), BatchNorm, ReLU and max-pooling by 2 while at least
    ``2 * pooled_length`` positions remain. An adaptive average pool then keeps
    ``pooled_length`` positions, so the classifier sees
    ``hidden_size * pooled_length`` values whatever the input length.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        hidden_size: HiddenSize,
        num_layers: Layers,
        dropout: Dropout,
        kernel_size: Length,
        pooled_length: Length,
        patch_size: Length,
    ) -> None:
        super().__init__()
        self.frame_level = len(input_shape) == 2
        channels, length = (
            (input_shape[1], input_shape[0]) if self.frame_level else (1, input_shape[0])
        )
        self.pad = (-length) % patch_size
        length = (length + self.pad) // patch_size
        blocks: list[nn.Module] = [
            nn.Conv1d(channels, hidden_size, patch_size, stride=patch_size),
            nn.BatchNorm1d(hidden_size),
            nn.ReLU(),
        ]
        for _ in range(num_layers - 1):
            if length >= 2 * pooled_length:
                blocks.append(nn.MaxPool1d(2))
                length //= 2
            blocks += [
                nn.Conv1d(hidden_size, hidden_size, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm1d(hidden_size),
                nn.ReLU(),
            ]
        blocks += [nn.AdaptiveAvgPool1d(pooled_length), nn.Flatten(), nn.Dropout(dropout)]
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(hidden_size * pooled_length, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2) if self.frame_level else x.unsqueeze(1)
        return self.classifier(self.features(nn.functional.pad(x, (0, self.pad))))


@HEADS.register("rnn")
class LSTMHead(Head):
    """LSTM over a sequence; the last layer's final hidden state feeds the classifier.

    A frame-level segment ``(frames, d)`` is a sequence of ``frames`` steps. A
    summary vector ``(d,)`` has no time axis; it is read as ``ceil(d / step_size)``
    steps of ``step_size`` values (zero-padded), never as a sequence of length 1.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        hidden_size: HiddenSize,
        num_layers: Layers,
        dropout: Dropout,
        step_size: Length,
    ) -> None:
        super().__init__()
        self.frame_level = len(input_shape) == 2
        self.step_size = input_shape[1] if self.frame_level else step_size
        self.pad = 0 if self.frame_level else (-input_shape[0]) % step_size
        self.lstm = nn.LSTM(
            self.step_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.frame_level:
            x = nn.functional.pad(x, (0, self.pad)).reshape(len(x), -1, self.step_size)
        _, (h, _) = self.lstm(x)
        return self.classifier(self.dropout(h[-1]))


def model_name(
    choice: object, target: object = None, params: Mapping[str, Any] | None = None
) -> str:
    """A run's model as built (``dense``, ``linear``, ``cnn``).

    ``choice`` is the run's :data:`~genreclf.tracking.names.MODEL_TAG`. With the head's
    ``params`` (the run's ``model.*`` params, prefix dropped), a dense head with no
    hidden layer is ``linear`` whatever its tag (:func:`effective.built_name`). Runs logged
    before that tag are named from their ``model._target_`` param: the head's registered
    name (``genreclf.models.heads.DenseHead`` gives ``dense``), else its class name, else
    ``unknown``.
    """
    from genreclf.core.registry import RegistryError

    built = effective.built_name(choice, target, params)
    if built:
        return built
    if not isinstance(target, str) or not target:
        return "unknown"
    try:
        return HEADS.name_of(target)
    except RegistryError:
        return target.rsplit(".", 1)[-1]


def build_head(
    name: str,
    params: Mapping[str, Any],
    *,
    input_shape: Sequence[int],
    num_classes: int,
) -> nn.Module:
    """Build the head registered as ``name`` from checked plain ``params``.

    Parameters
    ----------
    name : str
        ``dense``, ``cnn`` or ``rnn``.
    params : Mapping
        Its knobs (``hidden_size``, ...); ``_target_`` (of this head) and ``_partial_``
        are accepted and dropped.
    input_shape : sequence of int
        One example's shape, ``(d,)`` or ``(frames, d)``.
    num_classes : int
        Number of output logits.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    genreclf.core.registry.RegistryError
        Unknown head, unknown parameter or a value of the wrong type.
    """
    return HEADS.build(
        name, params, input_shape=tuple(int(n) for n in input_shape), num_classes=int(num_classes)
    )


def count_parameters(
    name: str,
    params: Mapping[str, Any],
    *,
    input_shape: Sequence[int],
    num_classes: int,
) -> int:
    """How many values the head's state dict holds, counted without allocating them.

    The head is built on PyTorch's ``meta`` device (shapes only, no memory), so a
    model spec can be sized before any of its tensors exists.

    Parameters
    ----------
    name, params, input_shape, num_classes
        As for :func:`build_head`.

    Returns
    -------
    int
        Elements of its parameters and buffers.

    Raises
    ------
    genreclf.core.registry.RegistryError
        As :func:`build_head`.
    """
    with torch.device("meta"):
        head = build_head(name, params, input_shape=input_shape, num_classes=num_classes)
    return sum(tensor.numel() for tensor in head.state_dict().values())
