"""The report's folder: what a report wrote (:class:`Report`) and the writer of its files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

HTML_NAME = "report.html"
CONFUSION_NAME = "best_confusion_matrix.png"
REPORT_NAME = "best_classification_report.txt"


@dataclass
class Report:
    """What :func:`~genreclf.reports.build.make_report` wrote.

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


def file_name(name: str) -> str:
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
    "configurations.csv",
    "folds.csv",  # written by earlier versions
    "provenance.csv",
    "*impact_*.png",
    "*pca.png",
    "*best_curves.png",
    f"*{CONFUSION_NAME}",
    f"*{REPORT_NAME}",
    "*best_config.yaml",
)


class Writer:
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
