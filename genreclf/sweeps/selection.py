"""Keep the validation-selected weights in memory instead of in checkpoint files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback


@dataclass(frozen=True)
class Snapshot:
    """The selection as it stood when a milestone epoch ended.

    ``state`` is the best weights up to then, ``best_epoch`` their epoch (0-based) and
    ``global_step`` the trainer's step count at the milestone.
    """

    state: dict[str, torch.Tensor]
    best_epoch: int
    global_step: int


class BestWeights(Callback):
    """Copy the weights whenever ``monitor`` improves; restore the best copy when fit ends.

    The in-memory counterpart of ``ModelCheckpoint(save_top_k=1)`` for sweeps: no file
    is written per improvement and nothing is read back. After ``fit`` the module holds
    the weights of the best validation epoch, so validating and testing it with
    ``ckpt_path=None`` scores the val-selected model, as ``ckpt_path="best"`` would.

    Parameters
    ----------
    monitor : str
        Logged validation metric to select on.
    mode : {"min", "max"}
        Whether lower or higher is better. Ties keep the earlier epoch.
    milestones : sequence of int
        Epoch counts at which the selection so far is kept in :attr:`snapshots`: what
        a fit with ``max_epochs=m`` would have ended with, for each milestone ``m``
        that the fit reaches.
    """

    def __init__(self, monitor: str, mode: str, milestones: Sequence[int] = ()) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r}: must be 'min' or 'max'")
        self.monitor = monitor
        self.mode = mode
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self._state: dict[str, torch.Tensor] | None = None
        self.milestones = tuple(milestones)
        self.snapshots: dict[int, Snapshot] = {}

    @property
    def state(self) -> dict[str, torch.Tensor] | None:
        """The best weights so far (``None`` before the first validation)."""
        return self._state

    def snapshot_now(self, trainer: pl.Trainer) -> Snapshot:
        """The selection as it stands now (after ``fit``: the fit's own result)."""
        if self._state is None or self.best_epoch is None:
            raise RuntimeError("BestWeights: no validation epoch has been seen")
        return Snapshot(self._state, self.best_epoch, trainer.global_step)

    def _better(self, score: float) -> bool:
        if not math.isfinite(score):
            return False
        if self.best_score is None:
            return True
        return score < self.best_score if self.mode == "min" else score > self.best_score

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise KeyError(f"BestWeights: metric {self.monitor!r} was not logged")
        score = float(value)
        if self._better(score):
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self._state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        epochs = trainer.current_epoch + 1
        if epochs in self.milestones and self._state is not None:
            # _state is replaced, never changed in place: holding it is a snapshot.
            self.snapshots[epochs] = Snapshot(self._state, self.best_epoch, trainer.global_step)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._state is not None:
            pl_module.load_state_dict(self._state)


def selected_checkpoint(trainer: pl.Trainer) -> str | None:
    """``ckpt_path`` that scores the validation-selected model after ``trainer.fit``.

    ``"best"`` with a ``ModelCheckpoint``; ``None`` (the module's weights as they are)
    with :class:`BestWeights`, which has restored the best epoch's weights.

    Raises
    ------
    ValueError
        If the trainer has neither, so no model was selected on validation.
    """
    if trainer.fast_dev_run:  # a smoke run (debug=fast): one step, nothing selected or saved
        return None
    if trainer.checkpoint_callback is not None:
        return "best"
    if any(isinstance(c, BestWeights) for c in trainer.callbacks):
        return None
    raise ValueError(
        "no model selection: add a ModelCheckpoint or genreclf.sweeps.selection.BestWeights"
        " callback"
    )


def selected_epoch(trainer: pl.Trainer) -> int:
    """The epoch (0-based) of the validation-selected model after ``trainer.fit``.

    From :class:`BestWeights`, or from the best checkpoint of a ``ModelCheckpoint``.
    """
    for callback in trainer.callbacks:
        if isinstance(callback, BestWeights) and callback.best_epoch is not None:
            return callback.best_epoch
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.best_model_path:
        return int(torch.load(checkpoint.best_model_path, weights_only=False)["epoch"])
    raise ValueError("no model selection: no BestWeights epoch and no best checkpoint")
