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
     "tags": {...}, "start_time": ms, "host": ..., "pid": ..., "token": 32 hex digits}

then, in the order they happened::

    {"op": "batch", "params": {...}, "tags": {...}, "metrics": [[key, value, ms, step]]}
    {"op": "text", "name": "traceback.txt", "text": "..."}
    {"op": "file", "path": "confusion_matrix.png", "data": base64}   (also model/<file>)
    {"op": "model", "flavor": {...}, "class_names": [...]}   (model/ is the logged model)
    {"op": "inputs", "datasets": [{"dataset": {name, digest, ...}, "tags": {...}}]}
    {"op": "end", "status": "FINISHED", "end_time": ms}
    {"op": "created", "run_id": id}    (an upload created the run, then was cut short)

Trust: a spool file is read data. It is written ``0600``; one that is a symbolic link,
sits in a linked folder, has a linked lock, is larger than
:data:`~genreclf.tracking.spool_records.MAX_SPOOL_BYTES` or holds a record that is not
one of :mod:`genreclf.tracking.spool_records` is refused in one line
(:class:`SpoolError`) before anything is written to a store. Its ``uri`` (password
masked) only says which store it was written for: it is uploaded only to the store its
uploader names, and only into a run whose
:data:`~genreclf.tracking.names.SPOOL_TOKEN_TAG` is the SHA-256 of the header's
``token``, a random token the job wrote when it created the run.

