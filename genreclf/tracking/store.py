"""The MLflow store of a tracking URI: one client, with retries, and what genreclf asks of it.

:class:`Store` is the only place that builds an ``MlflowClient``. It never sets MLflow's
global tracking URI, so two stores (a local SQLite file and a server) can be used in
one process. Every call goes through the one retry layer, :mod:`genreclf.tracking.retry`.

Whether a URI can be used at all is checked before any work by :func:`check_store`
(:mod:`genreclf.tracking.store_checks`; its names are importable from here too).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pandas as pd

from genreclf.core.filenames import printable_name
from genreclf.tracking import names
from genreclf.tracking.retry import bound_http_retries, retried
from genreclf.tracking.store_artifacts import ArtifactCalls
from genreclf.tracking.store_checks import (
    SCHEMES,
    SERVER_TIMEOUT_S,
    StoreError,
    check_store,
    first_line,
    in_memory,
    sqlite_path,
    within,
)

__all__ = [
    "SCHEMES",
    "SERVER_TIMEOUT_S",
    "Store",
    "StoreError",
    "check_store",
    "first_line",
    "flatten_params",
    "in_memory",
    "sqlite_path",
]

T = TypeVar("T")

#: Seconds a server store gets for one read (a run, a metric history, an artifact list),
#: retries included (downloads: :data:`~genreclf.tracking.store_artifacts.DOWNLOAD_DEADLINE_S`).
READ_DEADLINE_S = 90.0
#: The tag MLflow 3's UI reads to open an experiment as classic machine learning (not GenAI).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def default_artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a SQLite store live beside the database: ``<db folder>/<experiment>``.

    For servers and other stores, ``None`` leaves the choice to the store.
    """
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.resolve().parent / experiment).as_uri()


#: How a database says a row with that unique key is already there (PostgreSQL, SQLite).
_UNIQUE_KEY_ERRORS = ("UniqueViolation", "duplicate key", "UNIQUE constraint failed")


def flatten_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten a nested config into dotted MLflow params (``model.hidden_size``).

    Text is stored as text: a path that is not UTF-8 as its
    :func:`~genreclf.core.filenames.printable_name`.
    """
    if not config:
        return {}
    return pd.json_normalize(_printable(dict(config)), sep=".").iloc[0].to_dict()


def _printable(value: Any) -> Any:
    """``value`` with every string in it (in mappings and lists too) printable."""
    if isinstance(value, str):
        return printable_name(value)
    if isinstance(value, Mapping):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


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


@functools.cache
def context_tags() -> dict[str, str]:
    """MLflow's context tags (user, source), resolved once per process."""
    from mlflow.tracking.context.registry import resolve_tags

    return dict(resolve_tags({}))


