"""A sweep report: tables, figures and one HTML page, written to a folder and to MLflow."""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from genreclf.errors import ConfigError, GenreclfError
from genreclf.reports import blocks, html, latex, markdown
from genreclf.reports.blocks import SHORT_ID, Block, Section
from genreclf.reports.figures import confusion_matrix_figure, curves_figure
from genreclf.reports.paired import paired_table, read_predictions
from genreclf.reports.plots import impact_figure, pca_figure
from genreclf.reports.provenance import (
    code_fields,
    dataset_fields,
    dataset_keys,
    dataset_order,
    fields_frame,
)
from genreclf.reports.runs import (
    finished_runs,
    live_runs,
    load_runs,
    status_counts,
    swept_params,
)
from genreclf.reports.tables import (
    FOLD_PARAM,
    SCORES,
    fold_configs,
    fold_table,
    interval_text,
    mean_std_text,
    narrow,
    rank_by_val,
    selection_table,
    top_runs,
)
from genreclf.tracking import names
from genreclf.tracking.history import epoch_curves
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store, first_line

log = logging.getLogger(__name__)

HTML_NAME = "report.html"
#: The report's formats, by option value: the module that renders each.
RENDERERS = {"html": html, "md": markdown, "tex": latex}
DEFAULT_FORMATS: tuple[str, ...] = ("html", "md")
CONFUSION_NAME = "best_confusion_matrix.png"
REPORT_NAME = "best_classification_report.txt"


@dataclass
class Report:
    """What :func:`make_report` wrote.

    Attributes
    ----------
    output_dir : Path
        The folder holding every file.
    files : list of Path
        Tables (CSV), figures (PNG), the best run's classification report and the
        HTML page, in the order written.
    best_run_id : str or None
        The run chosen on validation accuracy (of the first data set, real data first).
    best_runs : dict
        The run chosen on validation accuracy for each data set.
    report_run_id : str or None
        The MLflow run holding the files as artifacts.
    notes : list of str
        What could not be shown, and why.
    """

    output_dir: Path
    files: list[Path] = field(default_factory=list)
    best_run_id: str | None = None
    best_runs: dict[str, str] = field(default_factory=dict)
    report_run_id: str | None = None
    notes: list[str] = field(default_factory=list)
    ghosts: list[str] = field(default_factory=list)

    @property
    def html_path(self) -> Path:
        """The self-contained HTML page."""
        return self.output_dir / HTML_NAME

    def page_path(self, fmt: str) -> Path:
        """The page in format ``fmt`` (``html``, ``md`` or ``tex``)."""
        return self.output_dir / f"report.{fmt}"


def _file_name(name: str) -> str:
    """``name`` made safe as a file name."""
    return re.sub(r"[^\w.-]+", "_", name)


#: Files an earlier report may have left in the folder; removed before writing anew.
STALE_PATTERNS: tuple[str, ...] = (
    "report.html",
    "report.md",
    "report.tex",
    "runs.csv",
    "top_runs.csv",
    "selection.csv",
    "folds.csv",
    "provenance.csv",
    "*impact_*.png",
    "*pca.png",
    "*best_curves.png",
    f"*{CONFUSION_NAME}",
    f"*{REPORT_NAME}",
    "*best_config.yaml",
)


