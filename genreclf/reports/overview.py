"""The report's opening section: run counts, how runs are ranked, and the data sets."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from genreclf.reports import blocks
from genreclf.reports.blocks import SHORT_ID, Block
from genreclf.reports.runs import pruned_runs, status_counts
from genreclf.reports.writer import Report
from genreclf.tracking import names

#: How the report ranks runs and which it shows, said on every page.
RANKING_TEXT = (
    "val_acc is best_val_acc, the validation accuracy of the checkpoint each run "
    "selected; for a run still RUNNING, its latest validation accuracy. Runs are "
    "ranked by val_acc; ties go to the lower val_loss (best_val_loss), then to the "
    "earlier run, as best:<experiment> and a sweep's summary rank them. Failed and "
    "killed runs are counted here and left out of every table and figure; plots "
    "show finished runs only. Run ids are shown by their first 8 characters; the "
    "CSV files hold them whole."
)

#: Added to :data:`RANKING_TEXT` where a sweep's pruner stopped runs.
PRUNED_TEXT = (
    f" A pruned run (tag {names.PRUNED_TAG}: the epochs it trained) is FINISHED but "
    "has no best_val_acc and no test score: it is counted here, never ranked or chosen, "
    "and the hyperparameter impact plots mark it at its last validation accuracy."
)


def overview_blocks(runs: pd.DataFrame, report: Report, datasets: list[str]) -> list[Block]:
    """Run counts, how runs are ranked, and the data sets."""
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(runs).items())
    pruned = len(pruned_runs(runs))
    if pruned:
        counts += f"; pruned: {pruned} of {len(runs)} runs (stopped early by the sweep's pruner)"
    overview = [
        blocks.text(
            f"{len(runs)} runs: {counts}. Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
            + (f"; report run {report.report_run_id[:SHORT_ID]}." if report.report_run_id else ".")
        ),
        blocks.text(RANKING_TEXT + (PRUNED_TEXT if pruned else "")),
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
