"""What a training run logs to MLflow besides metrics and the model: config, report, figures.

The model itself is logged by :mod:`genreclf.tracking.model`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from omegaconf import DictConfig, OmegaConf

from genreclf.reports.figures import confusion_matrix_figure, curves_figure
from genreclf.tracking.history import epoch_curves
from genreclf.tracking.store import with_retry


def log_run_artifacts(
    client,
    run_id: str,
    cfg: DictConfig,
    report: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: list[str],
    skipped: pd.DataFrame,
) -> None:
    """Log the resolved config, classification report, confusion matrix, curves and manifest."""
    history = epoch_curves(client, run_id)
    figures = {
        "confusion_matrix.png": confusion_matrix_figure(y_true, y_pred, class_names),
        "curves.png": curves_figure(history),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        (folder / "classification_report.txt").write_text(report)
        skipped.to_csv(folder / "skipped_files.csv", index=False)
        for name, fig in figures.items():
            fig.savefig(folder / name, dpi=100)
            plt.close(fig)
        with_retry(lambda: client.log_artifacts(run_id, str(folder)))