class _Writer:
    """Writes files into the report folder and keeps their list."""

    def __init__(self, report: Report) -> None:
        self.report = report
        report.output_dir.mkdir(parents=True, exist_ok=True)
        for pattern in STALE_PATTERNS:
            for path in report.output_dir.glob(pattern):
                path.unlink()

    def path(self, name: str) -> Path:
        path = self.report.output_dir / name
        self.report.files.append(path)
        return path

    def add(self, path: Path) -> Path:
        self.report.files.append(path)
        return path

    def csv(self, frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(self.path(name), index=False)

    def figure(self, fig: Figure, name: str) -> Path:
        path = self.path(name)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


def _run_columns(runs: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """``run_id``, ``run_name``, ``status``, ``model``, the scores and the swept params."""
    table = runs[["run_id", "run_name", "status", "model", *SCORES]].copy()
    for name in params:
        table[name] = runs.get(f"params.{name}")
    return table.reset_index(drop=True)


def _selection_blocks(selection: pd.DataFrame, unit: str) -> list[Block]:
    """Table and sentence: the validation-chosen ``unit`` against the best one on test."""
    if selection.empty:
        return [blocks.text("No finished run has both a validation and a test score yet.")]
    name = selection.columns[1]  # run_id, or configuration
    shown = selection.assign(**{name: selection[name].map(blocks.short_ids)})
    chosen, on_test = shown.iloc[0], shown.iloc[1]
    if chosen[name] == on_test[name]:
        sentence = (
            f"The {unit} chosen on validation accuracy ({chosen[name]}) is also the best "
            f"on test: test accuracy {chosen['test_acc']:.4f}."
        )
    else:
        gap = on_test["test_acc"] - chosen["test_acc"]
        sentence = (
            f"The {unit} chosen on validation accuracy ({chosen[name]}) scores "
            f"{chosen['test_acc']:.4f} on test, rank {chosen['test_rank']} on test. The best "
            f"{unit} on test ({on_test[name]}, rank {on_test['val_rank']} on validation) "
            f"scores {on_test['test_acc']:.4f}. Reporting that figure would be selection on "
            f"the test set, overstating accuracy by {gap:.4f}; the honest figure is "
            f"{chosen['test_acc']:.4f}."
        )
    return [blocks.table(narrow(selection)), blocks.text(sentence)]


def _tie_blocks(done: pd.DataFrame, folds: pd.DataFrame | None, best_id: str | None) -> list:
    """A sentence naming the runs tied with the chosen one on ``val_acc``, if any.

    The tie is broken as :func:`~genreclf.tracking.selection.best_run` breaks it: the lower
    validation loss, then the earlier run. (For a k-fold sweep's configurations, the
    fold table's mean scores.)
    """
    if folds is not None:
        frame, ids, acc = folds, folds["runs"], "val_acc_mean"
        chosen = next((i for i, r in enumerate(ids) if best_id and best_id in r.split()), None)
    else:
        frame, ids, acc = done, done["run_id"], "val_acc"
        chosen = next((i for i, r in enumerate(ids) if r == best_id), None)
    if chosen is None or frame.empty:
        return []
    score = frame[acc].iloc[chosen]
    tied = [blocks.short_ids(str(ids.iloc[i]).split()[0]) for i in range(len(frame))]
    tied = [t for i, t in enumerate(tied) if i != chosen and frame[acc].iloc[i] == score]
    if not tied:
        return []
    return [
        blocks.text(
            f"Tied with the chosen one on validation accuracy ({score:.4f}): "
            f"{', '.join(tied)}; the tie goes to the lower validation loss, then the earlier run."
        )
    ]


def _pca_section(store: Store, run_id: str, write: _Writer, prefix: str = "") -> list[Block]:
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


def _best_run_section(
    store: Store, best: pd.Series, write: _Writer, prefix: str = ""
) -> list[Block]:
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
    folder = write.report.output_dir
    matrix = store.fetch_artifact(
        run_id, names.CONFUSION_ARTIFACT, folder / f"{prefix}{CONFUSION_NAME}"
    )
    if matrix is not None:
        write.add(matrix)
    else:  # a configuration run of a sweep: drawn from its pooled predictions
        try:
            matrix = _pooled_confusion(store, run_id, write, f"{prefix}{CONFUSION_NAME}")
        except GenreclfError as exc:  # a refused predictions.parquet costs only this figure
            message = f"No pooled confusion matrix for run {run_id[:SHORT_ID]}: {exc}"
            write.report.notes.append(message)
            parts.append(blocks.text(message, css_class="note"))
    if matrix is not None:
        parts.append(blocks.image(matrix, "confusion matrix"))
    text = store.fetch_artifact(run_id, names.REPORT_ARTIFACT, folder / f"{prefix}{REPORT_NAME}")
    if text is not None:
        parts.append(blocks.text(write.add(text).read_text(), "pre"))
    if matrix is None or text is None:
        missing = "No confusion matrix or per-genre report: the run has not logged them"
        if best["status"] == "FINISHED":
            missing += " (it ran with tracking.log_artifacts=false)"
        overrides = best.get(f"tags.{names.OVERRIDES_TAG}")
        if isinstance(overrides, str) and overrides:
            missing += (
                ". To get them, train its config again: python -m genreclf.train "
                f"{overrides} tracking.log_artifacts=true"
            )
        parts.append(blocks.text(missing + ".", css_class="note"))
    return parts


def _pooled_confusion(store: Store, run_id: str, write: _Writer, name: str) -> Path | None:
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


def _paired_section(
    store: Store, done: pd.DataFrame, tables: dict[str, pd.DataFrame], notes: list[str]
) -> list[Block]:
    """The chosen configuration against the runners-up on their pooled test predictions
    (:mod:`genreclf.reports.paired`); empty without two configuration runs.

    A refused ``predictions.parquet`` leaves its run out, with a line in ``notes``; any
    other failure costs this section alone (a note in its place)."""
    ranked = rank_by_val(done)
    before = len(notes)
    try:
        with tempfile.TemporaryDirectory() as folder:
            paired = paired_table(store, ranked, Path(folder), notes=notes)
    except Exception as exc:  # a store or file failure: this section only
        notes.append(f"No paired comparison: {first_line(exc)}")
        paired = None
    refused = [blocks.text(note, css_class="note") for note in notes[before:]]
    if paired is None:
        return refused
    tables["paired"] = paired
    chosen = ranked.iloc[0]
    return [
        blocks.text(
            f"The chosen configuration ({chosen['run_id'][:SHORT_ID]}, {chosen['run_name']}) "
            "against the next ones on validation, on the test predictions they share (same "
            "track, fold and seed): the accuracy difference (chosen minus other) with a 95% "
            "paired bootstrap interval, and McNemar's exact p-value. Only validation chose; "
            "this says how sure the test data are about the ranking."
        ),
        blocks.table(narrow(paired)),
        *refused,
    ]


def _impact_section(
    done: pd.DataFrame, params: list[str], write: _Writer, prefix: str = ""
) -> list[Block]:
    """One figure per swept param (and per model type, when there are several)."""
    shown = [p for p in params if p != FOLD_PARAM]
    if done["model"].nunique() > 1:
        shown.insert(0, "model")
    if done.empty or not shown:
        return [blocks.text("No finished runs that differ in a hyperparameter yet.")]
    parts = [
        blocks.text(
            "Each box holds the finished runs with one value of the param; points are runs. "
            f"Swept params: {', '.join(params) or 'none'}."
        )
    ]
    for param in shown:
        path = write.figure(impact_figure(done, param), f"{prefix}impact_{_file_name(param)}.png")
        parts.append(blocks.image(path, f"accuracy against {param}"))
    return parts


def _best_run_id(live: pd.DataFrame, done: pd.DataFrame, folds: pd.DataFrame | None) -> str | None:
    """The best finished run (of the configuration with the best mean, for k-fold
    sweeps); a running one if none has finished; else ``None``.

    Chosen by :func:`genreclf.tracking.selection.best_run`, as ``best:`` and the sweep's
    summary choose, on the report's ``val_acc`` and ``val_loss`` columns.
    """
    if folds is not None and not folds.empty:
        done = done[done["run_id"].isin(folds["runs"].iloc[0].split())]
    best = best_run(done if not done.empty else live, acc="val_acc", loss="val_loss")
    return None if best is None else str(best["run_id"])


def _start_report_run(store: Store, experiment_id: str) -> str:
    """A run tagged :data:`genreclf.tracking.names.REPORT_TAG`, which later reports leave out."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return store.create_run(experiment_id, f"report {stamp}", {names.REPORT_TAG: "true"})


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
    unknown = sorted(set(formats) - set(RENDERERS))
    if unknown or not formats:
        raise ConfigError(
            f"formats={list(formats)}: choose among {', '.join(RENDERERS)} (at least one)"
        )
    from genreclf.tracking.liveness import reap_ghosts

    store = Store(uri)
    found = store.experiment_id(experiment, create=False)
    ghosts = reap_ghosts(store, found) if found is not None else []
    runs = load_runs(store, experiment, sweep_id)
    if runs.empty:
        which = f"sweep_id={sweep_id} of " if sweep_id else ""
        raise ConfigError(f"{which}experiment={experiment}: no runs to report in {uri}")
    report = Report(Path(output_dir), ghosts=ghosts)
    write = _Writer(report)
    if log_to_mlflow:
        experiment_id = runs["experiment_id"].iloc[0]
        report.report_run_id = _start_report_run(store, experiment_id)
    try:
        sections = [
            ("Provenance", [blocks.table(fields_frame(code_fields(experiment, sweep_id)))]),
            *_write_sections(store, runs, write, top_k, ignore_params, pca),
        ]
        title = f"genreclf sweep report: {experiment}"
        for fmt in dict.fromkeys(formats):
            page = RENDERERS[fmt].page(title, sections)
            write.path(report.page_path(fmt).name).write_text(page, encoding="utf-8")
        if report.report_run_id is not None:
            for path in report.files:
                store.log_artifact(report.report_run_id, path)
            store.end_run(report.report_run_id, names.FINISHED)
    except BaseException:
        if report.report_run_id is not None:
            store.end_run(report.report_run_id, names.FAILED)
        raise
    return report


def _dataset_sections(
    store: Store,
    runs: pd.DataFrame,
    write: _Writer,
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
    folds = fold_table(done, params)
    best_id = _best_run_id(live, done, folds)
    if best_id is not None:
        write.report.best_runs[key] = best_id

    tables = {"runs": _run_columns(live, params)}
    top = top_runs(live, params, top_k)
    tables["top_runs"] = top
    if folds is None:
        selection = selection_table(
            done[["run_id", "run_name", "model", *SCORES, "val_loss", "start_time"]]
        )
        unit = "run"
    else:
        tables["folds"] = folds
        selection = selection_table(fold_configs(folds, params))
        unit = "configuration (mean over folds)"
    tables["selection"] = selection

    fields = blocks.table(fields_frame(dataset_fields(key, runs)))
    sections: list[Section] = [
        (label.removesuffix(": ") or "Data set", [fields]),
        (
            f"{label}Validation-chosen best against best on test",
            _selection_blocks(selection, unit) + _tie_blocks(done, folds, best_id),
        ),
        (
            f"{label}Top {len(top)} runs by validation accuracy",
            [blocks.table(narrow(interval_text(top)))],
        )
        if not top.empty
        else (f"{label}Top runs", [blocks.text("No run has logged a validation accuracy yet.")]),
    ]
    if folds is not None:
        blurb = blocks.text(
            f"Mean ± standard deviation over the folds ({FOLD_PARAM}) of each configuration "
            "(model type and every other swept param), best mean validation accuracy first."
        )
        shown = blocks.table(narrow(mean_std_text(folds)))
        sections.append((f"{label}K-fold summary", [blurb, shown]))
    plotted = swept_params(done, ignore)
    impact = _impact_section(done, plotted, write, prefix)
    sections.append((f"{label}Hyperparameter impact", impact))
    if best_id is not None:
        best = runs.set_index("run_id", drop=False).loc[best_id]
        chosen = _best_run_section(store, best, write, prefix)
        sections.append((f"{label}Best run (chosen on validation)", chosen))
        paired = _paired_section(store, done, tables, write.report.notes)
        if paired:
            sections.append((f"{label}Paired comparison of the top configurations", paired))
        if pca:
            sections.append(
                (f"{label}PCA map of the features", _pca_section(store, best_id, write, prefix))
            )
    return sections, {name: frame.assign(dataset=key) for name, frame in tables.items()}


def _overview(runs: pd.DataFrame, report: Report, datasets: list[str]) -> list[Block]:
    """Run counts, how runs are ranked, and the data sets."""
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(runs).items())
    overview = [
        blocks.text(
            f"{len(runs)} runs: {counts}. Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
            + (f"; report run {report.report_run_id[:SHORT_ID]}." if report.report_run_id else ".")
        ),
        blocks.text(
            "val_acc is best_val_acc, the validation accuracy of the checkpoint each run "
            "selected; for a run still RUNNING, its latest validation accuracy. Runs are "
            "ranked by val_acc; ties go to the lower val_loss (best_val_loss), then to the "
            "earlier run, as best:<experiment> and a sweep's summary rank them. Failed and "
            "killed runs are counted here and left out of every table and figure; plots "
            "show finished runs only. Run ids are shown by their first 8 characters; the "
            "CSV files hold them whole."
        ),
    ]
    if len(datasets) > 1:
        listed = "; ".join(f"{i}: {key}" for i, key in enumerate(datasets, 1))
        overview.append(
            blocks.text(
                f"The runs come from {len(datasets)} data sets, which are never ranked "
                f"together: each has its own tables and figures (data set {listed})."
            )
        )
    if report.ghosts:
        overview.append(
            blocks.text(
                f"{len(report.ghosts)} run(s) were RUNNING without a live process (a killed "
                "sweep or worker) and were ended KILLED by this report; resuming the sweep "
                "trains their configs again.",
                css_class="note",
            )
        )
    sweeps = runs.get(f"tags.{names.SWEEP_ID_TAG}", pd.Series(dtype=object)).dropna().unique()
    if len(sweeps):
        overview.append(blocks.text(f"Sweeps ({names.SWEEP_ID_TAG}): {', '.join(sorted(sweeps))}."))
    return overview


def _write_sections(
    store: Store, runs: pd.DataFrame, write: _Writer, top_k: int, ignore: list[str], pca: bool
) -> list[Section]:
    """Write the tables and figures; return the sections, in page order.

    The runs are grouped by data set (:func:`genreclf.reports.provenance.dataset_keys`);
    each data set gets its own tables and figures, so runs of different data sets are
    never ranked together.
    """
    report = write.report
    runs = runs.assign(dataset=dataset_keys(runs))
    datasets = dataset_order(live_runs(runs))  # failed runs are only listed
    sections: list[Section] = [("Overview", _overview(runs, report, datasets))]
    tables: dict[str, list[pd.DataFrame]] = {}
    single = len(datasets) == 1
    for number, key in enumerate(datasets, 1):
        label = "" if single else f"Data set {number}: "
        prefix = "" if single else f"dataset{number}_"
        group = runs[runs["dataset"] == key]
        part, frames = _dataset_sections(store, group, write, (top_k, ignore, pca), label, prefix)
        sections += part
        for name, frame in frames.items():
            tables.setdefault(name, []).append(frame)
    for name, frames in tables.items():
        combined = pd.concat(frames, ignore_index=True)
        write.csv(combined[["dataset", *combined.columns.drop("dataset")]], f"{name}.csv")
    provenance = [
        fields_frame(dataset_fields(key, runs[runs["dataset"] == key])).assign(dataset=key)
        for key in datasets
    ]
    if provenance:
        write.csv(pd.concat(provenance, ignore_index=True), "provenance.csv")
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
