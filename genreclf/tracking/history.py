"""Per-epoch curves of a run, read back from MLflow."""

from __future__ import annotations

import pandas as pd

from genreclf.tracking import names
from genreclf.tracking.store import Store


def epoch_curves(store: Store, run_id: str) -> pd.DataFrame:
    """Per-epoch training and validation loss and accuracy of a run, so far.

    Lightning logs metrics by global step, with an ``epoch`` metric at the same
    steps; rows are re-indexed by epoch (the last value of each epoch kept). The
    validation of the selected checkpoint after training is logged one epoch past the
    last one, with no training metrics; that row is dropped.

    Returns
    -------
    pandas.DataFrame
        One row per epoch; any of the columns ``train_loss``, ``val_loss``,
        ``train_acc``, ``val_acc``.
    """
    history = store.metric_history(run_id, [*names.CURVE_KEYS, names.EPOCH])
    if names.EPOCH in history:
        history = history.dropna(subset=[names.EPOCH]).groupby(names.EPOCH).last()
    history = history.dropna(axis=1, how="all")
    train = [key for key in ("train_loss", "train_acc") if key in history]
    if train:
        history = history[history[train].notna().any(axis=1)]
    return history
