"""The MLflow store of a tracking URI: one client, with retries, and what genreclf asks of it.

:class:`Store` is the only place that builds an ``MlflowClient``. It never sets MLflow's
global tracking URI, so two stores (a local SQLite file and a server) can be used in
one process.
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from genreclf.errors import ConfigError
from genreclf.filenames import printable_name
from genreclf.tracking import names

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Tracking URI schemes genreclf can use (MLflow 3.13+ has no file store).
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")
#: Seconds a tracking server gets to answer its health check.
SERVER_TIMEOUT_S = 5.0
#: Seconds a server store gets for one read (a run, a metric history, an artifact list)
#: and for one artifact download, retries included.
READ_DEADLINE_S, DOWNLOAD_DEADLINE_S = 90.0, 900.0
#: The tag MLflow 3's UI reads to open an experiment as classic machine learning (not GenAI).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


class StoreError(ConfigError):
    """A tracking store that cannot be used; the message is one line naming ``tracking.uri``.

    Passwords in the message are masked (:func:`~genreclf.tracking.uri.mask_uri`).
    """

    def __init__(self, message: object = "") -> None:
        from genreclf.tracking.uri import mask_uri

        super().__init__(mask_uri(message))


def check_store(uri: str) -> None:
    """Refuse, before any work, a tracking URI that cannot be used, in one line.

    A SQLite store's folder must be creatable and writable, and an existing database
    must be an SQLite file; a server must answer its health check within
    :data:`SERVER_TIMEOUT_S` seconds.

    Raises
    ------
    StoreError
    """
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""
    if scheme not in SCHEMES:
        raise StoreError(
            f"tracking.uri={uri}: not a tracking URI genreclf can use; give "
            "sqlite:///<file>.db or http(s)://<host>:<port> (or another MLflow database URI)"
        )
    if in_memory(uri):
        raise StoreError(
            f"tracking.uri={uri}: an in-memory store loses the runs when the command ends; "
            "give a file, sqlite:///mlruns/mlflow.db"
        )
    db = sqlite_path(uri)
    if db is not None:
        _check_driver(uri)
        _check_sqlite(uri, db)
    elif scheme in ("http", "https"):
        _check_server(uri)
    elif scheme != "databricks":
        _check_database(uri)


def in_memory(uri: str) -> bool:
    """Whether a SQLite URI, in any spelling, names an in-memory database.

    ``sqlite://``, ``sqlite:///:memory:`` (any case, any ``+driver``), and SQLite's
    ``file::memory:`` and ``?mode=memory`` URI forms.
    """
    text = uri.strip()
    if not text.lower().startswith("sqlite"):
        return False
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except ArgumentError:
        return False
    database = (url.database or "").strip().lower()
    mode = str(url.query.get("mode", "")).lower()
    return (
        database in ("", ":memory:") or database.startswith("file::memory:") or (mode == "memory")
    )


def _check_driver(uri: str) -> None:
    """A ``sqlite+<driver>`` URI whose driver SQLAlchemy can load."""
    if not uri.startswith("sqlite+"):
        return
    from sqlalchemy.engine import make_url

    try:
        make_url(uri).get_dialect()
    except Exception as exc:  # an unknown or missing driver
        raise StoreError(
            f"tracking.uri={uri}: not a database genreclf can open ({first_line(exc)})"
        ) from exc


def _check_sqlite(uri: str, db: Path) -> None:
    import os

    folder = db.parent if str(db.parent) else Path(".")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise StoreError(f"tracking.uri={uri}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StoreError(f"tracking.uri={uri}: {existing} is not writable")
    if db.exists():
        if not db.is_file():
            raise StoreError(f"tracking.uri={uri}: {db} is not a file")
        if not os.access(db, os.R_OK | os.W_OK):
            raise StoreError(f"tracking.uri={uri}: {db} is not writable")
        with open(db, "rb") as handle:
            header = handle.read(16)
        if header and header != b"SQLite format 3\x00":
            raise StoreError(f"tracking.uri={uri}: {db} is not an SQLite database")


#: A cheap tracking API call: a server that answers ``/health`` must answer this too.
API_PROBE = "/api/2.0/mlflow/experiments/search?max_results=1"
#: Most bytes of a health or API answer the store check reads.
MAX_ANSWER_BYTES = 1 << 20


def within(fn: Callable[[], T], seconds: float) -> T:
    """``fn()``, given at most ``seconds`` of wall-clock time in all.

    ``fn`` runs in a daemon thread: a peer that sends its headers and then stalls, or
    drips its body byte by byte, cannot hold the caller past the deadline.

    Raises
    ------
    TimeoutError
        If ``fn`` has not returned in time (its thread is left to end on its own).
    """
    import threading

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="genreclf-deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no whole answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _answer(url: str) -> tuple[int, bytes]:
    """Status and whole body (at most :data:`MAX_ANSWER_BYTES`) of a GET of ``url``."""
    import requests

    with requests.get(url, timeout=SERVER_TIMEOUT_S, stream=True) as response:
        body = b""
        for chunk in response.iter_content(chunk_size=16384):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                break
        return response.status_code, body


def _check_server(uri: str) -> None:
    """``/health``, then one API call, each read whole within :data:`SERVER_TIMEOUT_S` s."""
    base = uri.rstrip("/")
    try:
        status, _ = within(lambda: _answer(base + "/health"), SERVER_TIMEOUT_S)
    except Exception as exc:
        raise StoreError(
            f"tracking.uri={uri}: no MLflow server answers within {SERVER_TIMEOUT_S:g} s "
            f"({first_line(exc)})"
        ) from exc
    if status != 200:
        raise StoreError(f"tracking.uri={uri}: the server answers {status}")
    try:  # a server can answer /health and stall on every API call (a stuck database)
        within(lambda: _answer(base + API_PROBE), SERVER_TIMEOUT_S)
    except Exception as exc:  # an answer with an error status is the client's to report
        raise StoreError(
            f"tracking.uri={uri}: the server answers /health but not its tracking API "
            f"within {SERVER_TIMEOUT_S:g} s ({first_line(exc)})"
        ) from exc


#: Seconds a database store gets to accept one connection.
DATABASE_TIMEOUT_S = 5.0
#: The connect-timeout argument (seconds) of each database driver genreclf knows.
CONNECT_TIMEOUT_ARGS = {
    "psycopg2": "connect_timeout",
    "psycopg": "connect_timeout",
    "pg8000": "timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mysqlconnector": "connection_timeout",
    "pymssql": "login_timeout",
    "pyodbc": "timeout",
}


def _check_database(uri: str) -> None:
    """Connect once to a database store (PostgreSQL, MySQL, ...) within a deadline."""
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import make_url

    try:
        url = make_url(uri)
        key = CONNECT_TIMEOUT_ARGS.get(url.get_driver_name())
        args = {key: int(DATABASE_TIMEOUT_S)} if key else {}
        engine = create_engine(url, connect_args=args, poolclass=pool.NullPool)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"tracking.uri={uri}: its database driver {exc.name} is not installed; install "
            "it, or name an installed driver in the URI (<database>+<driver>://...)"
        ) from exc
    except Exception as exc:  # a bad URI, an unknown dialect
        raise StoreError(
            f"tracking.uri={uri}: not a database genreclf can open ({first_line(exc)})"
        ) from exc
    try:
        within(lambda: engine.connect().close(), DATABASE_TIMEOUT_S + 1)
    except Exception as exc:
        raise StoreError(
            f"tracking.uri={uri}: the database does not accept a connection within "
            f"{DATABASE_TIMEOUT_S:g} s ({first_line(exc)})"
        ) from exc
    finally:
        engine.dispose()


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` (or ``sqlite+<driver>:///``) URI, else ``None``."""
    if not uri.startswith(("sqlite:", "sqlite+")):
        return None
    from sqlalchemy.engine import make_url

    return Path(make_url(uri).database or "")


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


