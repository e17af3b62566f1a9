"""The keys of the third-party groups: ``trainer``, ``optimizer``, ``callbacks``.

Each class genreclf's ``conf/`` builds there (``torch.optim.Adam``, ``AdamW``, ``SGD``,
Lightning's ``Trainer``, ``EarlyStopping``, ``ModelCheckpoint`` and genreclf's
``BestWeights``) has its keyword arguments listed in :data:`KNOWN_KEYS` (those of torch
2.13 and Lightning 2.6), typed and bounded in the models below; any other key is
refused with one line naming the known ones::

    optimizer.lrr=0.1: unknown key; known keys of optimizer (adam): lr, betas, ...

Nothing here imports torch or Lightning: the check runs before either is loaded. A
``_target_`` of another class (a callback of one's own) has its other keys left to it.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from genreclf.core.params import STRICT, AnyText, Bool, Float, Int, Options, Text, rule, show

Precision = Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32"]
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)
Monitored = Literal["val_loss", "val_acc", "val_f1", "train_loss", "train_acc", "train_f1"]

_ADAM = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach")
_ADAM_LOW_LEVEL = ("capturable", "differentiable", "fused")
_EARLY = (
    "monitor",
    "min_delta",
    "patience",
    "verbose",
    "mode",
    "strict",
    "check_finite",
    "stopping_threshold",
    "divergence_threshold",
    "check_on_train_epoch_end",
    "log_rank_zero_only",
)
_CHECKPOINT = (
    "dirpath",
    "filename",
    "monitor",
    "verbose",
    "save_last",
    "save_top_k",
    "save_on_exception",
    "save_weights_only",
    "mode",
    "auto_insert_metric_name",
    "every_n_train_steps",
    "train_time_interval",
    "every_n_epochs",
    "save_on_train_epoch_end",
    "enable_version_counter",
)
_TRAINER = (
    "accelerator",
    "strategy",
    "devices",
    "num_nodes",
    "precision",
    "logger",
    "callbacks",
    "fast_dev_run",
    "max_epochs",
    "min_epochs",
    "max_steps",
    "min_steps",
    "max_time",
    "limit_train_batches",
    "limit_val_batches",
    "limit_test_batches",
    "limit_predict_batches",
    "overfit_batches",
    "val_check_interval",
    "check_val_every_n_epoch",
    "num_sanity_val_steps",
    "log_every_n_steps",
    "enable_checkpointing",
    "enable_progress_bar",
    "enable_model_summary",
    "accumulate_grad_batches",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "deterministic",
    "benchmark",
    "inference_mode",
    "use_distributed_sampler",
    "profiler",
    "detect_anomaly",
    "barebones",
    "plugins",
    "sync_batchnorm",
    "reload_dataloaders_every_n_epochs",
    "default_root_dir",
    "enable_autolog_hparams",
    "model_registry",
)

#: Keyword arguments of each class a third-party group builds, by the class's name (the
#: last part of its ``_target_``), in the order of its signature (torch 2.13, Lightning 2.6).
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "Adam": (*_ADAM, "capturable", "differentiable", "fused", "decoupled_weight_decay"),
    "AdamW": (*_ADAM, *_ADAM_LOW_LEVEL),
    "SGD": (
        "lr",
        "momentum",
        "dampening",
        "weight_decay",
        "nesterov",
        "maximize",
        "foreach",
        "differentiable",
        "fused",
    ),
    "Trainer": _TRAINER,
    "EarlyStopping": _EARLY,
    "ModelCheckpoint": _CHECKPOINT,
    "BestWeights": ("monitor", "mode", "milestones"),
}
#: Hydra's own keys of a node that builds an object.
HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")


def class_name(target: Any) -> str:
    """The class a ``_target_`` names, without its module (``torch.optim.Adam``: ``Adam``)."""
    return str(target).rpartition(".")[2] if target else ""


def known_keys(target: Any) -> tuple[str, ...] | None:
    """The keyword arguments of the class ``target`` names (``None``: not one of ours)."""
    return KNOWN_KEYS.get(class_name(target))


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
#: A number of batches (an int) or a share of them (a number in [0, 1]).
Batches = Annotated[
    Int(ge=0, le=2**31) | Float(ge=0, le=1),
    Field(description="a count of batches (an int >= 0) or a share in [0, 1]"),
]
#: torch's ``betas``: two running-average coefficients.
Betas = Annotated[
    tuple[Float(ge=0, lt=1), Float(ge=0, lt=1)],
    Field(description="a list of two finite numbers in [0, 1)"),
]
_CLOSED = ConfigDict(**{**STRICT, "extra": "forbid"})


class ThirdParty(Options):
    """A third-party class's keyword arguments: those :data:`KNOWN_KEYS` lists, no other.

    ``_target_`` and ``_partial_`` are Hydra's and are not part of the checked values.
    """

    model_config = _CLOSED
    #: How a refusal names the node (``optimizer``); the chosen class follows it.
    NODE: ClassVar[str] = ""
    target: AnyText | None = Field(None, alias="_target_", exclude=True)
    partial: Bool | None = Field(None, alias="_partial_", exclude=True)
    recursive: Bool | None = Field(None, alias="_recursive_", exclude=True)
    convert: AnyText | None = Field(None, alias="_convert_", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _known(cls, values: Any) -> Any:
        """Refuse a key the ``_target_`` class does not take; leave a foreign class's keys."""
        if not isinstance(values, Mapping):
            return values
        known = known_keys(values.get("_target_"))
        fields = {f.alias or name for name, f in cls.model_fields.items()}
        if known is None:  # no target (all our keys) or a class of one's own (not judged)
            return (
                values
                if not values.get("_target_")
                else {k: v for k, v in values.items() if k in fields}
            )
        for key, value in values.items():
            if key not in known and key not in HYDRA_KEYS:
                name = class_name(values.get("_target_"))
                node = f"{cls.NODE} ({name.lower()})" if cls.NODE else name
                node = cls.NODE if name.lower() == cls.NODE else node
                raise ValueError(
                    f"{key}={show(value)}: unknown key; known keys of {node}: {', '.join(known)}"
                )
        return values


