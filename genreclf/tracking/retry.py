"""The one retry layer of the tracking store: which errors pass, and how often a call is tried.

Two kinds of error pass, each with its own :class:`Backoff` in :data:`POLICY`:

- ``locked``: SQLite says ``database is locked`` (another process writes the file);
- ``unreachable``: the store does not answer (a server restarting, its database down;
  see :func:`unreachable`). After its tries a run's writes are spooled (see
  :mod:`genreclf.tracking.spool`).

Every call to a store goes through :func:`retried` in
:meth:`genreclf.tracking.store.Store.call`, where a locked database passes. A server
that does not answer is tried again only where a run's write could otherwise be lost:
the outbox's direct writes and its uploads (:mod:`genreclf.tracking.spool`), through
:func:`retried` too; a read or a new run fails at once, so that a dead server costs one
try, not several.

Below it, inside each HTTP request to a server, MLflow's own client tries again a refused
connection or a 429/5xx answer (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and its timeout).
Those stay MLflow's: they live in MLflow's HTTP session, within one request, where a
wrapper cannot reach. :func:`bound_http_retries` only bounds them, here, so that one
try of a call against a server that stops answering ends in about a minute.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from genreclf.tracking.uri import mask_uri

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """``tries`` of a call in all, ``first_s`` apart, then longer: ``first_s`` times the
    failure's number (``linear``) or twice the last pause (``doubling``)."""

    tries: int
    first_s: float
    doubling: bool

    def pause_s(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed try."""
        return self.first_s * (2 ** (failures - 1) if self.doubling else failures)


#: How often a call is tried while its error is of each passing kind.
POLICY = {
    "locked": Backoff(tries=20, first_s=0.2, doubling=False),
    "unreachable": Backoff(tries=2, first_s=2.0, doubling=True),
}
#: Words of the errors of a store that does not answer (MLflow wraps them in text).
_UNREACHABLE = (
    "max retries exceeded",
    "connection refused",
    "connection reset",
    "connection aborted",
    "failed to establish a new connection",
    "read timed out",
    "timed out",
    "remotedisconnected",
    "could not connect to server",
    "connection to server",
    "server closed the connection",
    "temporarily unavailable",
    "bad gateway",
    "service unavailable",
    "gateway timeout",
)


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store did not answer (not that it refused the write)."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        import requests

        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return True
    except ImportError:  # pragma: no cover (MLflow needs requests)
        pass
    if getattr(exc, "error_code", None) == "TEMPORARILY_UNAVAILABLE":
        return True
    text = str(exc).lower()
    return any(words in text for words in _UNREACHABLE)


def passing_kind(exc: BaseException) -> str | None:
    """The :data:`POLICY` kind of ``exc`` (``locked``, ``unreachable``), else ``None``."""
    if "database is locked" in str(exc):  # MLflow wraps SQLAlchemy errors in MlflowException
        return "locked"
    return "unreachable" if unreachable(exc) else None


def retried(
    fn: Callable[[], T], budget_s: float | None = None, kinds: tuple[str, ...] = ("locked",)
) -> T:
    """``fn()``, tried again as :data:`POLICY` says while its error is of one of ``kinds``.

    ``budget_s``: seconds for all tries (a read's deadline); a try that would end past
    them, if it took as long as the last one, is not started and the error raises.
    """
    start = time.monotonic()
    failures: Counter[str] = Counter()
    while True:
        began = time.monotonic()
        try:
            return fn()
        except Exception as exc:
            kind = passing_kind(exc)
            if kind not in kinds:
                raise
            failures[kind] += 1
            backoff = POLICY[kind]
            pause = backoff.pause_s(failures[kind])
            now = time.monotonic()
            next_end = now + pause + (now - began)
            late = budget_s is not None and next_end - start > budget_s
            if failures[kind] >= backoff.tries or late:
                raise
            log.debug("tracking store: %s (%s); trying again", kind, mask_uri(exc))
            time.sleep(pause)


def bound_http_retries() -> None:
    """Bound MLflow's own HTTP retries (see the module docstring), unless already set.

    A server that stops answering fails one try in about a minute at most, not after
    MLflow's default of seven retries of two minutes each; it is reported once, by
    genreclf, not by a urllib3 warning per HTTP retry.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
