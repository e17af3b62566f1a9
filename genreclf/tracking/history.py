"""Metric histories read back from MLflow."""

from __future__ import annotations

import pandas as pd


def metric_history(client, run_id: str, keys: list[str]) -> pd.DataFrame:
    """Per-step values of ``keys`` for one run, one row per step (epoch), one column per key."""
    series = {
        key: pd.Series({m.step: m.value for m in client.get_metric_history(run_id, key)})
        for key in keys
    }
    frame = pd.DataFrame(series).sort_index()
    frame.index.name = "step"
    return frame


CURVE_KEYS = ["train_loss", "val_loss", "train_acc", "val_acc"]


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
