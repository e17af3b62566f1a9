"""The MLflow run of one training job: created, tagged, and always ended with a status.

A run's metrics go through :class:`BatchedMLFlowLogger`, which can hold them in memory
and write them in a few ``log_batch`` calls (``tracking.flush_every_s``), so that a
sweep of thousands of short runs spends little time in the tracking store.
"""

from __future__ import annotations

import functools
import logging
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
    ``flush_every_s`` seconds old (``0`` writes every call at once), and always when
    the run ends; one value per metric and step is kept (Lightning logs ``epoch`` twice
    per epoch). Parameters already logged with the same value are not sent again.
    ``finalize`` writes pending metrics but does not end the run: :func:`tracked_run`
    ends it once, with its final status.

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
        from mlflow.entities import Param

        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        flat = flatten_params(params) if params else {}
        new = {k: str(v)[:250] for k, v in flat.items() if self._params.get(k) != str(v)[:250]}
        self._params.update(new)
        items = [Param(k, v) for k, v in new.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            chunk = items[i : i + MAX_PARAMS_PER_BATCH]
            self._timed(lambda c=chunk: self.experiment.log_batch(self.run_id, params=c))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in metrics.items():
            if isinstance(value, str):
                continue
            key = re.sub(r"[^a-zA-Z0-9_/. -]+", "", key)
            self._pending[(key, step or 0)] = Metric(key, float(value), now, step or 0)
        if self._oldest is None:
            self._oldest = time.monotonic()
        if time.monotonic() - self._oldest >= self.flush_every_s:
            self.flush()

    def log_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags in one call."""
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        if items:
            self._timed(lambda: self.experiment.log_batch(self.run_id, tags=items))

    def flush(self) -> None:
        """Write the held metrics."""
        items = list(self._pending.values())
        self._pending.clear()
        self._oldest = None
        for i in range(0, len(items), MAX_METRICS_PER_BATCH):
            chunk = items[i : i + MAX_METRICS_PER_BATCH]
            self._timed(lambda c=chunk: self.experiment.log_batch(self.run_id, metrics=c))

    def finalize(self, status: str = "success") -> None:
        self.flush()

    def end(self, status: str) -> None:
        """Write held metrics and end the run with ``status`` (FINISHED, FAILED, KILLED)."""
        try:
            self.flush()
        finally:
            self._timed(lambda: self.experiment.set_terminated(self.run_id, status))


@functools.cache
def _context_tags() -> dict[str, str]:
    """MLflow's context tags (user, source), resolved once per process."""
    from mlflow.tracking.context.registry import resolve_tags

    return dict(resolve_tags({}))


@functools.cache
def _experiment_id(uri: str, name: str) -> str:
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

    pragmas = tracking.get("sqlite_pragmas") or {}
    if pragmas and sqlite_path(tracking.uri) is not None:
        tune_sqlite(tuple(sorted((str(k), str(v)) for k, v in pragmas.items())))
    start = time.perf_counter()
    experiment_id = _experiment_id(tracking.uri, tracking.experiment)
    logger = BatchedMLFlowLogger(
        flush_every_s=tracking.get("flush_every_s", 0.0),
        experiment_name=tracking.experiment,
        tracking_uri=tracking.uri,
    )
    client = logger._mlflow_client
    run_tags = _context_tags() | dict(tags or {})
    run = with_retry(
        lambda: client.create_run(experiment_id, run_name=tracking.run_name, tags=run_tags)
    )
    logger._run_id = run.info.run_id
    logger._experiment_id = experiment_id
    logger._initialized = True
    import mlflow

    mlflow.set_tracking_uri(tracking.uri)  # as MLFlowLogger.experiment does, for mlflow.*
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
