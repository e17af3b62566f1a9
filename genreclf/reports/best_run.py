"""What a report shows of one run: its curves and the artifacts it logged."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from genreclf.tracking.history import metric_history

#: Per-epoch metrics of a training run.
CURVE_KEYS: tuple[str, ...] = ("train_loss", "val_loss", "train_acc", "val_acc")


def epoch_curves(client, run_id: str) -> pd.DataFrame:
    """Per-epoch training and validation loss and accuracy of a run, so far.

    Lightning logs metrics by global step, with an ``epoch`` metric at the same
    steps; rows are re-indexed by epoch (the last value of each epoch kept). The
    validation of the selected checkpoint after training is logged one epoch past the
    last one, with no training metrics; that row is dropped.
    """
    history = metric_history(client, run_id, [*CURVE_KEYS, "epoch"])
    if "epoch" in history:
        history = history.dropna(subset=["epoch"]).groupby("epoch").last()
    history = history.dropna(axis=1, how="all")
    train = [key for key in ("train_loss", "train_acc") if key in history]
    if train:
        history = history[history[train].notna().any(axis=1)]
    return history


def fetch_artifact(client, run_id: str, name: str, dst: Path) -> Path | None:
    """Copy the artifact ``name`` of a run to the file ``dst``; ``None`` if it has none."""
    if name not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, name, tmp)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, dst)
    return dst
