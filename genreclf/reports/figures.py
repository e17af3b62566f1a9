"""Figures of one run: confusion matrix and training curves (matplotlib, no display).

Labels, run names and file names are read data: every figure draws them through
:func:`plain_text`, so matplotlib never reads them as mathtext.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from genreclf.core.errors import printable  # noqa: E402


def plain_text(value: object) -> str:
    """``value`` as text matplotlib draws as it is: one line, each ``$`` escaped (``\\$``).

    A label such as ``$\\undefinedcmd{x}$`` is then drawn as those characters, not parsed
    as mathtext (which fails at draw time on an unknown command).
    """
    return printable(str(value)).replace("$", r"\$")


def confusion_matrix_figure(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], title: str = ""
) -> Figure:
    """Confusion matrix of track-level predictions, rows = true genre."""
    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=np.arange(len(class_names)),
        display_labels=[plain_text(name) for name in class_names],
        ax=ax,
        colorbar=False,
        xticks_rotation=45,
    )
    ax.set_title(plain_text(title or "Confusion matrix (test)"))
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
    fig.suptitle(plain_text(title or "Training curves"))
    return fig
