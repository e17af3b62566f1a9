"""Tables of a sweep: top runs, validation- against test-chosen best, configurations."""

from __future__ import annotations

import pandas as pd

from genreclf.tracking import names
from genreclf.tracking.selection import rank_runs

#: Metric columns of the run tables.
SCORES: tuple[str, ...] = ("val_acc", "test_acc", "test_f1")

#: A configuration run's spread of its test accuracy: sample std over its members and
#: the 95% bootstrap interval of its pooled test predictions (:mod:`genreclf.protocol`).
SPREAD: tuple[str, ...] = (names.TEST_ACC_STD, names.TEST_ACC_CI_LOW, names.TEST_ACC_CI_HIGH)

#: Param that numbers the fold of a k-fold run.
FOLD_PARAM = "split.fold"

#: Marker column of the run tables: ``yes`` where training ran to ``trainer.max_epochs``
#: without early stopping (tag ``genreclf.hit_max_epochs``): more epochs might have helped.
MAX_EPOCHS_COLUMN = "hit_max_epochs"


def max_epochs_marker(runs: pd.DataFrame) -> pd.Series:
    """``yes`` for each run tagged ``genreclf.hit_max_epochs=true``, else empty."""
    tag = runs.get(f"tags.{names.HIT_MAX_EPOCHS_TAG}", pd.Series(None, index=runs.index))
    hit = tag.astype(str).str.lower() == "true"
    return hit.map({True: "yes", False: ""}).astype(object)


