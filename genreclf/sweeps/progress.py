"""Console progress of a sweep: one line per finished job, and a running count.

- Every job prints one line when it ends (:func:`job_line`): ``[17/2700]``, its run
  name, its swept values, validation and test accuracy, seconds.
- The process that launched the sweep prints, after each job, how many are done, an
  ETA, and the best so far (:class:`SweepProgress`), chosen as
  :func:`genreclf.tracking.selection.best_run` chooses. Hydra's basic launcher runs the
  jobs in that process (the job prints its line, the sweep callback counts it).
- genreclf's parallel launchers (joblib, Ray, submitit; :mod:`genreclf.sweeps.launcher`)
  run each job in a worker through :func:`run_keeping_line`: the job's line travels
  back with its ``JobReturn``, and the launching process prints it, then the count
  (:meth:`SweepProgress.report`), as each job ends. Workers print nothing, so the lines
  come in order, whatever the launcher does with a worker's output, and the sweep's
  summary comes after them all.

The number of jobs and the swept keys reach the jobs as ``GENRECLF_SWEEP_TOTAL`` and
``GENRECLF_SWEEP_KEYS`` (see :func:`sweep_plan`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from genreclf.core.errors import one_line, printable
from genreclf.tracking import names
from genreclf.tracking.selection import Score, best_run

#: Environment variables set in every job (through ``hydra.job.env_set``).
TOTAL_ENV = "GENRECLF_SWEEP_TOTAL"
KEYS_ENV = "GENRECLF_SWEEP_KEYS"

#: Attribute of a ``JobReturn`` that carries the job's line to the launching process.
JOB_LINE_ATTR = "genreclf_job_line"

#: Lines of the job running in this worker, kept for the launching process (``None``:
#: print them; see :func:`run_keeping_line`).
_KEPT_LINES: list[str] | None = None


def planned_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, as a sweeper derived from Hydra's basic sweeper launches them.

    ``None`` for another sweeper, or a search that samples its trials as it goes
    (``hydra.sweeper.sampler: tpe``). Nothing is run.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.utils import get_class

    sweeper = config.hydra.sweeper
    try:
        cls = get_class(str(sweeper.get("_target_", "")))
        # genreclf's sweeper, Hydra's basic one and those derived from it (by what they
        # have: Hydra's plugin scan loads its modules again, so a class may derive from
        # an older copy of BasicSweeper)
        if not hasattr(cls, "planned") and not hasattr(cls, "split_arguments"):
            return None
        kwargs = OmegaConf.to_container(sweeper, resolve=True)
        basic = cls(**{k: v for k, v in kwargs.items() if k != "_target_"})
        if hasattr(basic, "planned"):  # genreclf's sweeper (genreclf.sweeps.sweeper)
            return basic.planned(config)
        arguments = basic._parse_config() + list(config.hydra.overrides.task)
        parsed = OverridesParser.create().parse_overrides(arguments)
        return [list(job) for batch in basic.split_arguments(parsed, None) for job in batch]
    except Exception:  # an unknown sweeper
        return None


def sweep_plan(config: DictConfig) -> tuple[int | None, list[str]]:
    """The number of jobs a multirun will launch (``None``: unknown) and its swept keys.

    Sweepers derived from Hydra's basic sweeper are asked for their jobs (none is run);
    a sampled search (``hydra.sweeper.sampler: tpe``) runs ``n_trials``. The swept keys
    are those with more than one value.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = config.hydra.sweeper
    parser = OverridesParser.create()
    arguments = list(config.hydra.overrides.task)
    try:
        if sweeper.get("sampler") not in (None, "grid"):
            parsed = parser.parse_overrides(arguments)
            swept = [o.get_key_element() for o in parsed if o.is_sweep_override()]
            keys = [*(sweeper.get("params") or {}), *swept]
            return int(sweeper.n_trials), list(dict.fromkeys(keys))
    except Exception:  # an unknown sweeper: no count, no keys
        return None, []
    jobs = planned_jobs(config)
    if jobs is None:
        return None, []
    values: dict[str, set[str]] = {}
    for job in jobs:
        for override in job:
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    return len(jobs), [k for k, v in values.items() if len(v) > 1]


def planned_total() -> int | None:
    """This sweep's number of jobs, as :func:`sweep_plan` found it (``None``: unknown)."""
    value = os.environ.get(TOTAL_ENV, "")
    return int(value) if value.isdigit() else None


