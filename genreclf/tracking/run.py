"""The MLflow run of one training job: created, tagged, written in batches, always ended.

:class:`RunWriter` holds a run's params, tags and metrics in memory and writes them in
a few ``log_batch`` calls (``tracking.flush_every_s``), so that a sweep of thousands of
short runs spends little time in the tracking store. :func:`tracked_run` opens the run
and ends it FINISHED, FAILED or KILLED.
"""

from __future__ import annotations

import functools
import math
import re
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from genreclf.stopping import reason as stop_reason
from genreclf.tracking import names
from genreclf.tracking.store import Store, flatten_params

_ACTIVE: list[RunWriter] = []


@functools.cache
def open_store(uri: str, sqlite_pragmas: tuple[tuple[str, str], ...] = ()) -> Store:
    """This process's :class:`Store` for ``uri`` (one client, experiment ids looked up once)."""
    return Store(uri, dict(sqlite_pragmas))


def store_for(tracking: Mapping[str, Any]) -> Store:
    """The store of a ``tracking`` config group (``uri``, optional ``sqlite_pragmas``)."""
    pragmas = tracking.get("sqlite_pragmas") or {}
    return open_store(
        str(tracking["uri"]), tuple(sorted((str(k), str(v)) for k, v in pragmas.items()))
    )


class RunWriter:
    """Params, tags and metrics of one open run, written in batches.

    Metrics are kept in memory and written once they are ``flush_every_s`` seconds old
    (``0`` writes every call at once; ``inf`` holds them all until the run ends), and
    always when the run ends. One value per metric and step is kept. Params already
    logged with the same value are not sent again.

    Parameters
    ----------
    store : Store
    run_id, experiment_id : str
    flush_every_s : float
        Largest age of a held item before the buffer is written.
    start_time : float
        When the run started, in milliseconds since the epoch (NaN: unknown).
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        experiment_id: str,
        flush_every_s: float = 0.0,
        start_time: float = math.nan,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.start_time = start_time
        self.flush_every_s = float(flush_every_s)
        self._pending: dict[tuple[str, int], Any] = {}
        self._pending_params: dict[str, str] = {}
        self._pending_tags: dict[str, str] = {}
        self._oldest: float | None = None
        self._params: dict[str, str] = {}
        self._store_start = store.seconds
        self.discarded = False

    @property
    def store_seconds(self) -> float:
        """Seconds this process spent in the store since the run was opened."""
        return self.store.seconds - self._store_start

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (nested mappings are flattened to dotted keys); held like metrics."""
        flat = flatten_params(params)
        new = {k: str(v) for k, v in flat.items() if self._params.get(k) != str(v)}
        self._params.update(new)
        self._pending_params.update(new)
        self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log numeric metrics at ``step``; held like params."""
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
        """Write the held params, tags and metrics (one :meth:`Store.log_batch`)."""
        params, tags, metrics = self._pending_params, self._pending_tags, self._pending
        self._pending_params, self._pending_tags, self._pending = {}, {}, {}
        self._oldest = None
        if params or tags or metrics:
            self.store.log_batch(self.run_id, params, list(metrics.values()), tags)

    def stage_done(self) -> None:
        """End of a training stage: write held items, unless they are held for the run's end."""
        if math.isfinite(self.flush_every_s):
            self.flush()

    def take_metrics(self) -> list:
        """Hand over the held metrics (as MLflow ``Metric`` records) unwritten; hold none."""
        items = list(self._pending.values())
        self._pending.clear()
        return items

    def hold_metrics(self, metrics: list) -> None:
        """Hold MLflow ``Metric`` records, to be written with the next flush."""
        for metric in metrics:
            self._pending[(metric.key, metric.step)] = metric

    def end(self, status: str) -> None:
        """Write held items and end the run with ``status`` (FINISHED, FAILED, KILLED)."""
        if self.discarded:
            return
        try:
            self.flush()
        finally:
            self.store.end_run(self.run_id, status)

    def discard(self) -> None:
        """Delete the run (it lost a claim to another run): nothing more is written."""
        self._pending_params, self._pending_tags, self._pending = {}, {}, {}
        self.discarded = True
        self.store.delete_run(self.run_id)


@contextmanager
def tracked_run(tracking: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> Iterator:
    """Open an MLflow run for a training job and yield its :class:`RunWriter`.

    The run ends FINISHED when the block completes, KILLED on Ctrl-C (or exit), and FAILED
    on any other exception, with the traceback logged as ``traceback.txt``. No
    run is left RUNNING.

    Nested calls in one process share the outer run: the inner block adds its ``tags``
    and yields the same writer, and the outer block ends the run. A sweep job opens the
    run first, so that a failure anywhere in training still ends as that job's run.

    Parameters
    ----------
    tracking : mapping
        The ``tracking`` config group: ``uri``, ``experiment``, ``run_name``, and
        optionally ``flush_every_s`` (seconds items may be held before they are
        written; default 0) and ``sqlite_pragmas`` (mapping applied to SQLite stores).
    tags : mapping, optional
        Extra run tags.
    """
    if _ACTIVE:
        writer = _ACTIVE[-1]
        writer.log_tags(dict(tags or {}))
        yield writer
        return

    from genreclf.tracking.liveness import Heartbeat, owner_tags

    store = store_for(tracking)
    start = store.seconds
    experiment = store.experiment_id(str(tracking["experiment"]))
    run_tags = owner_tags() | dict(tags or {})
    run = store.new_run(experiment, tracking.get("run_name"), run_tags)
    run_id = run.info.run_id
    flush_every_s = tracking.get("flush_every_s", 0.0) or 0.0
    writer = RunWriter(store, run_id, experiment, flush_every_s, run.info.start_time)
    writer._store_start = start
    heartbeat = Heartbeat(store, run_id).start()
    _ACTIVE.append(writer)
    try:
        yield writer
    except (KeyboardInterrupt, SystemExit) as exc:  # Lightning turns Ctrl-C into SystemExit
        heartbeat.stop()
        try:
            writer.log_tags({names.STOP_TAG: stop_reason(exc)})
        finally:
            writer.end(names.KILLED)
        raise
    except BaseException:
        heartbeat.stop()
        try:
            store.log_text(run_id, traceback.format_exc(), names.TRACEBACK_ARTIFACT)
        finally:
            writer.end(names.FAILED)
        raise
    else:
        heartbeat.stop()
        writer.end(names.FINISHED)
    finally:
        _ACTIVE.remove(writer)
