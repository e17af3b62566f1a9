"""A sweep report: tables, figures and one HTML page, written to a folder and to MLflow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from genreclf.core.errors import ConfigError
from genreclf.reports import blocks, html, latex, markdown
from genreclf.reports.blocks import Section
from genreclf.reports.dataset import dataset_sections
from genreclf.reports.overview import overview_blocks
from genreclf.reports.provenance import (
    code_fields,
    dataset_fields,
    dataset_keys,
    dataset_order,
    fields_frame,
)
from genreclf.reports.runs import live_runs, load_runs
from genreclf.reports.writer import Report, Writer
from genreclf.tracking import names
from genreclf.tracking.store import Store

#: The report's formats, by option value: the module that renders each.
RENDERERS = {"html": html, "md": markdown, "tex": latex}
DEFAULT_FORMATS: tuple[str, ...] = ("html", "md")


@contextmanager
def _report_run(store: Store, report: Report, experiment_id: str, log: bool) -> Iterator[None]:
    """Around the writing of the report: with ``log``, a run tagged
    :data:`genreclf.tracking.names.REPORT_TAG` (which later reports leave out), given every
    file written and ended FINISHED, or FAILED if the writing fails."""
    if log:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        tags = {names.REPORT_TAG: "true"}
        report.report_run_id = store.create_run(experiment_id, f"report {stamp}", tags)
    try:
        yield
        if report.report_run_id is not None:
            for path in report.files:
                store.log_artifact(report.report_run_id, path)
            store.end_run(report.report_run_id, names.FINISHED)
    except BaseException:
        if report.report_run_id is not None:
            store.end_run(report.report_run_id, names.FAILED)
        raise


def _check_formats(formats: Sequence[str]) -> None:
    """Refuse an unknown format, or none at all."""
    unknown = sorted(set(formats) - set(RENDERERS))
    if unknown or not formats:
        raise ConfigError(
            f"formats={list(formats)}: choose among {', '.join(RENDERERS)} (at least one)"
        )


def _read_runs(
    store: Store, experiment: str, sweep_id: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """The runs to report (:func:`~genreclf.reports.runs.load_runs`), after ending the
    ghost runs (RUNNING without a live process) as KILLED; and those ghosts' ids."""
    from genreclf.tracking.liveness import reap_ghosts

    found = store.experiment_id(experiment, create=False)
    ghosts = reap_ghosts(store, found) if found is not None else []
    runs = load_runs(store, experiment, sweep_id)
    if runs.empty:
        which = f"sweep_id={sweep_id} of " if sweep_id else ""
        raise ConfigError(f"{which}experiment={experiment}: no runs to report in {store.uri}")
    return runs, ghosts


def make_report(
    uri: str,
    experiment: str,
    output_dir: str | Path,
    top_k: int = 10,
    ignore_params: list[str] | tuple[str, ...] = (),
    pca: bool = True,
    log_to_mlflow: bool = True,
    sweep_id: str | None = None,
    formats: list[str] | tuple[str, ...] = DEFAULT_FORMATS,
) -> Report:
    """Write the report of ``experiment`` to ``output_dir`` and log it as a report run.

    Parameters
    ----------
    uri : str
        MLflow tracking URI.
    experiment : str
        Experiment whose runs are reported (runs tagged :data:`names.REPORT_TAG` excluded).
    output_dir : str or Path
        Folder for the tables, figures and pages (``report.html``, ``report.md``, ...).
    top_k : int
        Rows of the top-runs table.
    ignore_params : sequence of str
        Params that vary but are no hyperparameters, besides the built-in ones.
    pca : bool
        Draw the PCA map of the best run's features (rebuilt from its config).
    log_to_mlflow : bool
        Also log every file to a new run of ``experiment`` tagged ``genreclf.report=true``.
    sweep_id : str, optional
        Report only the runs of this sweep (tag ``genreclf.sweep_id``).
    formats : sequence of str
        Pages to write beside each other, ``report.<format>``: ``html`` (self-contained),
        ``md`` (Markdown, pipe tables) and ``tex`` (LaTeX, ``tabular`` tables); the
        Markdown and LaTeX pages name the PNG files of the same folder.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        If the experiment does not exist or holds no runs, or a format is unknown.
    """
    _check_formats(formats)
    store = Store(uri)
    runs, ghosts = _read_runs(store, experiment, sweep_id)
    report = Report(Path(output_dir), ghosts=ghosts)
    write = Writer(report)
    with _report_run(store, report, runs["experiment_id"].iloc[0], log_to_mlflow):
        sections = [
            ("Provenance", [blocks.table(fields_frame(code_fields(experiment, sweep_id)))]),
            *_write_sections(store, runs, write, (top_k, list(ignore_params), pca)),
        ]
        _write_pages(write, f"genreclf sweep report: {experiment}", sections, formats)
    return report


def _write_pages(
    write: Writer, title: str, sections: list[Section], formats: Sequence[str]
) -> None:
    """The page in each of ``formats`` (:data:`RENDERERS`), ``report.<format>``."""
    for fmt in dict.fromkeys(formats):
        page = RENDERERS[fmt].page(title, sections)
        write.path(write.report.page_path(fmt).name).write_text(page, encoding="utf-8")


def _write_tables(
    write: Writer, tables: dict[str, list[pd.DataFrame]], runs: pd.DataFrame, datasets: list[str]
) -> None:
    """Each table of every data set as one CSV file (``dataset`` column first), and the
    data sets' provenance as ``provenance.csv``."""
    for name, frames in tables.items():
        combined = pd.concat(frames, ignore_index=True)
        write.csv(combined[["dataset", *combined.columns.drop("dataset")]], f"{name}.csv")
    provenance = [
        fields_frame(dataset_fields(key, runs[runs["dataset"] == key])).assign(dataset=key)
        for key in datasets
    ]
    if provenance:
        write.csv(pd.concat(provenance, ignore_index=True), "provenance.csv")


def _write_sections(
    store: Store, runs: pd.DataFrame, write: Writer, options: tuple[int, list[str], bool]
) -> list[Section]:
    """Write the tables and figures; return the sections, in page order.

    The runs are grouped by data set (:func:`genreclf.reports.provenance.dataset_keys`);
    each data set gets its own tables and figures, so runs of different data sets are
    never ranked together. ``options`` is ``(top_k, ignore_params, pca)``.
    """
    report = write.report
    runs = runs.assign(dataset=dataset_keys(runs))
    datasets = dataset_order(live_runs(runs))  # failed runs are only listed
    sections: list[Section] = [("Overview", overview_blocks(runs, report, datasets))]
    tables: dict[str, list[pd.DataFrame]] = {}
    single = len(datasets) == 1
    for number, key in enumerate(datasets, 1):
        label = "" if single else f"Data set {number}: "
        prefix = "" if single else f"dataset{number}_"
        group = runs[runs["dataset"] == key]
        part, frames = dataset_sections(store, group, write, options, label, prefix)
        sections += part
        for name, frame in frames.items():
            tables.setdefault(name, []).append(frame)
    _write_tables(write, tables, runs, datasets)
    report.best_run_id = next(
        (report.best_runs[key] for key in datasets if key in report.best_runs), None
    )
    failed = runs[~runs.index.isin(live_runs(runs).index)]
    if not failed.empty:
        columns = ["run_id", "run_name", "status", "start_time", "dataset"]
        sections.append((f"Failed or killed runs ({len(failed)})", [blocks.table(failed[columns])]))
    if report.notes:
        sections.append(("Notes", [blocks.text(note, css_class="note") for note in report.notes]))
    return sections