def swept_values(overrides: Sequence[str], keys: Sequence[str] | None = None) -> str:
    """The job's overrides of the swept ``keys`` (default: ``GENRECLF_SWEEP_KEYS``; all of
    its overrides if no keys are known)."""
    keys = os.environ.get(KEYS_ENV, "").split() if keys is None else keys
    chosen = [o for o in overrides if not keys or o.partition("=")[0] in keys]
    return " ".join(chosen)


def job_tag(job_num: int, total: int | None) -> str:
    """``[17/2700]`` for job number 16 (Hydra counts from 0); ``[17]`` if no total is known."""
    return f"[{job_num + 1}/{total}]" if total else f"[{job_num + 1}]"


def job_line(
    job_num: int,
    run_name: str,
    overrides: Sequence[str],
    outcome: str,
    seconds: float,
    total: int | None = None,
) -> str:
    """The line a job prints when it ends: number, run name, swept values, outcome, time.

    Control characters of the run name and the values are shown as escapes, and the run
    name is cut to :data:`~genreclf.core.errors.LINE_LIMIT` characters
    (:func:`~genreclf.core.errors.one_line`).
    """
    tag = job_tag(job_num, planned_total() if total is None else total)
    values = printable(swept_values(overrides))
    return f"{tag} {one_line(run_name)}  {values}  {printable(outcome)}  {seconds:.1f} s"


def say_job_line(line: str) -> None:
    """Print a job's end-of-job line, or keep it for the launching process to print."""
    if _KEPT_LINES is not None:
        _KEPT_LINES.append(line)
    else:
        print(line, flush=True)


def run_keeping_line(execute: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``execute(*args, **kwargs)`` (a worker running one job), keeping the job's line.

    The line the job would print (:func:`say_job_line`) is set on the returned
    ``JobReturn`` as :data:`JOB_LINE_ATTR`, for the launching process to print.
    """
    global _KEPT_LINES
    _KEPT_LINES = []
    try:
        result = execute(*args, **kwargs)
    finally:
        lines, _KEPT_LINES = _KEPT_LINES, None
    if lines:
        setattr(result, JOB_LINE_ATTR, lines[-1])
    return result


def failed_line(
    job_num: int,
    overrides: Sequence[str],
    why: str,
    total: int | None,
    keys: Sequence[str] | None = None,
) -> str:
    """The line of a job that ended without saying so (its worker died, it raised);
    ``keys``: the swept keys (see :func:`swept_values`)."""
    last = one_line((why.strip().splitlines() or ["unknown error"])[-1])
    values = printable(swept_values(overrides, keys))
    return f"{job_tag(job_num, total)} {values}  FAILED: {last}"


def scores(val_acc: float, test_acc: float) -> str:
    """``val_acc 0.812  test_acc 0.790``."""
    return f"val_acc {val_acc:.3f}  test_acc {test_acc:.3f}"


def duration(seconds: float) -> str:
    """Seconds as ``1:02:03`` (or ``2:03``)."""
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


#: Most tied runs a sweep's summary names (the others are counted).
MAX_TIED_NAMED = 10


def best_line(
    metric: str,
    best: Any,
    params: Mapping[str, str],
    tied: Sequence[Any] = (),
) -> str:
    """The summary line of a sweep's best run, naming the runs tied with it.

    ``best run <id> (<name>)``, then ``: key=value, ...`` (the swept params; nothing if
    none), then ``; tied with N run(s): <name> (<id>), ...``: the runs whose ``metric``
    equals the best's (the best is chosen among them as
    :func:`~genreclf.tracking.selection.best_run` breaks ties).

    Parameters
    ----------
    metric : str
        The selection metric's name.
    best : mlflow.entities.Run
    params : mapping
        The swept params to show, ``key`` to value.
    tied : sequence of mlflow.entities.Run
        The other runs with the same value of ``metric``.
    """
    name = best.data.tags.get(names.RUN_NAME_TAG, "")
    line = f"best {metric}={best.data.metrics[metric]:.4f} in run {best.info.run_id} ({name})"
    if params:
        line += ": " + ", ".join(f"{k}={v}" for k, v in params.items())
    if tied:
        shown = [
            f"{run.data.tags.get(names.RUN_NAME_TAG) or '?'} ({run.info.run_id})"
            for run in tied[:MAX_TIED_NAMED]
        ]
        more = len(tied) - len(shown)
        line += f"; tied with {len(tied)} run(s): " + ", ".join(shown)
        line += f" and {more} more" if more else ""
    return line


def tied_runs(best: Any, runs: Sequence[Any], metric: str) -> list[Any]:
    """The FINISHED runs other than ``best`` whose ``metric`` equals the best's."""
    value = best.data.metrics.get(metric)
    return [
        run
        for run in runs
        if run.info.run_id != best.info.run_id
        and run.info.status == names.FINISHED
        and run.data.metrics.get(metric) == value
    ]


