"""GenreClassifier: the LightningModule that trains a head with cross-entropy."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from genreclf.core.params import Float


def aggregate_by_track(
    probs: torch.Tensor, target: torch.Tensor, group: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average row (segment) probabilities per track.

    Returns one probability row and one target per distinct ``group`` value,
    in ascending group order.
    """
    tracks, index = torch.unique(group, return_inverse=True)
    summed = torch.zeros(len(tracks), probs.shape[1], dtype=probs.dtype).index_add_(0, index, probs)
    counts = torch.bincount(index, minlength=len(tracks)).unsqueeze(1)
    track_target = torch.zeros(len(tracks), dtype=target.dtype).scatter_(0, index, target)
    return summed / counts, track_target


class GenreClassifier(pl.LightningModule):
    """Train a classifier head; score validation and test per track.

    Batches are ``(x, y, group)``, where ``group`` numbers the track each row
    belongs to. Segment probabilities are averaged per track before accuracy and
    macro-F1 are computed, so the reported figures are track-level.

    Parameters
    ----------
    head : nn.Module
        Maps ``x`` to logits.
    optimizer : callable
        ``optimizer(params) -> torch.optim.Optimizer``, e.g. a ``_partial_`` from config.
    class_names : list of str
        Label names, in encoded order.
    label_smoothing : float
        Cross-entropy label smoothing of the training loss (validation and test losses
        are plain cross-entropy).
    mixup_alpha : float
        With ``> 0``, each training batch is mixed with a shuffled copy of itself,
        ``lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)``, and the
        loss mixed likewise (mixup, Zhang et al. 2018). ``0`` turns it off.
    """

    def __init__(
        self,
        head: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        class_names: list[str],
        label_smoothing: Float(ge=0, lt=1),
        mixup_alpha: Float(ge=0, le=1000),
    ) -> None:
        super().__init__()
        self.head = head
        self.optimizer_factory = optimizer
        self.class_names = list(class_names)
        self.loss = nn.CrossEntropyLoss()
        self.train_loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.mixup = torch.distributions.Beta(mixup_alpha, mixup_alpha) if mixup_alpha else None
        self._train_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.test_predictions: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        if self.mixup is None:
            logits = self(x)
            loss = self.train_loss(logits, y)
        else:
            lam = float(self.mixup.sample())
            perm = torch.randperm(len(y))
            logits = self(lam * x + (1 - lam) * x[perm])
            loss = lam * self.train_loss(logits, y) + (1 - lam) * self.train_loss(logits, y[perm])
        self._train_outputs.append((loss.detach() * len(y), logits.detach().argmax(dim=1), y))
        return loss

    def on_train_epoch_end(self) -> None:
        """Log the epoch's training loss, accuracy and macro-F1 (one ``log`` call per epoch)."""
        if not self._train_outputs:
            return
        losses, preds, targets = zip(*self._train_outputs, strict=True)
        self._train_outputs.clear()
        pred, y = torch.cat(preds), torch.cat(targets)
        n = len(self.class_names)
        metrics = {
            "train_loss": torch.stack(losses).sum() / len(y),
            "train_acc": multiclass_accuracy(pred, y, n, average="micro"),
            "train_f1": multiclass_f1_score(pred, y, n, average="macro"),
        }
        self.log_dict(metrics, prog_bar=False)

    def _eval_step(self, batch: tuple[torch.Tensor, ...], stage: str) -> None:
        x, y, group = batch
        logits = self(x)
        self.log(
            f"{stage}_loss",
            self.loss(logits, y),
            on_epoch=True,
            batch_size=len(y),
            prog_bar=stage == "val",
        )
        self._outputs.append((logits.softmax(dim=1).detach(), y, group))

    def _eval_epoch_end(self, stage: str) -> None:
        probs, y, group = (torch.cat(t) for t in zip(*self._outputs, strict=True))
        self._outputs.clear()
        track_probs, track_y = aggregate_by_track(probs, y, group)
        n = len(self.class_names)
        self.log(
            f"{stage}_acc",
            multiclass_accuracy(track_probs, track_y, n, average="micro"),
            prog_bar=stage == "val",
        )
        self.log(f"{stage}_f1", multiclass_f1_score(track_probs, track_y, n, average="macro"))
        if stage == "test":
            self.test_predictions = (track_probs, track_y)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")
