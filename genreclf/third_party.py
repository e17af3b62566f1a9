"""The documented keys of the third-party groups: ``trainer``, ``optimizer``, ``callbacks``.

Only the keys the README documents are declared; any other key is Lightning's or
torch's to judge.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from genreclf.params import STRICT, Bool, Float, Int, Options, Text, rule

Precision = Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32"]
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)
Monitored = Literal["val_loss", "val_acc", "val_f1", "train_loss", "train_acc", "train_f1"]
_OPEN = ConfigDict(**{**STRICT, "extra": "allow"})


def _count(value: Any) -> Any:
    if isinstance(value, int) and (value == 0 or value < -1):
        raise ValueError("must be auto, -1 (all), a count >= 1 or a list of device indices")
    return value


#: Lightning's ``devices``: ``auto``, ``-1`` (all), a count or a list of indices.
Devices = Annotated[
    Literal["auto"] | Int(ge=-1, le=1024) | list[Int(ge=0, le=1024)],
    Field(description="auto, -1 (all), a count >= 1 or a list of device indices"),
    AfterValidator(_count),
]


class TrainerOptions(Options):
    """``conf/trainer/``: the Lightning Trainer's documented keys (absent: Lightning's default)."""

    model_config = _OPEN
    max_epochs: Int(ge=1, le=1_000_000) = None
    log_every_n_steps: Int(ge=1, le=1_000_000) = None
    num_sanity_val_steps: Int(ge=-1, le=1_000_000) = None
    accelerator: Text | None = None
    devices: Devices = None
    precision: Precision = None
    deterministic: Bool = None
    enable_progress_bar: Bool = None
    enable_model_summary: Bool = None
    enable_checkpointing: Bool = None
    fast_dev_run: Bool | Int(ge=0, le=1_000_000) | None = None


def _nesterov(params: Any) -> None:
    if params.nesterov and (not params.momentum or params.dampening):
        raise ValueError(
            f"nesterov=true: needs momentum > 0 and no dampening (momentum={params.momentum})"
        )


class OptimizerOptions(Options):
    """``conf/optimizer/``: the torch optimizer's documented keys."""

    model_config = _OPEN
    lr: Float(gt=0) = None
    weight_decay: Float(ge=0) = None
    momentum: Float(ge=0, lt=1) = None
    dampening: Float(ge=0, lt=1) = None
    nesterov: Bool = None
    fused: Bool | None = None
    check_nesterov = rule(_nesterov)


class CallbackOptions(Options):
    """One ``callbacks.<name>`` entry: the documented keys of early stopping and checkpoints."""

    model_config = _OPEN
    patience: Int(ge=0, le=100_000) = None
    monitor: Monitored = None
    mode: Literal["min", "max"] = None
    save_top_k: Int(ge=-1, le=100_000) = None
