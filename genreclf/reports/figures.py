"""Figures of one run: confusion matrix and training curves (matplotlib, no display)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402


def confusion_matrix_figure(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], title: str = ""
) -> Figure:
    """Confusion matrix of track-level predictions, rows = true genre."""
    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=np.arange(len(class_names)),
        display_labels=class_names,
        ax=ax,
        colorbar=False,
        xticks_rotation=45,
    )
    ax.set_title(title or "Confusion matrix (test)")
    return fig


def curves_figure(history: pd.DataFrame, title: str = "") -> Figure:
    """Loss and accuracy per epoch, train against validation.

    ``history`` has one row per epoch and any of the columns ``train_loss``,
    ``val_loss``, ``train_acc``, ``val_acc``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for split in ("train", "val"):
            column = f"{split}_{metric}"
            if column in history:
                ax.plot(history.index, history[column], marker=".", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title or "Training curves")
    return fig
