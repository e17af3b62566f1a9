"""Whether a tracking URI can be used, checked before any work, in one line.

:func:`check_store` refuses an unknown scheme, an in-memory or unwritable SQLite store, a
server that does not answer whole within :data:`SERVER_TIMEOUT_S`, and a database that
does not accept a connection within :data:`DATABASE_TIMEOUT_S`: a :class:`StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from genreclf.core.errors import ConfigError

T = TypeVar("T")

#: Tracking URI schemes genreclf can use (MLflow 3.13+ has no file store).
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")
#: Seconds a tracking server gets to answer its health check.
SERVER_TIMEOUT_S = 5.0


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


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (MLflow's are often long)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
