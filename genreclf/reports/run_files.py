"""A single run's files: its resolved config, report, confusion matrix, curves, manifest."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("genreclf.train")


def _png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import io

    from matplotlib import pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def log_run_artifacts(writer: Any, cfg: DictConfig, outcome: Any, table: Any) -> None:
    """Log the resolved config, classification report, confusion matrix, curves and manifest.

    ``writer``: the open run (its files are spooled while the store does not answer, and
    the curves, read back from the store, are then left out); ``outcome``: the run's
    :class:`~genreclf.protocol.Outcome`.
    """
    from genreclf.reports.figures import confusion_matrix_figure, curves_figure
    from genreclf.tracking import names
    from genreclf.tracking.history import epoch_curves
    from genreclf.tracking.uri import mask_uri

    class_names = outcome.datamodule.class_names
    matrix = confusion_matrix_figure(outcome.y_true, outcome.y_pred, class_names)
    files = {
        names.CONFIG_ARTIFACT: mask_uri(OmegaConf.to_yaml(cfg, resolve=True)),  # no passwords
        names.REPORT_ARTIFACT: outcome.report,
        names.SKIPPED_ARTIFACT: table.skipped.to_csv(index=False),
        names.CONFUSION_ARTIFACT: _png(matrix),
    }
    curves = _curves(writer, epoch_curves)  # none on a configuration run: its children have them
    if curves is not None and not curves.empty:
        files[names.CURVES_ARTIFACT] = _png(curves_figure(curves))
    writer.log_files(files)


def _curves(writer: Any, epoch_curves: Any) -> Any:
    """The run's metric history from its store; ``None`` while the store does not answer."""
    from genreclf.core.errors import one_line
    from genreclf.tracking.spool import unreachable

    if writer.outbox.spooling:
        return None
    try:
        return epoch_curves(writer.store, writer.run_id)
    except Exception as exc:
        if not unreachable(exc):
            raise
        log.warning("no curves.png: the tracking store does not answer (%s)", one_line(exc))
        return None
