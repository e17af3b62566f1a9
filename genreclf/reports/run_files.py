"""A single run's files: its resolved config, report, confusion matrix, curves, manifest."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def _png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import io

    from matplotlib import pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def log_run_artifacts(store: Any, run_id: str, cfg: DictConfig, outcome: Any, table: Any) -> None:
    """Log the resolved config, classification report, confusion matrix, curves and manifest.

    ``outcome``: the run's :class:`~genreclf.protocol.Outcome`.
    """
    from genreclf.reports.figures import confusion_matrix_figure, curves_figure
    from genreclf.tracking import names
    from genreclf.tracking.artifacts import log_run_files
    from genreclf.tracking.history import epoch_curves
    from genreclf.tracking.uri import mask_uri

    class_names = outcome.datamodule.class_names
    matrix = confusion_matrix_figure(outcome.y_true, outcome.y_pred, class_names)
    curves = epoch_curves(store, run_id)  # none on a configuration run: its children have them
    files = {
        names.CONFIG_ARTIFACT: mask_uri(OmegaConf.to_yaml(cfg, resolve=True)),  # no passwords
        names.REPORT_ARTIFACT: outcome.report,
        names.SKIPPED_ARTIFACT: table.skipped.to_csv(index=False),
        names.CONFUSION_ARTIFACT: _png(matrix),
    }
    if not curves.empty:
        files[names.CURVES_ARTIFACT] = _png(curves_figure(curves))
    log_run_files(store, run_id, files)
