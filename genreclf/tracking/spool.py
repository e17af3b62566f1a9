"""A run's writes that the tracking store did not take, kept in the job's folder.

When the store stops answering in the middle of a run (a tracking server restarted, its
database down), the run's params, metrics, tags, text files and final status are
written to a spool file instead, and training goes on. The spool is uploaded with
MLflow's own client calls (``create_run``, ``log_batch``, ``set_terminated``) once the
store answers again: by the job itself when it ends, by the next run of the same sweep,
or by ``python -m genreclf.sync <folder>``. The uploaded run looks as if the store had
never gone away: the same run (or, for a run opened during the outage, a new one with the
job's start time), its params, every metric with its step and time, and its final status.

One spool file per run, ``<job folder>/.genreclf_spool/<run>.jsonl``: JSON lines, plain
data (nothing read back is executed or unpickled). The first line is the run's header::

    {"op": "run", "uri": ..., "experiment": name, "run_id": id or null, "run_name": ...,
     "tags": {...}, "start_time": ms, "host": ..., "pid": ...}

then, in the order they happened::

    {"op": "batch", "params": {...}, "tags": {...}, "metrics": [[key, value, ms, step]]}
    {"op": "text", "name": "traceback.txt", "text": "..."}
    {"op": "inputs", "datasets": [{"dataset": {name, digest, ...}, "tags": {...}}]}
    {"op": "end", "status": "FINISHED", "end_time": ms}
    {"op": "created", "run_id": id}    (an upload created the run, then was cut short)

Bounds: a write is tried :data:`ATTEMPTS` times, :data:`FIRST_DELAY_S` then twice as long
apart (on top of MLflow's own HTTP retries, see :class:`~genreclf.tracking.store.Store`);
after that the run spools, and tries the store again at most every :data:`RETRY_S`
seconds, doubling up to :data:`MAX_RETRY_S`, until the run ends.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from genreclf.tracking import names
from genreclf.tracking.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Folder of a job's spool files, inside the job's output folder.
SPOOL_DIR = ".genreclf_spool"
#: Tries of one write before the run spools, and the pause after the first failed try.
ATTEMPTS, FIRST_DELAY_S = 2, 2.0
#: While a run spools, seconds before the store is tried again (doubled after each
#: failure, up to :data:`MAX_RETRY_S`).
RETRY_S, MAX_RETRY_S = 15.0, 120.0
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


def retrying(fn: Callable[[], T], attempts: int = ATTEMPTS, delay: float = FIRST_DELAY_S) -> T:
    """``fn()``, tried up to ``attempts`` times while the store does not answer."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if not unreachable(exc) or attempt == attempts - 1:
                raise
            log.debug("tracking store did not answer (%s); trying again", exc)
            time.sleep(delay * 2**attempt)
    raise AssertionError("unreachable")


def now_ms() -> int:
    return int(time.time() * 1000)


def _metric_rows(metrics: Iterable[Any]) -> list[list]:
    return [[m.key, float(m.value), int(m.timestamp), int(m.step)] for m in metrics]


def _dataset_record(item: Any) -> dict[str, Any]:
    """A ``DatasetInput`` as plain data: its Dataset's fields and its tags."""
    return {
        "dataset": item.dataset.to_dictionary(),
        "tags": {tag.key: tag.value for tag in item.tags},
    }


def _dataset_inputs(items: Iterable[dict]) -> list:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    return [
        DatasetInput(
            Dataset.from_dictionary(dict(item["dataset"])),
            [InputTag(str(k), str(v)) for k, v in dict(item.get("tags") or {}).items()],
        )
        for item in items
    ]


def _metrics(rows: Iterable[list]) -> list:
    from mlflow.entities import Metric

    latest = {(str(k), int(s)): Metric(str(k), float(v), int(t), int(s)) for k, v, t, s in rows}
    return list(latest.values())