def with_retry(fn: Callable[[], T], attempts: int = 20, delay: float = 0.2) -> T:
    """Call ``fn``, retrying while SQLite reports ``database is locked``."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # MLflow wraps SQLAlchemy errors in MlflowException
            if "database is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay * (1 + attempt))
    raise AssertionError("unreachable")


def flatten_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten a nested config into dotted MLflow params (``model.hidden_size``).

    Text is stored as text: a path that is not UTF-8 as its
    :func:`~genreclf.filenames.printable_name`.
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


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (MLflow's are often long)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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


class Store:
    """One MLflow tracking store: experiments, runs, batched logging, artifacts, registry.

    Every call goes through :func:`with_retry` and is timed in :attr:`seconds`.

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

            # Bounded: a server that stops answering fails a call in about a minute at
            # most, not after MLflow's default of seven retries of two minutes each.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
            # A server that stops answering is reported once, by genreclf (see
            # genreclf.tracking.spool), not by a warning per HTTP retry.
            logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
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
                with_retry(lambda: client.search_experiments(max_results=1))
                with_retry(lambda: client.search_registered_models(max_results=1))
            self._client = client
        return self._client

    def call(self, fn: Callable[[Any], T]) -> T:
        """``fn(client)``, retried on a busy SQLite store and timed."""
        start = time.perf_counter()
        try:
            return with_retry(lambda: fn(self.client))
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
            return within(lambda: self.call(fn), seconds)
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

    # -------------------------------------------------------------------- artifacts
    def log_text(self, run_id: str, text: str, name: str) -> None:
        """Log ``text`` as the artifact file ``name``."""
        self.call(lambda c: c.log_text(run_id, text, name))

    def log_artifacts(self, run_id: str, folder: str | Path, path: str | None = None) -> None:
        """Log every file of ``folder`` as artifacts of the run (under ``path``)."""
        self.call(lambda c: c.log_artifacts(run_id, str(folder), path))

    def log_artifact(self, run_id: str, file: str | Path, path: str | None = None) -> None:
        """Log one file as an artifact of the run (under ``path``)."""
        self.call(lambda c: c.log_artifact(run_id, str(file), path))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        """Paths of the run's artifacts directly under ``path``."""
        return [a.path for a in self.read(lambda c: c.list_artifacts(run_id, path))]

    def fetch_artifact(self, run_id: str, name: str, dst: Path) -> Path | None:
        """Copy the artifact file ``name`` of a run to ``dst``; ``None`` if it has none."""
        parent = name.rsplit("/", 1)[0] if "/" in name else None
        if name not in self.list_artifacts(run_id, parent):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            local = self.read(
                lambda c: c.download_artifacts(run_id, name, tmp), DOWNLOAD_DEADLINE_S
            )
            if not Path(local).is_file():
                return None
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, dst)
        return dst

    def download(self, artifact_uri: str, dst: Path) -> Path:
        """Download the artifacts at ``artifact_uri`` (``runs:/``, a storage URI) into ``dst``."""
        import mlflow.artifacts

        local = self.read(
            lambda _c: mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri,
                dst_path=str(dst),
                tracking_uri=self.uri,
                registry_uri=self.uri,
            ),
            DOWNLOAD_DEADLINE_S,
        )
        return Path(local)

    def list_uri(self, artifact_uri: str) -> list[str]:
        """Names of the artifacts directly under ``artifact_uri`` (a storage or ``runs:/`` URI)."""
        import mlflow.artifacts

        found = self.read(
            lambda _c: mlflow.artifacts.list_artifacts(
                artifact_uri=artifact_uri, tracking_uri=self.uri
            )
        )
        return [a.path.rsplit("/", 1)[-1] for a in found]

    # --------------------------------------------------------------------- registry
    def register(
        self,
        name: str,
        source: str,
        run_id: str,
        alias: str | None = None,
        model_id: str | None = None,
    ) -> str:
        """Register ``source`` (the run's model artifacts) as a new version of ``name``.

        ``model_id``: the MLflow 3 logged model it is (``source`` is then ``models:/<id>``).

        Returns
        -------
        str
            The new version number.
        """

        def create(client) -> None:
            try:
                client.create_registered_model(name)
            except Exception as exc:
                if "already exists" not in str(exc).lower():
                    raise

        self.call(create)
        version = self.call(
            lambda c: c.create_model_version(name, source, run_id=run_id, model_id=model_id)
        ).version
        if alias:
            self.call(lambda c: c.set_registered_model_alias(name, alias, str(version)))
        return str(version)

    def model_version(self, name: str, version: str | None = None, alias: str | None = None):
        """A registered model version, by number or by alias."""
        if alias is not None:
            return self.call(lambda c: c.get_model_version_by_alias(name, alias))
        return self.call(lambda c: c.get_model_version(name, str(version)))
