"""Which run is best: the one ranking that ``best:``, reports and sweeps share.

Runs are ranked by the selection metric, :data:`~genreclf.tracking.names.BEST_VAL_ACC`
(the validation accuracy of the checkpoint each run selected), highest first. Ties go to

1. the lower :data:`~genreclf.tracking.names.BEST_VAL_LOSS` (the validation loss of that
   checkpoint; a run without one comes after those with one),
2. then the earlier run: the earlier start time, then the smaller run id.

Two runs never tie, so every caller names the same run whatever order it reads them in.
A run without a selection metric that is a finite number in [0, 1] is not ranked at all;
:func:`best_run` and :func:`rank_runs` log a warning with the count of runs they ignored
for a value out of that range (``inf``, ``1e9``, ``-5``), and :func:`out_of_range` gives it.

A configuration trained on several folds or seeds (:mod:`genreclf.protocol`) is ranked by
its configuration run, whose selection metrics are its children's means
(``best_val_acc`` is ``val_acc_mean``); its children (role ``member``) are not
candidates: callers pass configuration and single runs only.

:func:`best_run` and :func:`rank_runs` take what each caller holds: MLflow ``Run``
objects (``best:``, a sweep's summary), a runs frame (:meth:`Store.runs_frame`, the
report) or :class:`Score` records (a sweep's jobs as they end). All of them go through
:func:`selection_key`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from genreclf.tracking import names

T = TypeVar("T")
log = logging.getLogger(__name__)

#: The runs frame's columns (see :meth:`genreclf.tracking.store.Store.runs_frame`) of the
#: selection metric and of the first tie-break.
ACC_COLUMN = f"metrics.{names.BEST_VAL_ACC}"
LOSS_COLUMN = f"metrics.{names.BEST_VAL_LOSS}"


def selection_metrics(val_acc: float, val_loss: float) -> dict[str, float]:
    """The metrics a run logs for its selected checkpoint, by which it is ranked."""
    return {names.BEST_VAL_ACC: float(val_acc), names.BEST_VAL_LOSS: float(val_loss)}


@dataclass(frozen=True)
class Score:
    """What ranks one run.

    Attributes
    ----------
    val_acc : float
        The selection metric (NaN: none, the run is not ranked).
    val_loss : float
        Validation loss of the selected checkpoint (NaN: unknown, ranks after any loss).
    start_time : float
        Start of the run, milliseconds since the epoch (NaN: unknown, ranks last).
    run_id : str
    """

    val_acc: float
    val_loss: float = math.nan
    start_time: float = math.nan
    run_id: str = ""

    @property
    def ranked(self) -> bool:
        """Whether the run has a selection metric to be ranked by: finite, in [0, 1]."""
        return math.isfinite(self.val_acc) and 0.0 <= self.val_acc <= 1.0

    @property
    def out_of_range(self) -> bool:
        """Whether the run has a selection metric that is no accuracy (``inf``, ``1e9``, ``-5``)."""
        return not math.isnan(self.val_acc) and not self.ranked


def out_of_range(scores: Iterable[Score]) -> int:
    """How many of ``scores`` have a selection metric that is no number in [0, 1]."""
    return sum(score.out_of_range for score in scores)


def _warn_ignored(scores: list[Score]) -> int:
    """Log how many runs are ignored for a selection metric out of range; return the count."""
    ignored = out_of_range(scores)
    if ignored:
        log.warning(
            "%d run(s) ignored: their %s is not a finite number in [0, 1]",
            ignored,
            names.BEST_VAL_ACC,
        )
    return ignored


def _or(value: float, missing: float) -> float:
    return missing if math.isnan(value) else value


def selection_key(score: Score) -> tuple[float, float, float, str]:
    """Sort key of a run: smallest is best (see the module docstring for the order)."""
    return (
        -_or(score.val_acc, -math.inf),
        _or(score.val_loss, math.inf),
        _or(score.start_time, math.inf),
        score.run_id,
    )


def _number(value: Any) -> float:
    """``value`` as a float; NaN for ``None`` or anything that is not a number."""
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def _millis(value: Any) -> float:
    """A start time (epoch milliseconds, or a pandas timestamp) in milliseconds."""
    if isinstance(value, pd.Timestamp):
        return value.value / 1e6
    if value is None or value is pd.NaT:
        return math.nan
    return _number(value)


def score_of(item: Any) -> Score:
    """The :class:`Score` of an MLflow ``Run`` (a :class:`Score` is returned as it is)."""
    if isinstance(item, Score):
        return item
    metrics = item.data.metrics
    return Score(
        val_acc=_number(metrics.get(names.BEST_VAL_ACC)),
        val_loss=_number(metrics.get(names.BEST_VAL_LOSS)),
        start_time=_millis(item.info.start_time),
        run_id=str(item.info.run_id),
    )


def frame_scores(runs: pd.DataFrame, acc: str = ACC_COLUMN, loss: str = LOSS_COLUMN) -> list[Score]:
    """The :class:`Score` of each row of a runs frame, in row order.

    ``acc`` and ``loss`` name the columns of the selection metric and of the loss; a
    frame without ``loss``, ``start_time`` or ``run_id`` columns ranks its ties in row
    order.
    """

    def column(name: str) -> list[Any]:
        return runs[name].tolist() if name in runs.columns else [None] * len(runs)

    return [
        Score(_number(a), _number(lo), _millis(t), "" if r is None else str(r))
        for a, lo, t, r in zip(
            column(acc), column(loss), column("start_time"), column("run_id"), strict=True
        )
    ]


def rank_runs(runs: pd.DataFrame, acc: str = ACC_COLUMN, loss: str = LOSS_COLUMN) -> pd.DataFrame:
    """The rows of a runs frame that have the selection metric, best first.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run, as :meth:`~genreclf.tracking.store.Store.runs_frame` gives them.
    acc, loss : str
        Columns holding the selection metric and the validation loss (a report passes
        its own, see :func:`genreclf.reports.runs.load_runs`).
    """
    scores = frame_scores(runs, acc, loss)
    _warn_ignored(scores)
    ranked = [i for i, score in enumerate(scores) if score.ranked]
    return runs.iloc[sorted(ranked, key=lambda i: selection_key(scores[i]))]


def is_synthetic(run: Any) -> bool:
    """Whether an MLflow ``Run`` trained on the built-in synthetic data (its tag says so)."""
    return str(run.data.tags.get(names.SYNTHETIC_TAG, "")).lower() == "true"


def best_real_first(runs: Iterable[T]) -> tuple[Any, bool]:
    """The best run (:func:`best_run`) trained on real data; only if there is none, the
    best run trained on the built-in synthetic data.

    A model of the synthetic toy set says nothing about music: ``best:`` never picks one
    over a real-data run, whatever its score.

    Returns
    -------
    run : MLflow ``Run`` or None
        ``None`` if no run is ranked.
    synthetic : bool
        Whether that run trained on synthetic data (no real-data run is ranked).
    """
    runs = list(runs)
    real = best_run(run for run in runs if not is_synthetic(run))
    if real is not None:
        return real, False
    toy = best_run(run for run in runs if is_synthetic(run))
    return toy, toy is not None


def best_run(
    runs: Iterable[T] | pd.DataFrame, acc: str = ACC_COLUMN, loss: str = LOSS_COLUMN
) -> Any:
    """The best of ``runs`` (see the module docstring), or ``None`` if none is ranked.

    Parameters
    ----------
    runs : iterable of MLflow ``Run`` or :class:`Score`, or pandas.DataFrame
        Runs to choose from; a frame's best row is returned as a ``pandas.Series``.
        Runs whose selection metric is no number in [0, 1] are ignored, and counted in
        a warning (see :func:`out_of_range`).
    acc, loss : str
        For a frame: see :func:`rank_runs`.
    """
    if isinstance(runs, pd.DataFrame):
        ranked = rank_runs(runs, acc, loss)
        return None if ranked.empty else ranked.iloc[0]
    scored = [(score_of(run), run) for run in runs]
    _warn_ignored([s for s, _ in scored])
    ranked = [(selection_key(s), i) for i, (s, _) in enumerate(scored) if s.ranked]
    return scored[min(ranked)[1]][1] if ranked else None
