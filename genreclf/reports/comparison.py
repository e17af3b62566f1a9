"""How the run chosen on validation compares: against the best on test, the runs tied with
it, the configurations in ranking order, and the runners-up on their paired predictions."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from genreclf.reports import blocks
from genreclf.reports.blocks import SHORT_ID, Block
from genreclf.reports.paired import paired_table
from genreclf.reports.tables import mean_std_text, narrow, rank_by_val
from genreclf.tracking.store import Store, first_line


def selection_blocks(selection: pd.DataFrame) -> list[Block]:
    """Table and sentence: the run chosen on validation against the best one on test."""
    if selection.empty:
        return [blocks.text("No finished run has both a validation and a test score yet.")]
    shown = selection.assign(run_id=selection["run_id"].map(blocks.short_ids))
    chosen, on_test = shown.iloc[0], shown.iloc[1]
    if chosen["run_id"] == on_test["run_id"]:
        sentence = (
            f"The run chosen on validation accuracy ({chosen['run_id']}) is also the best "
            f"on test: test accuracy {chosen['test_acc']:.4f}."
        )
    else:
        gap = on_test["test_acc"] - chosen["test_acc"]
        sentence = (
            f"The run chosen on validation accuracy ({chosen['run_id']}) scores "
            f"{chosen['test_acc']:.4f} on test, rank {chosen['test_rank']} on test. The best "
            f"run on test ({on_test['run_id']}, rank {on_test['val_rank']} on validation) "
            f"scores {on_test['test_acc']:.4f}. Reporting that figure would be selection on "
            f"the test set, overstating accuracy by {gap:.4f}; the honest figure is "
            f"{chosen['test_acc']:.4f}."
        )
    return [blocks.table(narrow(selection)), blocks.text(sentence)]


def tie_blocks(done: pd.DataFrame, best_id: str | None) -> list[Block]:
    """A sentence naming the runs tied with the chosen one on ``val_acc``, if any.

    The tie is broken as :func:`~genreclf.tracking.selection.best_run` breaks it: the lower
    validation loss, then the earlier run.
    """
    ids = done["run_id"]
    chosen = next((i for i, r in enumerate(ids) if r == best_id), None)
    if chosen is None:
        return []
    score = done["val_acc"].iloc[chosen]
    tied = [
        blocks.short_ids(str(run_id))
        for i, run_id in enumerate(ids)
        if i != chosen and done["val_acc"].iloc[i] == score
    ]
    if not tied:
        return []
    return [
        blocks.text(
            f"Tied with the chosen one on validation accuracy ({score:.4f}): "
            f"{', '.join(tied)}; the tie goes to the lower validation loss, then the earlier run."
        )
    ]


def configuration_blocks(configs: pd.DataFrame) -> list[Block]:
    """A :func:`~genreclf.reports.tables.configuration_table` with its blurb."""
    blurb = blocks.text(
        "Each configuration run (several folds or seeds): mean ± standard deviation of each "
        "score over its folds and seeds, in the order best:<experiment> ranks runs (mean "
        "validation accuracy, then the lower validation loss, then the earlier run)."
    )
    return [blurb, blocks.table(narrow(mean_std_text(configs)))]


def paired_section(
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