class SpoolFile:
    """One run's spool file: JSON lines appended as the run goes (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def new(cls, folder: Path, header: Mapping[str, Any]) -> SpoolFile:
        """Start a spool file in ``folder`` with the run's ``header``."""
        folder.mkdir(parents=True, exist_ok=True)
        name = header.get("run_id") or f"offline-{uuid.uuid4().hex[:12]}"
        spool = cls(folder / f"{name}.jsonl")
        spool.append({"op": "run", **header})
        return spool

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record (one line, flushed to disk)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(record), default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def records(self) -> list[dict[str, Any]]:
        """The records; a last line cut short by a crash is left out."""
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("op"), str):
                out.append(record)
        if not out or out[0]["op"] != "run":
            raise ValueError(f"{self.path}: not a genreclf spool file (no run header)")
        return out

    def lock(self):
        """A lock held while the spool is uploaded (so it is uploaded once)."""
        from filelock import FileLock

        return FileLock(f"{self.path}.lock", timeout=0)


@dataclass
class Outbox:
    """Where one run's writes go: the store, or while it does not answer, a spool file.

    Parameters
    ----------
    store : Store
    folder : Path or None
        The job's spool folder; ``None`` writes to the store only (errors raise).
    header : mapping
        The run's header (see the module docstring); ``run_id`` is ``None`` for a run
        opened while the store did not answer.
    """

    store: Store
    folder: Path | None
    header: dict[str, Any]
    spool: SpoolFile | None = None
    _next_try: float = 0.0
    _pause: float = RETRY_S

    def open_offline(self) -> Outbox:
        """Spool from the start: the run was opened while the store did not answer."""
        self._spool_header()
        return self

    @property
    def run_id(self) -> str | None:
        return self.header.get("run_id")

    @property
    def spooling(self) -> bool:
        return self.spool is not None

    def batch(self, params: Mapping[str, Any], metrics: list, tags: Mapping[str, Any]) -> None:
        """Write params, MLflow ``Metric`` records and tags."""
        record = {
            "op": "batch",
            "params": {k: str(v) for k, v in params.items()},
            "tags": {k: str(v) for k, v in tags.items()},
            "metrics": _metric_rows(metrics),
        }
        self._write(record, lambda: self.store.log_batch(self.run_id, params, metrics, tags))

    def inputs(self, datasets: list) -> None:
        """Write MLflow ``DatasetInput`` records as the run's inputs."""
        record = {"op": "inputs", "datasets": [_dataset_record(d) for d in datasets]}
        self._write(record, lambda: self.store.log_inputs(self.run_id, datasets))

    def text(self, text: str, name: str) -> None:
        """Write ``text`` as the run's artifact file ``name``."""
        record = {"op": "text", "name": name, "text": text}
        self._write(record, lambda: self.store.log_text(self.run_id, text, name))

    def end(self, status: str) -> bool:
        """End the run with ``status``; ``False`` if it stays spooled (the store is away)."""
        record = {"op": "end", "status": status, "end_time": now_ms()}
        if not self.spooling:
            try:
                self._direct(lambda: self.store.end_run(self.run_id, status))
                return True
            except _Spooled:
                self._spool(record)
                return False  # it just failed: the next run of the sweep, or sync, uploads
        self.spool.append(record)
        try:
            retrying(lambda: upload(self.store, self.spool.path))
        except Exception as exc:
            if not unreachable(exc):
                raise
            log.debug("run %s stays spooled in %s: %s", self.run_id, self.spool.path, exc)
            return False
        self.spool = None
        return True

    def _write(self, record: dict[str, Any], send: Callable[[], None]) -> None:
        if not self.spooling:
            try:
                self._direct(send)
                return
            except _Spooled:
                pass
        self._spool(record)
        self._maybe_drain()

    def _direct(self, send: Callable[[], None]) -> None:
        """``send()`` with retries; raise :class:`_Spooled` if the store does not answer."""
        if self.folder is None:  # nowhere to spool: the store's errors raise
            send()
            return
        if self.run_id is None:  # opened offline: everything waits for the upload
            raise _Spooled
        try:
            retrying(send)
        except Exception as exc:
            if not unreachable(exc):
                raise
            log.warning(
                "tracking store %s does not answer (%s): run %s goes on, its writes are kept in %s",
                self.store.uri,
                first_words(exc),
                self.run_id,
                self.folder,
            )
            raise _Spooled from exc

    def _spool(self, record: dict[str, Any]) -> None:
        self._spool_header()
        self.spool.append(record)

    def _spool_header(self) -> None:
        if self.spool is None:
            self.spool = SpoolFile.new(self.folder, self.header)
            self._next_try = time.monotonic() + self._pause

    def _maybe_drain(self) -> None:
        """Send the spooled writes of a run the store knows, at most every so often."""
        if self.run_id is None or time.monotonic() < self._next_try:
            return
        try:
            upload(self.store, self.spool.path, finish=False)
        except Exception as exc:
            if not unreachable(exc):
                raise
            self._pause = min(self._pause * 2, MAX_RETRY_S)
            self._next_try = time.monotonic() + self._pause
            return
        self.spool = None
        self._pause = RETRY_S
        log.info("tracking store answers again: run %s's spooled writes sent", self.run_id)


