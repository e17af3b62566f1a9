"""The MLflow run of one training job: created, tagged, and always ended with a status.

A run's metrics go through :class:`BatchedMLFlowLogger`, which can hold them in memory
and write them in a few ``log_batch`` calls (``tracking.flush_every_s``), so that a
sweep of thousands of short runs spends little time in the tracking store.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import traceback
from argparse import Namespace
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig
from pytorch_lightning.loggers import MLFlowLogger

from genreclf.tracking.store import ensure_experiment, flatten_params, sqlite_path, with_retry

log = logging.getLogger(__name__)

#: MLflow's limit on metrics per ``log_batch`` call.
MAX_METRICS_PER_BATCH = 1000
#: MLflow's limit on params per ``log_batch`` call.
MAX_PARAMS_PER_BATCH = 100

_ACTIVE: list[BatchedMLFlowLogger] = []


class BatchedMLFlowLogger(MLFlowLogger):
    """Lightning's ``MLFlowLogger`` for a run that :func:`tracked_run` owns.

    Metrics are kept in memory and written with ``log_batch`` once they are
    ``flush_every_s`` seconds old (``0`` writes every call at once; ``inf`` holds them
    all until the run ends, even past the end of ``fit``), and always when the run
    ends. One value per metric and step is kept (Lightning logs ``epoch`` twice per
    epoch). Parameters already logged with the same value are not sent again.
    ``finalize`` writes pending metrics (unless they are held for the run's end) but
    does not end the run: :func:`tracked_run` ends it once, with its final status.

    Parameters
    ----------
    flush_every_s : float
        Largest age of a held metric before the buffer is written.
    **kwargs
        Passed to ``MLFlowLogger``.
    """

    def __init__(self, flush_every_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flush_every_s = float(flush_every_s)
        self._pending: dict[tuple[str, int], Any] = {}
        self._pending_params: dict[str, str] = {}
        self._pending_tags: dict[str, str] = {}
        self._oldest: float | None = None
        self._params: dict[str, str] = {}
        #: Seconds spent in calls to the tracking store by this logger.
        self.store_seconds = 0.0

    def _timed(self, fn: Any) -> Any:
        start = time.perf_counter()
        try:
            return with_retry(fn)
        finally:
            self.store_seconds += time.perf_counter() - start

    def log_hyperparams(self, params: Any) -> None:
        """Log params (not already logged with the same value); held like metrics."""
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        flat = flatten_params(params) if params else {}
        new = {k: str(v)[:250] for k, v in flat.items() if self._params.get(k) != str(v)[:250]}
        self._params.update(new)
        self._pending_params.update(new)
        self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in metrics.items():
            if isinstance(value, str):
                continue
            key = re.sub(r"[^a-zA-Z0-9_/. -]+", "", key)
            self._pending[(key, step or 0)] = Metric(key, float(value), now, step or 0)
        self._maybe_flush()

    def log_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags; held like metrics."""
        self._pending_tags.update({k: str(v) for k, v in tags.items()})
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self._oldest is None:
            self._oldest = time.monotonic()
        if time.monotonic() - self._oldest >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        """Write the held params, tags and metrics, in as few ``log_batch`` calls as fit."""
        params, tags, metrics = self._pending_params, self._pending_tags, self._pending
        self._pending_params, self._pending_tags, self._pending = {}, {}, {}
        self._oldest = None
        write_batches(self, self.run_id, params, list(metrics.values()), tags)

    def take_metrics(self) -> list:
        """Hand over the held metrics (as MLflow ``Metric`` records) unwritten; hold none."""
        items = list(self._pending.values())
        self._pending.clear()
        return items

    def hold_metrics(self, metrics: list) -> None:
        """Hold MLflow ``Metric`` records, to be written with the next flush."""
        for metric in metrics:
            self._pending[(metric.key, metric.step)] = metric

    def finalize(self, status: str = "success") -> None:
        """Lightning's end of a stage: write held metrics, unless held for the run's end."""
        if math.isfinite(self.flush_every_s):
            self.flush()

    def end(self, status: str) -> None:
        """Write held metrics and end the run with ``status`` (FINISHED, FAILED, KILLED)."""
        try:
            self.flush()
        finally:
            self._timed(lambda: self.experiment.set_terminated(self.run_id, status))


def write_batches(
    logger: BatchedMLFlowLogger,
    run_id: str,
    params: Mapping[str, Any],
    metrics: list,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Write params, MLflow ``Metric`` records and tags to a run in few ``log_batch`` calls.

    Each call holds at most 100 params and 1000 items in all (MLflow's limits); the
    calls are counted in ``logger.store_seconds`` and retried on a busy SQLite store.
    """
    from mlflow.entities import Param, RunTag

    client = logger.experiment
    left_params = [Param(k, str(v)[:250]) for k, v in params.items()]
    left_tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    left_metrics = list(metrics)
    while left_params or left_metrics or left_tags:
        p, left_params = left_params[:MAX_PARAMS_PER_BATCH], left_params[MAX_PARAMS_PER_BATCH:]
        t, left_tags = left_tags[:MAX_PARAMS_PER_BATCH], left_tags[MAX_PARAMS_PER_BATCH:]
        room = MAX_METRICS_PER_BATCH - len(p) - len(t)
        m, left_metrics = left_metrics[:room], left_metrics[room:]
        logger._timed(lambda p=p, m=m, t=t: client.log_batch(run_id, metrics=m, params=p, tags=t))


def log_finished_run(
    logger: BatchedMLFlowLogger,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    metrics: list,
    run_name: str | None = None,
) -> str:
    """Write a whole FINISHED run into ``logger``'s experiment; return its id.

    For a result computed inside another run (see :mod:`genreclf.sweeps.budgets`): one
    ``create_run``, ``log_batch`` calls for the params and the MLflow ``Metric``
    records, and ``set_terminated``, all counted in ``logger.store_seconds``.
    """
    client = logger.experiment
    run_tags = _context_tags() | dict(tags)
    run = logger._timed(
        lambda: client.create_run(logger.experiment_id, run_name=run_name, tags=run_tags)
    )
    run_id = run.info.run_id
    write_batches(logger, run_id, params, metrics)
    logger._timed(lambda: client.set_terminated(run_id, "FINISHED"))
    return run_id


@functools.cache
def _context_tags() -> dict[str, str]:
    """MLflow's context tags (user, source), resolved once per process."""
    from mlflow.tracking.context.registry import resolve_tags

    return dict(resolve_tags({}))


@functools.cache
def experiment_id(uri: str, name: str) -> str:
    """The experiment's id, looked up (or created) once per process."""
    return ensure_experiment(uri, name)


@functools.cache
def tune_sqlite(pragmas: tuple[tuple[str, str], ...]) -> None:
    """Run ``PRAGMA key=value`` on every new SQLite connection of this process.

    For instance ``journal_mode=WAL`` and ``synchronous=NORMAL``: commits then skip the
    disk flush and readers do not block the writer. Only for a database on a local disk
    (WAL does not work over network file systems).
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            for key, value in pragmas:
                cursor.execute(f"PRAGMA {key}={value}")
            cursor.close()


def active_logger() -> BatchedMLFlowLogger | None:
    """The logger of the run that :func:`tracked_run` holds open in this process, if any."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def tracked_run(tracking: DictConfig, tags: dict[str, str] | None = None) -> Iterator:
    """Open an MLflow run for a training job and yield its Lightning logger.

    The run ends FINISHED when the block completes, KILLED on Ctrl-C (or exit), and FAILED
    on any other exception, with the traceback logged as ``traceback.txt``. No
    run is left RUNNING.

    Nested calls in one process share the outer run: the inner block adds its ``tags``
    and yields the same logger, and the outer block ends the run. A sweep job opens the
    run first, so that a failure anywhere in training still ends as that job's run.

    Parameters
    ----------
    tracking : DictConfig
        The ``tracking`` config group: ``uri``, ``experiment``, ``run_name``, and
        optionally ``flush_every_s`` (seconds metrics may be held before they are
        written; default 0) and ``sqlite_pragmas`` (mapping applied to SQLite stores).
    tags : dict, optional
        Extra run tags.
    """
    if _ACTIVE:
        logger = _ACTIVE[-1]
        logger.log_tags(dict(tags or {}))
        yield logger
        return

    from mlflow import MlflowClient

    pragmas = tracking.get("sqlite_pragmas") or {}
    if pragmas and sqlite_path(tracking.uri) is not None:
        tune_sqlite(tuple(sorted((str(k), str(v)) for k, v in pragmas.items())))
    start = time.perf_counter()
    experiment = experiment_id(tracking.uri, tracking.experiment)
    run_tags = _context_tags() | dict(tags or {})
    run = with_retry(
        lambda: MlflowClient(tracking.uri).create_run(
            experiment, run_name=tracking.run_name, tags=run_tags
        )
    )
    # A logger for an existing run: Lightning looks the run up once, on first use.
    logger = BatchedMLFlowLogger(
        flush_every_s=tracking.get("flush_every_s", 0.0),
        experiment_name=tracking.experiment,
        tracking_uri=tracking.uri,
        run_id=run.info.run_id,
    )
    client = with_retry(lambda: logger.experiment)  # also sets mlflow's tracking URI
    logger.store_seconds += time.perf_counter() - start
    run_id = run.info.run_id
    _ACTIVE.append(logger)
    try:
        yield logger
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C into SystemExit
        logger.end("KILLED")
        raise
    except BaseException:
        try:
            logger._timed(lambda: client.log_text(run_id, traceback.format_exc(), "traceback.txt"))
        finally:
            logger.end("FAILED")
        raise
    else:
        logger.end("FINISHED")
    finally:
        _ACTIVE.remove(logger)