Bounds: a write is tried :data:`ATTEMPTS` times, :data:`FIRST_DELAY_S` then twice as long
apart (on top of MLflow's own HTTP retries, see :class:`~genreclf.tracking.store.Store`);
after that the run spools, and tries the store again at most every :data:`RETRY_S`
seconds, doubling up to :data:`MAX_RETRY_S`, until the run ends.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import secrets
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from genreclf.errors import DataError
from genreclf.tracking import names
from genreclf.tracking.spool_records import (
    MAX_SPOOL_BYTES,
    parse_record,
    token_digest,
    token_matches,
)
from genreclf.tracking.store import Store
from genreclf.tracking.uri import mask_uri, same_store

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
            log.debug("tracking store did not answer (%s); trying again", mask_uri(exc))
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


class SpoolError(DataError):
    """A spool file that is not uploaded as it is; the message names the file (exit 1)."""


#: Flags of every open of a spool file or its lock: never through a symbolic link.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class SpoolFile:
    """One run's spool file: JSON lines appended as the run goes (see the module docstring).

    Parameters
    ----------
    path : Path
    max_bytes : int
        Largest file :meth:`records` reads.
    """

    def __init__(self, path: Path, max_bytes: int = MAX_SPOOL_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = int(max_bytes)

    @classmethod
    def new(cls, folder: Path, header: Mapping[str, Any]) -> SpoolFile:
        """Start a spool file in ``folder`` with the run's ``header``."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = header.get("run_id") or f"offline-{uuid.uuid4().hex[:12]}"
        spool = cls(folder / f"{name}.jsonl")
        spool.append({"op": "run", **header})
        return spool

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record (one line, flushed to disk); the file is created ``0600``."""
        line = (json.dumps(dict(record), default=str) + "\n").encode("utf-8")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW
        fd = os.open(self.path, flags, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read(self) -> bytes:
        """The file's bytes, once it is known to be a small regular file (else one line)."""
        if self.path.parent.is_symlink():
            raise SpoolError(f"{self.path}: its folder is a symbolic link; not read")
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot be read ({_why(exc)})") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SpoolError(f"{self.path}: not a regular file; not read")
            if info.st_size > self.max_bytes:
                raise SpoolError(
                    f"{self.path}: {info.st_size / 2**20:.1f} MB, over the cap of "
                    f"{self.max_bytes / 2**20:g} MB for a spool file; not read "
                    "(python -m genreclf.sync --max-spool-mb raises the cap)"
                )
            return handle.read(self.max_bytes + 1)

    def records(self) -> list[dict[str, Any]]:
        """The checked records; a last line cut short by a crash is left out.

        Raises
        ------
        SpoolError
            One line naming the file and the first bad line.
        """
        lines = self._read().split(b"\n")
        out = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = parse_record(line)
            except ValueError as exc:
                if number == len(lines) and "EOF while parsing" in str(exc):
                    break  # the last line, cut short by a crash
                raise SpoolError(f"{self.path}: line {number}: {exc}; nothing uploaded") from None
            out.append(record.model_dump(by_alias=True))
        if not out or out[0]["op"] != "run" or any(r["op"] == "run" for r in out[1:]):
            raise SpoolError(f"{self.path}: not a genreclf spool file (one run header first)")
        return out

    def lock(self) -> _Lock:
        """A lock held while the spool is uploaded (so it is uploaded once)."""
        return _Lock(Path(f"{self.path}.lock"))


class _Lock:
    """An exclusive, non-blocking ``flock`` on a lock file opened without following links."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> _Lock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot be used as a lock ({_why(exc)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _Busy from None
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Busy(Exception):
    """Another process holds the spool's lock."""


def _why(exc: OSError) -> str:
    """An ``OSError`` in words, a link named as such."""
    import errno

    if exc.errno == errno.ELOOP:
        return "a symbolic link"
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__


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

    def files(self, files: Mapping[str, str | bytes]) -> None:
        """Write ``files`` (artifact path to text or bytes) as the run's artifacts."""
        from genreclf.tracking.artifacts import log_run_files

        if not self.spooling:
            try:
                self._direct(lambda: log_run_files(self.store, self.run_id, files))
                return
            except _Spooled:
                pass
        for path, content in files.items():
            self._spool(_file_record(path, content))
        self._maybe_drain()

    def model(self, folder: Path, flavor: Mapping[str, Any], class_names: list[str]) -> None:
        """Spool the model package in ``folder``; sync logs it as the run's logged model.

        Only for a run whose writes are spooled (the store is away): else log it with
        :func:`genreclf.tracking.models.log_model`.
        """
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            self._spool(_file_record(f"{names.MODEL_ARTIFACT}/{file.name}", file.read_bytes()))
        self._spool({"op": "model", "flavor": dict(flavor), "class_names": list(class_names)})
        self._maybe_drain()

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
            log.debug("run %s stays spooled in %s: %s", self.run_id, self.spool.path, mask_uri(exc))
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
                mask_uri(self.store.uri),
                mask_uri(first_words(exc)),
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


def new_token() -> str:
    """A random spool token: in the spool header, and hashed in its run's tags."""
    return secrets.token_hex(16)


def token_tags(token: str) -> dict[str, str]:
    """The run tag that lets the spool holding ``token`` write into the run."""
    return {names.SPOOL_TOKEN_TAG: token_digest(token)}


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
    token: str | None = None,
) -> dict[str, Any]:
    """A spool file's first record (see the module docstring).

    ``token`` is the one whose digest the run was created with (:func:`token_tags`);
    a run not created yet gets a new one, which its upload tags it with.
    """
    from genreclf.tracking.liveness import host

    start = now_ms() if start_time is None or math.isnan(start_time) else int(start_time)
    return {
        "uri": mask_uri(uri),
        "experiment": experiment,
        "run_id": run_id,
        "run_name": run_name,
        "tags": {k: str(v) for k, v in tags.items()},
        "start_time": start,
        "host": host(),
        "pid": os.getpid(),
        "token": token or new_token(),
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


def upload(store: Store, path: Path, finish: bool = True, max_bytes: int = MAX_SPOOL_BYTES) -> str:
    """Send one spool file to ``store``; remove it once sent. Return what was done.

    ``finish=False`` (a live run catching up) sends its writes and leaves the run open.
    A spool without its end, whose process is gone, ends KILLED (its process died while
    the store was away). A run opened during the outage is created, with the job's
    start time and the spool's token; if its config already has a FINISHED run, it is
    dropped instead, so that each config keeps one FINISHED run. The whole file is
    checked, and so is the run's token, before the first write.

    Returns
    -------
    str
        ``uploaded <run id>``, ``duplicate``, ``busy`` (another process uploads it, or its
        run is still being written), or ``gone`` (uploaded meanwhile).

    Raises
    ------
    SpoolError
        The file is not a spool file genreclf wrote, or its run is not its own.
    """
    spool = SpoolFile(path, max_bytes)
    try:
        with spool.lock():
            if not os.path.lexists(spool.path):
                return "gone"
            return _upload_locked(store, spool, finish)
    except _Busy:
        return "busy"


def _own_run(records: list[dict[str, Any]]) -> str | None:
    """The id of the spool's run in the store (``None``: not created yet)."""
    return records[0].get("run_id") or next(
        (r["run_id"] for r in reversed(records) if r["op"] == "created"), None
    )


def check_owner(store: Store, path: Path, records: list[dict[str, Any]]) -> None:
    """Refuse a spool whose run in ``store`` does not carry its token (nothing written).

    Raises
    ------
    SpoolError
    """
    run_id = _own_run(records)
    if run_id is None:
        return
    try:
        run = store.get_run(run_id)
    except Exception as exc:
        if unreachable(exc):
            raise
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise SpoolError(
            f"{path}: run {run_id} is not in {mask_uri(store.uri)}; nothing uploaded"
        ) from None
    if not token_matches(records[0]["token"], run.data.tags.get(names.SPOOL_TOKEN_TAG)):
        raise SpoolError(
            f"{path}: run {run_id} was not created by this spool (its token does not "
            "match); nothing uploaded"
        )


def _upload_locked(store: Store, spool: SpoolFile, finish: bool) -> str:
    records = spool.records()
    header = records[0]
    ends = [r for r in records if r["op"] == "end"]
    if finish and not ends and _writer_alive(header):
        return "busy"
    check_owner(store, spool.path, records)
    run_id = _own_run(records)
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
    _send(store, run_id, records, extra_tags)
    if finish:
        end_time = int(ends[-1]["end_time"]) if ends else now_ms()
        store.call(lambda c: c.set_terminated(run_id, status, end_time=end_time))
        if status == names.FINISHED and names.REAPED_TAG in store.get_run(run_id).data.tags:
            store.call(lambda c: c.delete_tag(run_id, names.REAPED_TAG))  # not a ghost after all
    spool.path.unlink()
    Path(f"{spool.path}.lock").unlink(missing_ok=True)
    return f"uploaded {run_id}"


def _file_record(path: str, content: str | bytes) -> dict[str, str]:
    data = content.encode() if isinstance(content, str) else content
    return {"op": "file", "path": path, "data": base64.b64encode(data).decode("ascii")}


def _send_files(store: Store, run_id: str, records: list[dict]) -> None:
    """The spooled artifact files, and the spooled model (as the run's logged model)."""
    from genreclf.tracking.artifacts import log_run_files
    from genreclf.tracking.models import log_model

    files = {r["path"]: base64.b64decode(r["data"]) for r in records if r["op"] == "file"}
    model = next((r for r in records if r["op"] == "model"), None)
    prefix = f"{names.MODEL_ARTIFACT}/"
    plain = {k: v for k, v in files.items() if model is None or not k.startswith(prefix)}
    if plain:
        log_run_files(store, run_id, plain)
    if model is not None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / names.MODEL_ARTIFACT
            folder.mkdir()
            for path, data in files.items():
                if path.startswith(prefix):
                    (folder / path.removeprefix(prefix)).write_bytes(data)
            log_model(store, run_id, folder, model["flavor"], class_names=model["class_names"])


def _send(store: Store, run_id: str, records: list[dict], extra_tags: dict[str, str]) -> None:
    """The spool's params, tags, metrics, texts, files, model and inputs, to run ``run_id``."""
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    rows: list = []
    for record in records:
        if record["op"] == "batch":
            params |= record["params"]
            tags |= record["tags"]
            rows += record["metrics"]
    tags.pop(names.SPOOL_TOKEN_TAG, None)  # the token the run was created with stays
    store.log_batch(run_id, params, _metrics(rows), tags | extra_tags)
    for record in records:
        if record["op"] == "text":
            store.log_text(run_id, str(record["text"]), str(record["name"]))
        elif record["op"] == "inputs":
            store.log_inputs(run_id, _dataset_inputs(record["datasets"]))
    _send_files(store, run_id, records)


def _create(store: Store, spool: SpoolFile, header: Mapping[str, Any], status: str) -> str | None:
    """Create the run of a spool opened offline; ``None`` if its config already FINISHED."""
    experiment = store.experiment_id(str(header["experiment"]))
    tags = dict(header.get("tags") or {}) | token_tags(header["token"])
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


def _checked(paths: Iterable[Path], max_bytes: int) -> Iterator[tuple[Path, list[dict]]]:
    """Each spool file that still exists, with its checked records (else one line)."""
    for path in paths:
        try:
            yield path, SpoolFile(path, max_bytes).records()
        except SpoolError:
            if os.path.lexists(path):
                raise  # not just uploaded meanwhile by another process


def upload_folder(
    folder: Path,
    open_store: Callable[[str], Store],
    uri: str | None = None,
    check: Callable[[str], None] | None = None,
    only: str | None = None,
    max_bytes: int = MAX_SPOOL_BYTES,
) -> dict[str, list[Path]]:
    """Upload the spool files under ``folder`` to one store, all checked first.

    The store is ``uri`` (every spool goes there), else ``only`` (default: the default
    store, :func:`~genreclf.tracking.uri.default_uri`), which takes only the spools
    written for it; the others are left (outcome ``elsewhere``). A spool's header never
    chooses the store. ``open_store(uri)`` gives the store of a URI (see
    :func:`genreclf.tracking.run.open_store`); ``check(uri)`` is called before the first
    upload (e.g. :func:`~genreclf.tracking.store.check_store`).

    Every file is checked (size, records, its run's token) before anything is written:
    a bad one raises :class:`SpoolError` and nothing is uploaded. A store that stops
    answering raises MLflow's error (the files not uploaded yet stay).

    Returns
    -------
    dict
        Outcome (``uploaded``, ``duplicate``, ``busy``, ``gone``, ``elsewhere``; see
        :func:`upload`) to the spool files.
    """
    from genreclf.tracking.uri import default_uri

    target = uri or only or default_uri()
    outcomes: dict[str, list[Path]] = {}
    chosen: list[tuple[Path, list[dict]]] = []
    for path, records in _checked(spool_files(folder), max_bytes):
        if uri is None and not same_store(records[0]["uri"], target):
            outcomes.setdefault("elsewhere", []).append(path)
        else:
            chosen.append((path, records))
    if not chosen:
        return outcomes
    if check is not None:
        check(target)
    store = open_store(target)
    for path, records in chosen:
        check_owner(store, path, records)
    del records
    for path, _ in chosen:
        outcome = upload(store, path, max_bytes=max_bytes).split(" ", 1)[0]
        outcomes.setdefault(outcome, []).append(path)
    return outcomes