class _Spooled(Exception):
    """The store did not answer: the write goes to the spool."""


def first_words(exc: BaseException, width: int = 160) -> str:
    """The first line of an error's message, cut to ``width`` characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:width]


def offline_header(
    uri: str, experiment: str, run_name: str | None, tags: Mapping[str, Any]
) -> dict[str, Any]:
    """The header of a run opened while the store did not answer (no run id yet)."""
    return run_header(uri, experiment, None, run_name, tags, now_ms())


def run_header(
    uri: str,
    experiment: str,
    run_id: str | None,
    run_name: str | None,
    tags: Mapping[str, Any],
    start_time: float,
) -> dict[str, Any]:
    """A spool file's first record (see the module docstring)."""
    from genreclf.tracking.liveness import host

    start = now_ms() if start_time is None or math.isnan(start_time) else int(start_time)
    return {
        "uri": uri,
        "experiment": experiment,
        "run_id": run_id,
        "run_name": run_name,
        "tags": {k: str(v) for k, v in tags.items()},
        "start_time": start,
        "host": host(),
        "pid": os.getpid(),
    }


# ------------------------------------------------------------------------------- upload
def spool_files(folder: Path) -> Iterator[Path]:
    """Spool files under ``folder`` (any depth), oldest first."""
    found = [p for p in Path(folder).rglob(f"{SPOOL_DIR}/*.jsonl") if p.is_file()]
    yield from sorted(found, key=lambda p: p.stat().st_mtime)


def _writer_alive(header: Mapping[str, Any]) -> bool:
    """Whether the process that writes this spool may still write to it."""
    from genreclf.tracking.liveness import _pid_alive, host

    pid = str(header.get("pid", ""))
    return header.get("host") == host() and pid.isdigit() and _pid_alive(int(pid))


def upload(store: Store, path: Path, finish: bool = True) -> str:
    """Send one spool file to ``store``; remove it once sent. Return what was done.

    ``finish=False`` (a live run catching up) sends its writes and leaves the run open.
    A spool without its end, whose process is gone, ends KILLED (its process died while
    the store was away). A run opened during the outage is created, with the job's
    start time; if its config already has a FINISHED run, it is dropped instead, so that
    each config keeps one FINISHED run.

    Returns
    -------
    str
        ``uploaded <run id>``, ``duplicate``, ``busy`` (another process uploads it, or its
        run is still being written), or ``gone`` (uploaded meanwhile).
    """
    from filelock import Timeout

    spool = SpoolFile(path)
    try:
        with spool.lock():
            if not spool.path.exists():
                return "gone"
            return _upload_locked(store, spool, finish)
    except Timeout:
        return "busy"


