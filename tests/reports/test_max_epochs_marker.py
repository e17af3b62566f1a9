"""The run table marks runs that trained to max_epochs without early stopping."""

from __future__ import annotations

import pandas as pd

from genreclf.reports.tables import MAX_EPOCHS_COLUMN, top_runs
from genreclf.tracking import names


def test_top_runs_mark_runs_that_hit_max_epochs():
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "run_name": ["ra", "rb", "rc"],
            "status": ["FINISHED"] * 3,
            "model": ["dense"] * 3,
            "val_acc": [0.9, 0.8, 0.7],
            "val_loss": [0.1, 0.2, 0.3],
            "test_acc": [0.5, 0.5, 0.5],
            "test_f1": [0.5, 0.5, 0.5],
            f"tags.{names.HIT_MAX_EPOCHS_TAG}": ["true", "false", None],  # c: an older run
        }
    )
    table = top_runs(runs, [], top_k=3)
    assert table.set_index("run_id")[MAX_EPOCHS_COLUMN].to_dict() == {"a": "yes", "b": "", "c": ""}
    assert (
        table[MAX_EPOCHS_COLUMN].tolist()
        == top_runs(runs.iloc[::-1], [], 3)[MAX_EPOCHS_COLUMN].tolist()
    )  # follows its run, not the row order
    untagged = top_runs(runs.drop(columns=f"tags.{names.HIT_MAX_EPOCHS_TAG}"), [], 3)
    assert untagged[MAX_EPOCHS_COLUMN].tolist() == ["", "", ""]