class Store(ArtifactCalls):
    """One MLflow tracking store: experiments, runs, batched logging, artifacts, registry.

    Every call goes through :func:`~genreclf.tracking.retry.retried` and is timed in
    :attr:`seconds`.

    Parameters
    ----------
    uri : str
        Tracking URI (``sqlite:///mlruns/mlflow.db``, ``http://host:5000``, ...); it is
        the registry URI too.
    sqlite_pragmas : mapping, optional
        ``PRAGMA`` settings for every connection to a SQLite store (see :func:`tune_sqlite`).
    """

    def __init__(self, uri: str, sqlite_pragmas: Mapping[str, Any] | None = None) -> None:
        self.uri = str(uri)
        if self.uri.startswith(("http:", "https:")):
            import os

            bound_http_retries()
            from genreclf.tracking.uri import has_secret

            if has_secret(self.uri):  # MLflow prints run links, password and all
                os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
        if sqlite_pragmas and sqlite_path(self.uri) is not None:
            tune_sqlite(tuple(sorted((str(k), str(v)) for k, v in sqlite_pragmas.items())))
        self._client = None
        self._experiments: dict[str, str] = {}
        #: Seconds spent in calls to the store.
        self.seconds = 0.0

    @property
    def client(self):
        """The store's ``MlflowClient`` (built on first use).

        A new SQLite store is created and migrated under a file lock
        (``<database>.lock``), so any number of processes may start on it at once.
        """
        if self._client is None:
            from mlflow import MlflowClient

            db = sqlite_path(self.uri)
            if db is None:
                self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
                return self._client
            from filelock import FileLock

            db.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(f"{db}.lock"):
                # MLflow creates the tables, or brings their schema up to date, when it
                # first opens the database: the client and its first call.
                client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
                retried(lambda: client.search_experiments(max_results=1))
                retried(lambda: client.search_registered_models(max_results=1))
            self._client = client
        return self._client

    def call(self, fn: Callable[[Any], T], budget_s: float | None = None) -> T:
        """``fn(client)``, retried while SQLite is locked, and timed.

        ``budget_s``: seconds for all its tries (see :func:`~genreclf.tracking.retry.retried`).
        """
        start = time.perf_counter()
        try:
            return retried(lambda: fn(self.client), budget_s)
        finally:
            self.seconds += time.perf_counter() - start

    def read(self, fn: Callable[[Any], T], seconds: float | None = None) -> T:
        """:meth:`call`, within ``seconds`` (default :data:`READ_DEADLINE_S`) on a server
        store, so that one that stalls or drips its answers cannot hold the command.

        Raises
        ------
        StoreError
            If a server has not answered whole in time.
        """
        if not self.uri.startswith(("http:", "https:")):
            return self.call(fn)
        seconds = READ_DEADLINE_S if seconds is None else seconds
        try:
            return within(lambda: self.call(fn, seconds), seconds)
        except TimeoutError as exc:
            raise StoreError(
                f"tracking.uri={self.uri}: the server gave no whole answer within {seconds:g} s"
            ) from exc

    # ------------------------------------------------------------------ experiments
    def experiment_id(self, name: str, create: bool = True) -> str | None:
        """The id of experiment ``name``, created once if ``create`` (else ``None`` if absent).

        A deleted experiment is restored. Safe to call from several processes at once.
        """
        if name in self._experiments:
            return self._experiments[name]

        def get_or_create(client) -> str | None:
            found = client.get_experiment_by_name(name)
            if found is not None:
                if found.lifecycle_stage == "deleted" and create:
                    client.restore_experiment(found.experiment_id)
                return found.experiment_id
            if not create:
                return None
            try:
                location = default_artifact_location(self.uri, name)
                return client.create_experiment(name, location, tags=EXPERIMENT_KIND)
            except Exception:
                found = client.get_experiment_by_name(name)  # created meanwhile by another job
                if found is None:
                    raise
                return found.experiment_id

        found = self.call(get_or_create)
        if found is not None:
            self._experiments[name] = found
        return found

    def experiment_names(self) -> list[str]:
        """Names of the store's experiments."""
        return sorted(e.name for e in self.call(lambda c: c.search_experiments()))

    # ------------------------------------------------------------------------- runs
    def find_runs(
        self,
        experiment_id: str,
        tags: Mapping[str, str] | None = None,
        statuses: Iterable[str] | None = None,
        order_by: list[str] | None = None,
        max_results: int | None = None,
    ) -> list:
        """Runs of an experiment whose tags equal ``tags`` and whose status is in ``statuses``.

        Every page is read unless ``max_results`` caps the count.
        """
        statuses = tuple(statuses or ())
        terms = [f"tags.`{key}` = '{value}'" for key, value in (tags or {}).items()]
        if len(statuses) == 1:  # the store filters; MLflow cannot test status against a list
            terms.append(f"attributes.status = '{statuses[0]}'")
        query = " and ".join(terms)
        runs: list = []
        token = None
        page_size = min(max_results or 5000, 5000)
        while True:
            page = self.read(
                lambda c, t=token: c.search_runs(
                    [experiment_id],
                    query,
                    order_by=order_by,
                    max_results=page_size,
                    page_token=t,
                )
            )
            runs += list(page)
            token = page.token
            if not token or (max_results and len(runs) >= max_results):
                break
        if statuses:
            runs = [run for run in runs if run.info.status in statuses]
        return runs[:max_results] if max_results else runs

    def runs_frame(self, experiment_id: str) -> pd.DataFrame:
        """Every run of an experiment, one row each, with ``mlflow.search_runs``' columns.

        ``run_id``, ``experiment_id``, ``status``, ``start_time``, ``end_time``,
        ``artifact_uri``, ``params.*``, ``metrics.*`` and ``tags.*``.
        """
        rows = []
        for run in self.find_runs(experiment_id):
            info, data = run.info, run.data
            row: dict[str, Any] = {
                "run_id": info.run_id,
                "experiment_id": info.experiment_id,
                "status": info.status,
                "artifact_uri": info.artifact_uri,
                "start_time": pd.to_datetime(info.start_time, unit="ms", utc=True),
                "end_time": pd.to_datetime(info.end_time, unit="ms", utc=True)
                if info.end_time
                else pd.NaT,
            }
            row |= {f"metrics.{k}": v for k, v in data.metrics.items()}
            row |= {f"params.{k}": v for k, v in data.params.items()}
            row |= {f"tags.{k}": v for k, v in data.tags.items()}
            rows.append(row)
        return pd.DataFrame(rows)

    def get_run(self, run_id: str):
        """The run ``run_id``."""
        return self.read(lambda c: c.get_run(run_id))

    def new_run(
        self, experiment_id: str, run_name: str | None = None, tags: Mapping[str, str] = ()
    ):
        """A new RUNNING run with MLflow's context tags and ``tags`` (an MLflow ``Run``).

        The name is cut to MLflow's limit, control characters as escapes
        (:func:`~genreclf.tracking.names.fit_run_name`).
        """
        run_tags = context_tags() | {k: str(v) for k, v in dict(tags).items()}
        name = names.fit_run_name(run_name)
        return self.call(lambda c: c.create_run(experiment_id, run_name=name, tags=run_tags))

    def create_run(
        self, experiment_id: str, run_name: str | None = None, tags: Mapping[str, str] = ()
    ) -> str:
        """The id of a :meth:`new_run`."""
        return self.new_run(experiment_id, run_name, tags).info.run_id

    def end_run(self, run_id: str, status: str) -> None:
        """End a run with ``status`` (FINISHED, FAILED, KILLED)."""
        self.call(lambda c: c.set_terminated(run_id, status))

    def delete_run(self, run_id: str) -> None:
        """Delete a run (MLflow keeps it as deleted; searches leave it out)."""
        self.call(lambda c: c.delete_run(run_id))

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Set one tag of a run."""
        self.call(lambda c: c.set_tag(run_id, key, str(value)))

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, Any] | None = None,
        metrics: Iterable[Any] = (),
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Write params, MLflow ``Metric`` records and tags with ``MlflowClient.log_batch``.

        MLflow splits them into calls within its own limits, and checks (or cuts, see
        ``MLFLOW_TRUNCATE_LONG_VALUES``) values longer than it stores.
        """
        from mlflow.entities import Param, RunTag

        params = [Param(k, str(v)) for k, v in (params or {}).items()]
        tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        metrics = list(metrics)
        self.call(lambda c: c.log_batch(run_id, metrics=metrics, params=params, tags=tags))

    def log_inputs(self, run_id: str, datasets: list) -> None:
        """Log MLflow ``DatasetInput`` records as the run's inputs.

        Two runs that log one new data set at once race to insert it; the loser gets a
        unique-key error (PostgreSQL's, or SQLite's when parallel jobs share a file store),
        and is sent once more (the data set then exists, and only the link to the run is
        added).
        """

        def send(client) -> None:
            try:
                client.log_inputs(run_id, datasets=datasets)
            except Exception as exc:
                if not any(mark in str(exc) for mark in _UNIQUE_KEY_ERRORS):
                    raise
                client.log_inputs(run_id, datasets=datasets)

        self.call(send)

    def log_finished_run(
        self,
        experiment_id: str,
        tags: Mapping[str, str],
        params: Mapping[str, Any],
        metrics: list,
        run_name: str | None = None,
    ) -> str:
        """Write a whole FINISHED run (params, ``Metric`` records, tags); return its id."""
        run_id = self.create_run(experiment_id, run_name, tags)
        self.log_batch(run_id, params, metrics)
        self.end_run(run_id, names.FINISHED)
        return run_id

    def metric_history(self, run_id: str, keys: Iterable[str]) -> pd.DataFrame:
        """Per-step values of ``keys`` for one run: one row per step, one column per key."""
        series = {
            key: pd.Series(
                {
                    m.step: m.value
                    for m in self.read(lambda c, k=key: c.get_metric_history(run_id, k))
                }
            )
            for key in keys
        }
        frame = pd.DataFrame(series).sort_index()
        frame.index.name = "step"
        return frame