def _upload_locked(store: Store, spool: SpoolFile, finish: bool) -> str:
    records = spool.records()
    header = records[0]
    ends = [r for r in records if r["op"] == "end"]
    if finish and not ends and _writer_alive(header):
        return "busy"
    run_id = header.get("run_id") or next(
        (r["run_id"] for r in reversed(records) if r["op"] == "created"), None
    )
    status = str(ends[-1]["status"]) if ends else names.KILLED
    extra_tags: dict[str, str] = {}
    if finish and not ends:
        extra_tags = {
            names.STOP_TAG: "its process ended while the tracking store did not answer",
            names.REAPED_TAG: f"{time.time():.0f}",
        }
    if run_id is None:
        run_id = _create(store, spool, header, status)
        if run_id is None:
            spool.path.unlink()
            return "duplicate"
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    rows: list[list] = []
    for record in records:
        if record["op"] == "batch":
            params |= record.get("params", {})
            tags |= record.get("tags", {})
            rows += record.get("metrics", [])
    store.log_batch(run_id, params, _metrics(rows), tags | extra_tags)
    for record in records:
        if record["op"] == "text":
            store.log_text(run_id, str(record["text"]), str(record["name"]))
        elif record["op"] == "inputs":
            store.log_inputs(run_id, _dataset_inputs(record.get("datasets", [])))
    if finish:
        end_time = int(ends[-1]["end_time"]) if ends else now_ms()
        store.call(lambda c: c.set_terminated(run_id, status, end_time=end_time))
        if status == names.FINISHED and names.REAPED_TAG in store.get_run(run_id).data.tags:
            store.call(lambda c: c.delete_tag(run_id, names.REAPED_TAG))  # not a ghost after all
    spool.path.unlink()
    Path(f"{spool.path}.lock").unlink(missing_ok=True)
    return f"uploaded {run_id}"


def _create(store: Store, spool: SpoolFile, header: Mapping[str, Any], status: str) -> str | None:
    """Create the run of a spool opened offline; ``None`` if its config already FINISHED."""
    experiment = store.experiment_id(str(header["experiment"]))
    tags = dict(header.get("tags") or {})
    digest = tags.get(names.HASH_TAG)
    if status == names.FINISHED and digest:
        done = store.find_runs(
            experiment, tags={names.HASH_TAG: digest}, statuses=(names.FINISHED,), max_results=1
        )
        if done:
            return None
    run = store.call(
        lambda c: c.create_run(
            experiment,
            start_time=int(header["start_time"]),
            tags=tags,
            run_name=header.get("run_name"),
        )
    )
    spool.append({"op": "created", "run_id": run.info.run_id})
    return run.info.run_id


def upload_folder(
    folder: Path,
    open_store: Callable[[str], Store],
    uri: str | None = None,
    check: Callable[[str], None] | None = None,
    only: str | None = None,
) -> dict[str, list[Path]]:
    """Upload every spool file under ``folder``, each to its own store (or to ``uri``).

    ``open_store(uri)`` gives the store of a URI (the process's one, see
    :func:`genreclf.tracking.run.open_store`).
    ``check(uri)`` is called once per store before its first upload (e.g.
    :func:`~genreclf.tracking.store.check_store`). With ``only``, spools of runs opened
    on another store are left alone. A file that is not a spool raises
    ``ValueError``; a store that stops answering raises MLflow's error (the files not
    uploaded yet stay).

    Returns
    -------
    dict
        Outcome (``uploaded``, ``duplicate``, ``busy``, ``gone``; see :func:`upload`) to
        the spool files.
    """
    outcomes: dict[str, list[Path]] = {}
    checked: set[str] = set()
    for path in spool_files(folder):
        opened_on = str(SpoolFile(path).records()[0].get("uri", ""))
        if only is not None and opened_on != only:
            continue
        target = uri or opened_on
        if check is not None and target not in checked:
            check(target)
            checked.add(target)
        outcome = upload(open_store(target), path).split(" ", 1)[0]
        outcomes.setdefault(outcome, []).append(path)
    return outcomes
