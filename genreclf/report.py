"""Report on a sweep: ``python -m genreclf.report experiment=<name> [key=value ...]``.

Composes ``conf/report.yaml``; see :func:`genreclf.reports.build.make_report`.
"""

from __future__ import annotations

import os
from typing import Literal

from omegaconf import DictConfig

from genreclf.cli import hydra_app
from genreclf.config.checks import check_config
from genreclf.core.params import AnyText, Bool, Int, Name, Options, Text, WritableFolder
from genreclf.tracking.options import TrackingUri


class ReportOptions(Options):
    """``conf/report.yaml``: the report's options."""

    experiment: Name
    sweep_id: Text | None
    top_k: Int(ge=1, le=1000)
    output_dir: WritableFolder
    ignore_params: list[AnyText]
    pca: Bool
    log_to_mlflow: Bool
    formats: list[Literal["html", "md", "tex"]]


class ReportTracking(Options):
    """The report reads one store."""

    uri: TrackingUri


def check_report_config(cfg: DictConfig) -> None:
    """Every report option against its declaration, before the store is opened."""
    check_config(cfg, {"": ReportOptions, "tracking": ReportTracking})


def report(cfg: DictConfig) -> str:
    """Write the report of ``cfg.experiment``; return the path of its first page."""
    check_report_config(cfg)  # every option, before the store is opened
    from genreclf.reports.build import make_report
    from genreclf.tracking.store import check_store

    check_store(str(cfg.tracking.uri))

    result = make_report(
        uri=cfg.tracking.uri,
        experiment=cfg.experiment,
        output_dir=cfg.output_dir,
        top_k=cfg.top_k,
        ignore_params=list(cfg.ignore_params),
        pca=cfg.pca,
        log_to_mlflow=cfg.log_to_mlflow,
        sweep_id=cfg.sweep_id,
        formats=list(cfg.formats),
    )
    if result.ghosts:
        print(f"note: {len(result.ghosts)} RUNNING run(s) had lost their process: ended KILLED")
    for note in result.notes:
        print(f"note: {note}")
    pages = [result.page_path(fmt) for fmt in dict.fromkeys(cfg.formats)]
    print(f"Report: {', '.join(str(page) for page in pages)}")
    for key, run_id in result.best_runs.items():
        where = f"  (data set {key})" if len(result.best_runs) > 1 else ""
        print(f"Best run on validation: {run_id}{where}")
    if result.report_run_id:
        print(f"MLflow report run: {result.report_run_id}  (experiment '{cfg.experiment}')")
    return str(pages[0])


# ConfigError and StoreError are ValueErrors.
_app = hydra_app(report, "report")


def main() -> None:
    """Entry point of ``python -m genreclf.report``."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _app()


if __name__ == "__main__":
    main()