class TrainerOptions(ThirdParty):
    """``conf/trainer/``: the Lightning Trainer's keys (absent: Lightning's default)."""

    NODE: ClassVar[str] = "trainer"
    accelerator: Text | None = None
    strategy: Text | Mapping[str, Any] | None = None
    devices: Devices = None
    num_nodes: Int(ge=1, le=100_000) = None
    precision: Precision = None
    logger: Bool | Mapping[str, Any] | list[Any] | None = None
    callbacks: Mapping[str, Any] | list[Any] | None = None
    fast_dev_run: Bool | Int(ge=0, le=1_000_000) | None = None
    max_epochs: Int(ge=1, le=1_000_000) = None
    min_epochs: Int(ge=0, le=1_000_000) | None = None
    max_steps: Int(ge=-1, le=2**31) = None
    min_steps: Int(ge=0, le=2**31) | None = None
    max_time: Text | Mapping[str, Int(ge=0)] | None = None
    limit_train_batches: Batches | None = None
    limit_val_batches: Batches | None = None
    limit_test_batches: Batches | None = None
    limit_predict_batches: Batches | None = None
    overfit_batches: Batches = None
    val_check_interval: Int(ge=1, le=2**31) | Float(gt=0, le=1) | None = None
    check_val_every_n_epoch: Int(ge=1, le=1_000_000) | None = None
    num_sanity_val_steps: Int(ge=-1, le=1_000_000) = None
    log_every_n_steps: Int(ge=1, le=1_000_000) = None
    enable_checkpointing: Bool = None
    enable_progress_bar: Bool = None
    enable_model_summary: Bool = None
    accumulate_grad_batches: Int(ge=1, le=1_000_000) = None
    gradient_clip_val: Float(ge=0) | None = None
    gradient_clip_algorithm: Literal["value", "norm"] | None = None
    deterministic: Bool | Literal["warn"] | None = None
    benchmark: Bool | None = None
    inference_mode: Bool = None
    use_distributed_sampler: Bool = None
    profiler: Text | Mapping[str, Any] | None = None
    detect_anomaly: Bool = None
    barebones: Bool = None
    plugins: Any = None
    sync_batchnorm: Bool = None
    reload_dataloaders_every_n_epochs: Int(ge=0, le=1_000_000) = None
    default_root_dir: Text | None = None
    enable_autolog_hparams: Bool = None
    model_registry: Text | None = None


def _nesterov(params: Any) -> None:
    if params.nesterov and (not params.momentum or params.dampening):
        raise ValueError(
            f"nesterov=true: needs momentum > 0 and no dampening (momentum={params.momentum})"
        )


class OptimizerOptions(ThirdParty):
    """``conf/optimizer/``: the keys of torch's Adam, AdamW and SGD."""

    NODE: ClassVar[str] = "optimizer"
    lr: Float(gt=0) = None
    betas: Betas = None
    eps: Float(ge=0) = None
    weight_decay: Float(ge=0) = None
    amsgrad: Bool = None
    momentum: Float(ge=0, lt=1) = None
    dampening: Float(ge=0, lt=1) = None
    nesterov: Bool = None
    maximize: Bool = None
    foreach: Bool | None = None
    capturable: Bool = None
    differentiable: Bool = None
    fused: Bool | None = None
    decoupled_weight_decay: Bool = None
    check_nesterov = rule(_nesterov)


class CallbackOptions(ThirdParty):
    """One ``callbacks.<name>`` entry: the keys of early stopping, checkpoints, BestWeights."""

    monitor: Monitored = None
    min_delta: Float(ge=0) = None
    patience: Int(ge=0, le=100_000) = None
    verbose: Bool = None
    mode: Literal["min", "max"] = None
    strict: Bool = None
    check_finite: Bool = None
    stopping_threshold: Float() | None = None
    divergence_threshold: Float() | None = None
    check_on_train_epoch_end: Bool | None = None
    log_rank_zero_only: Bool = None
    dirpath: Text | None = None
    filename: Text | None = None
    save_last: Bool | Literal["link"] | None = None
    save_top_k: Int(ge=-1, le=100_000) = None
    save_on_exception: Bool = None
    save_weights_only: Bool = None
    auto_insert_metric_name: Bool = None
    every_n_train_steps: Int(ge=0, le=2**31) | None = None
    train_time_interval: Text | Mapping[str, Int(ge=0)] | None = None
    every_n_epochs: Int(ge=0, le=1_000_000) | None = None
    save_on_train_epoch_end: Bool | None = None
    enable_version_counter: Bool = None
    milestones: list[Int(ge=0, le=1_000_000)] = None