class JobValue(float):
    """A job's return value: its validation accuracy (what sweepers see) and its run's
    :class:`~genreclf.tracking.selection.Score`, by which the best so far is chosen."""

    score: Score

    def __new__(cls, score: Score) -> JobValue:
        value = super().__new__(cls, score.val_acc)
        value.score = score
        return value

    def __reduce__(self) -> tuple[type, tuple[Score]]:
        return (JobValue, (self.score,))


class PrunedValue(float):
    """The return value of a job its pruner stopped: NaN (no score), and its ``epochs``."""

    epochs: int

    def __new__(cls, epochs: int) -> PrunedValue:
        value = super().__new__(cls, math.nan)
        value.epochs = int(epochs)
        return value

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return (PrunedValue, (self.epochs,))


def job_score(value: Any) -> Score:
    """The :class:`~genreclf.tracking.selection.Score` of a job's return value (NaN: failed)."""
    if isinstance(value, JobValue):
        return value.score
    try:
        return Score(float(value))
    except (TypeError, ValueError):
        return Score(math.nan)


class SweepProgress:
    """Jobs done, failed, ETA and best score so far of the sweep launched in this process."""

    def __init__(self, name: str, total: int | None, keys: Sequence[str] = ()) -> None:
        self.name = name
        self.total = total
        self.keys = list(keys)
        self.start = time.monotonic()
        self.done = 0
        self.failed = 0
        self.pruned = 0
        self.best: tuple[Score, str] | None = None
        self._lock = threading.RLock()

    def finished(self, job_num: int, value: Any, overrides: Sequence[str]) -> str:
        """Count a job that returned ``value`` (NaN: failed); return the progress line."""
        score = job_score(value)
        with self._lock:
            self.done += 1
            if isinstance(value, PrunedValue):
                self.pruned += 1
            elif not score.ranked:
                self.failed += 1
            elif self.best is None or best_run([self.best[0], score]) is score:
                label = swept_values(overrides, self.keys or None)
                self.best = (score, f"{job_tag(job_num, None)} {label}")
            return self.line()

    def report(self, job_num: int, result: Any, overrides: Sequence[str]) -> None:
        """Print the line of a job a worker ran (``result``: its ``JobReturn``), then the count.

        A job that left no line (its worker died, Hydra caught an error) gets one
        saying it FAILED. The two lines are printed together, one job after another.
        """
        completed = getattr(getattr(result, "status", None), "name", "") == "COMPLETED"
        value = result.return_value if completed else math.nan
        line = getattr(result, JOB_LINE_ATTR, None)
        if not line:
            why = "" if completed else str(getattr(result, "_return_value", "") or "")
            why = why or "the job ended without a result"
            line = failed_line(job_num, overrides, why, self.total, self.keys or None)
        with self._lock:
            print(line, flush=True)
            print(self.finished(job_num, value, overrides), flush=True)

    def line(self) -> str:
        """``sweep grid: 17/2700 done (1 failed), 0:42 elapsed, ETA 1:05:00, best ...``."""
        elapsed = time.monotonic() - self.start
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        parts = [f"sweep {self.name}: {count} done"]
        ended = [
            f"{n} {what}" for n, what in ((self.pruned, "pruned"), (self.failed, "failed")) if n
        ]
        if ended:
            parts[0] += f" ({', '.join(ended)})"
        parts.append(f"{duration(elapsed)} elapsed")
        if self.total:
            left = max(self.total - self.done, 0)
            parts.append(f"ETA {duration(elapsed / self.done * left)}")
        if self.best is not None:
            parts.append(f"best val_acc {self.best[0].val_acc:.3f} {self.best[1]}".rstrip())
        return printable(", ".join(parts))


#: The progress of the sweep this process launched (set by the sweep callback).
_CURRENT: SweepProgress | None = None


def start_progress(name: str, total: int | None, keys: Sequence[str] = ()) -> SweepProgress:
    """Start counting the jobs of a sweep launched by this process (``keys``: swept)."""
    global _CURRENT
    _CURRENT = SweepProgress(name, total, keys)
    return _CURRENT


def current_progress(total: int | None = None) -> SweepProgress:
    """The progress of this process's sweep (one is started if none was)."""
    return _CURRENT if _CURRENT is not None else start_progress("", total)
