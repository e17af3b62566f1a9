"""A run's spool file: where its writes go while the tracking store does not answer.

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
``token``, a random token the job wrote when it created the run (see
:mod:`genreclf.tracking.spool_upload`).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from genreclf.core.errors import DataError
from genreclf.core.untrusted import NotRegular, TooLarge, read_capped
from genreclf.tracking import names
from genreclf.tracking.spool_records import MAX_SPOOL_BYTES, parse_record, token_digest
from genreclf.tracking.uri import mask_uri

#: Folder of a job's spool files, inside the job's output folder.
SPOOL_DIR = ".genreclf_spool"


def now_ms() -> int:
    """Milliseconds since the epoch, as MLflow stores times."""
    return int(time.time() * 1000)


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
            return read_capped(self.path, self.max_bytes)
        except TooLarge as exc:
            raise SpoolError(
                f"{self.path}: {exc.size / 2**20:.1f} MB, over the cap of "
                f"{self.max_bytes / 2**20:g} MB for a spool file; not read "
                "(python -m genreclf.sync --max-spool-mb raises the cap)"
            ) from None
        except NotRegular:
            raise SpoolError(f"{self.path}: not a regular file; not read") from None
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot be read ({_why(exc)})") from None

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
            raise SpoolBusy from None
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SpoolBusy(Exception):
    """Another process holds the spool's lock."""


def _why(exc: OSError) -> str:
    """An ``OSError`` in words, a link named as such."""
    import errno

    if exc.errno == errno.ELOOP:
        return "a symbolic link"
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__


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


def spool_files(folder: Path) -> Iterator[Path]:
    """Spool files under ``folder`` (any depth), oldest first."""
    found = [p for p in Path(folder).rglob(f"{SPOOL_DIR}/*.jsonl") if p.is_file()]
    yield from sorted(found, key=lambda p: p.stat().st_mtime)
