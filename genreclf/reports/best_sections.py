"""The chosen run's sections: its curves, confusion matrix, per-genre report and PCA map."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd

from genreclf.core.errors import GenreclfError
from genreclf.reports import blocks
from genreclf.reports.blocks import SHORT_ID, Block
from genreclf.reports.figures import confusion_matrix_figure, curves_figure
from genreclf.reports.paired import read_predictions
from genreclf.reports.plots import pca_figure
from genreclf.reports.writer import CONFUSION_NAME, REPORT_NAME, Writer
from genreclf.tracking import names
from genreclf.tracking.history import epoch_curves
from genreclf.tracking.store import Store

log = logging.getLogger(__name__)


def pca_section(store: Store, run_id: str, write: Writer, prefix: str = "") -> list[Block]:
    """PCA map of the best run's features, or a note saying why there is none."""
    from genreclf.reports.pca import features_from_config, pca_map, transform_from_config
    from genreclf.reports.runconfig import run_config

    config_path = write.report.output_dir / f"{prefix}best_config.yaml"
    try:
        config = run_config(store, run_id, config_path).to_container()
        table = features_from_config(config)
    except Exception as exc:  # any failure (data gone, bad config) skips just this figure
        message = (
            f"No PCA map: the features of run {run_id[:SHORT_ID]} could not be rebuilt ({exc})."
        )
        log.warning(message)
        write.report.notes.append(message)
        return [blocks.text(message, css_class="note")]
    write.report.files.append(config_path)
    try:
        transform, how = transform_from_config(config), "through the run's own transform"
    except Exception as exc:
        transform, how = None, f"without the run's transform, which failed to build ({exc})"
    coords, labels, explained = pca_map(table, transform)
    path = write.figure(pca_figure(coords, labels, explained), f"{prefix}pca.png")
    blurb = blocks.text(
        f"The {len(labels)} rows of the feature table of run {run_id[:SHORT_ID]}, rebuilt from its "
        f"logged configuration ({config_path.name}), {how} (fit on all rows), standardized and "
        "projected on the first two principal components. X marks each genre's centre."
    )
    return [blurb, blocks.image(path, "PCA map of the features")]


def best_run_section(store: Store, best: pd.Series, write: Writer, prefix: str = "") -> list[Block]:
    """Curves, confusion matrix and per-genre report of the best run."""
    run_id = best["run_id"]
    parts = [
        blocks.text(
            f"Run {run_id[:SHORT_ID]} ({best['run_name']}, {best['model']}, {best['status']}): "
            f"validation accuracy {best['val_acc']:.4f}, test accuracy {best['test_acc']:.4f}."
        )
    ]
    curves = epoch_curves(store, run_id)
    if curves.empty:
        parts.append(blocks.text("No per-epoch metrics logged yet.", css_class="note"))
    else:
        fig = curves_figure(curves, f"Training curves of run {run_id[:SHORT_ID]}")
        parts.append(blocks.image(write.figure(fig, f"{prefix}best_curves.png"), "training curves"))
    matrix = _confusion_matrix(store, run_id, write, prefix, parts)
    if matrix is not None:
        parts.append(blocks.image(matrix, "confusion matrix"))
    folder = write.report.output_dir
    text = store.fetch_artifact(run_id, names.REPORT_ARTIFACT, folder / f"{prefix}{REPORT_NAME}")
    if text is not None:
        parts.append(blocks.text(write.add(text).read_text(), "pre"))
    if matrix is None or text is None:
        parts.append(blocks.text(_missing_note(best), css_class="note"))
    return parts


def _confusion_matrix(
    store: Store, run_id: str, write: Writer, prefix: str, parts: list[Block]
) -> Path | None:
    """The run's logged confusion matrix, else one drawn from its pooled predictions (a
    configuration run's); ``None`` if neither, with a note in ``parts`` if refused."""
    name = f"{prefix}{CONFUSION_NAME}"
    matrix = store.fetch_artifact(run_id, names.CONFUSION_ARTIFACT, write.report.output_dir / name)
    if matrix is not None:
        return write.add(matrix)
    try:
        return _pooled_confusion(store, run_id, write, name)
    except GenreclfError as exc:  # a refused predictions.parquet costs only this figure
        message = f"No pooled confusion matrix for run {run_id[:SHORT_ID]}: {exc}"
        write.report.notes.append(message)
        parts.append(blocks.text(message, css_class="note"))
        return None


def _missing_note(best: pd.Series) -> str:
    """Why the best run has no confusion matrix or per-genre report, and how to get them."""
    missing = "No confusion matrix or per-genre report: the run has not logged them"
    if best["status"] == "FINISHED":
        missing += " (it ran with tracking.log_artifacts=false)"
    overrides = best.get(f"tags.{names.OVERRIDES_TAG}")
    if isinstance(overrides, str) and overrides:
        missing += (
            ". To get them, train its config again: python -m genreclf.train "
            f"{overrides} tracking.log_artifacts=true"
        )
    return missing + "."


def _pooled_confusion(store: Store, run_id: str, write: Writer, name: str) -> Path | None:
    """The confusion matrix of a configuration run's ``predictions.parquet`` (else ``None``)."""
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / names.PREDICTIONS_ARTIFACT
        if store.fetch_artifact(run_id, names.PREDICTIONS_ARTIFACT, local) is None:
            return None
        labels = read_predictions(local)
    title = f"Confusion matrix of the pooled test predictions ({len(labels)})"
    fig = confusion_matrix_figure(
        labels["true"], labels["predicted"], labels.attrs["genres"], title
    )
    return write.figure(fig, name)