def rank_by_val(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs with a validation accuracy, best first, as ``best:`` and sweeps rank them.

    :func:`genreclf.tracking.selection.rank_runs` on the report's ``val_acc`` and
    ``val_loss`` columns (see :func:`genreclf.reports.runs.load_runs`): ties go to the
    lower ``val_loss``, then to the earlier run. The order never looks at the test scores.
    """
    return rank_runs(runs, acc="val_acc", loss="val_loss")


def top_runs(runs: pd.DataFrame, params: list[str], top_k: int) -> pd.DataFrame:
    """The ``top_k`` runs by validation accuracy.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``run_id``, ``run_name``, ``status``, ``model``, the scores
        (:data:`SCORES`, as logged; a configuration run's are its means), ``val_loss``
        (the tie-break), the configuration's :data:`SPREAD` (NaN for a single run), the marker
        :data:`MAX_EPOCHS_COLUMN` and the ``params``.
    """
    ranked = rank_by_val(runs).head(top_k)
    table = ranked[["run_id", "run_name", "status", "model", *SCORES, "val_loss"]].copy()
    for name in SPREAD:  # a configuration run's spread over its folds and seeds
        table[name] = ranked.get(f"metrics.{name}", pd.Series(float("nan"), index=ranked.index))
    table[MAX_EPOCHS_COLUMN] = max_epochs_marker(ranked)
    for name in params:
        table[name] = ranked.get(f"params.{name}")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def selection_table(units: pd.DataFrame) -> pd.DataFrame:
    """The run (or configuration) chosen on validation next to the one best on test.

    Only rows with both accuracies take part. Reporting the second one's test
    accuracy would select on the test set; the table shows how much that flatters.

    Parameters
    ----------
    units : pandas.DataFrame
        One row per run (a configuration run's scores are its means):
        ``val_acc``, ``test_acc`` and any columns to carry, its name first. The row
        chosen on validation is the first of :func:`rank_by_val`, which breaks ties by
        ``val_loss``, ``start_time`` and ``run_id`` where the rows have them (else it
        keeps the first row).

    Returns
    -------
    pandas.DataFrame
        Rows ``chosen on validation`` and ``best on test``: ``choice``, the carried
        columns, and each one's rank on validation and on test (1 = best). Empty if
        no row has both accuracies.
    """
    scored = units[units["val_acc"].notna() & units["test_acc"].notna()]
    if scored.empty:
        return pd.DataFrame(columns=["choice", *units.columns, "val_rank", "test_rank"])
    val_rank = scored["val_acc"].rank(ascending=False, method="min").astype(int)
    test_rank = scored["test_acc"].rank(ascending=False, method="min").astype(int)
    picks = {
        "chosen on validation": rank_by_val(scored).index[0],
        "best on test": scored.sort_values("test_acc", ascending=False, kind="stable").index[0],
    }
    return pd.DataFrame(
        [
            {
                "choice": choice,
                **scored.loc[index].to_dict(),
                "val_rank": val_rank[index],
                "test_rank": test_rank[index],
            }
            for choice, index in picks.items()
        ]
    )


#: The metric holding a configuration run's standard deviation of each score over its
#: members (:func:`genreclf.protocol.summarize`; none for ``test_f1``).
SCORE_STDS: dict[str, str] = {"val_acc": names.VAL_ACC_STD, "test_acc": names.TEST_ACC_STD}


def configuration_table(runs: pd.DataFrame, params: list[str]) -> pd.DataFrame | None:
    """The configuration runs (several folds or seeds, :mod:`genreclf.protocol`), ranked
    by :func:`rank_by_val`: the one order of :func:`~genreclf.tracking.selection.best_run`.

    Parameters
    ----------
    runs : pandas.DataFrame
        Finished runs (see :func:`genreclf.reports.runs.load_runs`).
    params : list of str
        Swept params, shown as columns.

    Returns
    -------
    pandas.DataFrame or None
        One row per configuration run, best first: ``rank``, ``run_id``, ``run_name``,
        ``model``, ``features`` (where runs are tagged with their feature set), the
        ``params``, then ``<score>_mean`` (the run's score, which is the
        mean over its members) and ``<score>_std`` (their sample std, :data:`SCORE_STDS`;
        NaN where none is logged) for each score. ``None`` without configuration runs.
    """
    role = runs.get(f"tags.{names.ROLE_TAG}", pd.Series(None, index=runs.index, dtype=object))
    ranked = rank_by_val(runs[role == names.CONFIG_ROLE])
    if ranked.empty:
        return None
    table = ranked[["run_id", "run_name", "model"]].copy()
    if ranked.get("features", pd.Series(dtype=object)).notna().any():  # tagged runs
        table["features"] = ranked["features"]
    for name in params:
        table[name] = ranked.get(f"params.{name}")
    missing = pd.Series(float("nan"), index=ranked.index)
    for score in SCORES:
        table[f"{score}_mean"] = ranked[score]
        std = SCORE_STDS.get(score)
        table[f"{score}_std"] = missing if std is None else ranked.get(f"metrics.{std}", missing)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def mean_std_text(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A :func:`configuration_table` with each score as one ``mean ± std`` text column."""
    shown = table.drop(columns=[f"{s}_{stat}" for s in SCORES for stat in ("mean", "std")])
    for score in SCORES:
        shown[score] = [
            f"{m:.{digits}f}" if pd.isna(s) else f"{m:.{digits}f} ± {s:.{digits}f}"
            for m, s in zip(table[f"{score}_mean"], table[f"{score}_std"], strict=True)
        ]
    return shown


#: The ``test_acc`` column's name once :func:`interval_text` has written the spread into it.
INTERVAL_COLUMN = "test_acc (mean ± std [95% CI])"


def interval_text(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A :func:`top_runs` table with ``test_acc`` as ``mean ± std [low, high]`` text for
    configuration runs, and without the :data:`SPREAD` columns (dropped if all empty)."""
    spread = [name for name in SPREAD if name in table.columns]
    if not spread or table[spread].isna().all().all():
        return table.drop(columns=spread)

    def text(row: pd.Series) -> str:
        mean, std = row["test_acc"], row[names.TEST_ACC_STD]
        low, high = row[names.TEST_ACC_CI_LOW], row[names.TEST_ACC_CI_HIGH]
        if pd.isna(mean):
            return ""
        shown = f"{mean:.{digits}f}"
        if not pd.isna(std):
            shown += f" ± {std:.{digits}f}"
        if not (pd.isna(low) or pd.isna(high)):
            shown += f" [{low:.{digits}f}, {high:.{digits}f}]"
        return shown

    shown = table.assign(test_acc=table.apply(text, axis=1)).drop(columns=spread)
    return shown.rename(columns={"test_acc": INTERVAL_COLUMN})


def narrow(table: pd.DataFrame) -> pd.DataFrame:
    """A table for reading rather than for scripts.

    ``start_time`` and a ``status`` column that is the same on every row are left out,
    and each dotted param column is named by its last key (``model.hidden_size`` ->
    ``hidden_size``) where that name stays unique."""
    shown = table.drop(columns=["start_time"], errors="ignore")
    if "status" in shown.columns and shown["status"].nunique(dropna=False) <= 1:
        shown = shown.drop(columns="status")
    last = [str(c).rsplit(".", 1)[-1] for c in shown.columns]
    renamed = {
        column: short
        for column, short in zip(shown.columns, last, strict=True)
        if short != column and last.count(short) == 1
    }
    return shown.rename(columns=renamed)
