"""The sections and tables of the runs of one data set."""

from __future__ import annotations

import pandas as pd

from genreclf.reports import blocks
from genreclf.reports.best_sections import best_run_section, pca_section
from genreclf.reports.blocks import Block, Section
from genreclf.reports.comparison import (
    configuration_blocks,
    paired_section,
    selection_blocks,
    tie_blocks,
)
from genreclf.reports.plots import impact_figure
from genreclf.reports.provenance import dataset_fields, fields_frame
from genreclf.reports.runs import finished_runs, live_runs, pruned_runs, swept_params
from genreclf.reports.tables import (
    FOLD_PARAM,
    SCORES,
    configuration_table,
    interval_text,
    narrow,
    selection_table,
    top_runs,
)
from genreclf.reports.writer import Writer, file_name
from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store

#: Column of ``runs.csv``: the epochs a pruned run trained before its sweep's pruner
#: stopped it (empty for the others).
PRUNED_COLUMN = "pruned_at_epoch"


def run_columns(runs: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """``run_id``, ``run_name``, ``status``, ``model``, the scores, ``pruned_at_epoch``
    (tag :data:`~genreclf.tracking.names.PRUNED_TAG`, empty for a run not pruned) and
    the swept params."""
    table = runs[["run_id", "run_name", "status", "model", *SCORES]].copy()
    table[PRUNED_COLUMN] = runs.get(f"tags.{names.PRUNED_TAG}")
    for name in params:
        table[name] = runs.get(f"params.{name}")
    return table.reset_index(drop=True)


def impact_section(
    done: pd.DataFrame,
    params: list[str],
    write: Writer,
    prefix: str = "",
    pruned: pd.DataFrame | None = None,
) -> list[Block]:
    """One figure per swept param (and per model type, when there are several); the
    ``pruned`` runs (:func:`~genreclf.reports.runs.pruned_runs`) marked apart."""
    pruned = done.iloc[:0] if pruned is None else pruned
    shown = [p for p in params if p != FOLD_PARAM]
    if pd.concat([done["model"], pruned["model"]]).nunique() > 1:
        shown.insert(0, "model")
    if (done.empty and pruned.empty) or not shown:
        return [blocks.text("No finished runs that differ in a hyperparameter yet.")]
    blurb = (
        "Each box holds the finished runs with one value of the param; points are runs. "
        f"Swept params: {', '.join(params) or 'none'}."
    )
    if len(pruned):
        blurb += (
            f" Hollow grey circles are the {len(pruned)} runs the sweep's pruner stopped, at "
            "the validation accuracy of their last epoch (in no box; they have no test score)."
        )
    parts = [blocks.text(blurb)]
    for param in shown:
        figure = impact_figure(done, param, pruned=pruned)
        path = write.figure(figure, f"{prefix}impact_{file_name(param)}.png")
        parts.append(blocks.image(path, f"accuracy against {param}"))
    return parts


def best_run_id(live: pd.DataFrame, done: pd.DataFrame) -> str | None:
    """The best finished run; a running one if none has finished; else ``None``.

    Chosen by :func:`genreclf.tracking.selection.best_run`, as ``best:`` and the sweep's
    summary choose, on the report's ``val_acc`` and ``val_loss`` columns.
    """
    best = best_run(done if not done.empty else live, acc="val_acc", loss="val_loss")
    return None if best is None else str(best["run_id"])


def _top_section(top: pd.DataFrame, label: str) -> Section:
    """The top runs by validation accuracy, or a line saying there are none yet."""
    if top.empty:
        return (f"{label}Top runs", [blocks.text("No run has logged a validation accuracy yet.")])
    shown = [blocks.table(narrow(interval_text(top)))]
    return (f"{label}Top {len(top)} runs by validation accuracy", shown)


def _chosen_sections(
    store: Store,
    runs: pd.DataFrame,
    best_id: str,
    write: Writer,
    tables: dict[str, pd.DataFrame],
    pca: bool,
    label: str,
    prefix: str,
) -> list[Section]:
    """The best run's sections, the paired comparison and the PCA map (see
    :func:`dataset_sections` for ``label`` and ``prefix``)."""
    best = runs.set_index("run_id", drop=False).loc[best_id]
    chosen = best_run_section(store, best, write, prefix)
    sections = [(f"{label}Best run (chosen on validation)", chosen)]
    paired = paired_section(store, finished_runs(runs), tables, write.report.notes)
    if paired:
        sections.append((f"{label}Paired comparison of the top configurations", paired))
    if pca:
        sections.append(
            (f"{label}PCA map of the features", pca_section(store, best_id, write, prefix))
        )
    return sections


def dataset_sections(
    store: Store,
    runs: pd.DataFrame,
    write: Writer,
    options: tuple[int, list[str], bool],
    label: str,
    prefix: str,
) -> tuple[list[Section], dict[str, pd.DataFrame]]:
    """The sections and tables of the runs of one data set.

    ``options`` is ``(top_k, ignore, pca)``; ``label`` starts each heading and ``prefix``
    each figure's file name (both empty for a report on a single data set).
    """
    top_k, ignore, pca = options
    key = runs["dataset"].iloc[0]
    live, done = live_runs(runs), finished_runs(runs)
    params = swept_params(live, ignore)
    best_id = best_run_id(live, done)
    if best_id is not None:
        write.report.best_runs[key] = best_id
    top = top_runs(live, params, top_k)
    configs = configuration_table(done, params)
    tables = {"runs": run_columns(live, params), "top_runs": top}
    if configs is not None:
        tables["configurations"] = configs
    columns = ["run_id", "run_name", "model", *SCORES, "val_loss", "start_time"]
    tables["selection"] = selection_table(done[columns])
    fields = blocks.table(fields_frame(dataset_fields(key, runs)))
    sections: list[Section] = [
        (label.removesuffix(": ") or "Data set", [fields]),
        (
            f"{label}Validation-chosen best against best on test",
            selection_blocks(tables["selection"]) + tie_blocks(done, best_id),
        ),
        _top_section(top, label),
    ]
    if configs is not None:
        heading = f"{label}Configurations over folds and seeds"
        sections.append((heading, configuration_blocks(configs)))
    pruned = pruned_runs(runs)
    varied = swept_params(runs.loc[done.index.union(pruned.index)], ignore)
    impact = impact_section(done, varied, write, prefix, pruned)
    sections.append((f"{label}Hyperparameter impact", impact))
    if best_id is not None:
        sections += _chosen_sections(store, runs, best_id, write, tables, pca, label, prefix)
    return sections, {name: frame.assign(dataset=key) for name, frame in tables.items()}
