"""What a training run logs to MLflow besides metrics: config, report, figures, model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from matplotlib import pyplot as plt
from mlflow.models import infer_signature
from omegaconf import DictConfig, OmegaConf

from genreclf.reports.figures import confusion_matrix_figure, curves_figure
from genreclf.tracking.history import metric_history
from genreclf.tracking.store import with_retry

CURVE_KEYS = ["train_loss", "val_loss", "train_acc", "val_acc"]


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
    history = metric_history(client, run_id, [*CURVE_KEYS, "epoch"])
    if "epoch" in history:
        history = history.dropna(subset=["epoch"]).groupby("epoch").last()
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


def log_torch_model(run_id: str, model: torch.nn.Module, example: torch.Tensor) -> None:
    """Log ``model`` as an MLflow PyTorch model named ``model``, with an inferred signature."""
    model.eval()
    with torch.no_grad():
        output = model(example).numpy()
    signature = infer_signature(example.numpy(), output)
    with mlflow.start_run(run_id=run_id):
        mlflow.pytorch.log_model(
            model, name="model", signature=signature, input_example=example.numpy()
        )
