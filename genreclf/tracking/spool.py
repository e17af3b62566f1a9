"""A run's writes that the tracking store did not take, kept in the job's folder.

When the store stops answering in the middle of a run (a tracking server restarted, its
database down), the run's params, metrics, tags, text files and final status are
written to a spool file instead (:mod:`genreclf.tracking.spool_file`), and training goes
on. The spool is uploaded with MLflow's own client calls (``create_run``, ``log_batch``,
``set_terminated``) once the store answers again (:mod:`genreclf.tracking.spool_upload`):
by the job itself when it ends, by the next run of the same sweep, or by
``python -m genreclf.sync <folder>``.

Bounds: a write is tried as the one retry layer says (:mod:`genreclf.tracking.retry`:
twice, 2 s apart, while the store does not answer, each try within MLflow's own bounded
HTTP retries); after that the run spools, and tries the store again at most every
:data:`RETRY_S` seconds, doubling up to :data:`MAX_RETRY_S`, until the run ends.

This module is the spool's entry point: the names of its two helpers that callers use
are importable from here too.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genreclf.tracking import names
from genreclf.tracking.retry import retried, unreachable
from genreclf.tracking.spool_file import (
    SPOOL_DIR,
    SpoolError,
    SpoolFile,
    new_token,
    now_ms,
    offline_header,
    run_header,
    spool_files,
    token_tags,
)
from genreclf.tracking.spool_upload import upload, upload_folder
from genreclf.tracking.store import Store, first_line
from genreclf.tracking.uri import mask_uri

__all__ = [
    "SPOOL_DIR",
    "Outbox",
    "SpoolError",
    "SpoolFile",
    "first_words",
    "new_token",
    "offline_header",
    "run_header",
    "spool_files",
    "token_tags",
    "unreachable",
    "upload",
    "upload_folder",
]

log = logging.getLogger(__name__)

#: A run's write waits out a short outage (then it is spooled): both kinds pass.
PATIENT = ("locked", "unreachable")

#: While a run spools, seconds before the store is tried again (doubled after each
#: failure, up to :data:`MAX_RETRY_S`).
RETRY_S, MAX_RETRY_S = 15.0, 120.0


def _metric_rows(metrics: Iterable[Any]) -> list[list]:
    return [[m.key, float(m.value), int(m.timestamp), int(m.step)] for m in metrics]


def _dataset_record(item: Any) -> dict[str, Any]:
    """A ``DatasetInput`` as plain data: its Dataset's fields and its tags."""
    return {
        "dataset": item.dataset.to_dictionary(),
        "tags": {tag.key: tag.value for tag in item.tags},
    }


def _file_record(path: str, content: str | bytes) -> dict[str, str]:
    data = content.encode() if isinstance(content, str) else content
    return {"op": "file", "path": path, "data": base64.b64encode(data).decode("ascii")}


@dataclass
class Outbox:
    """Where one run's writes go: the store, or while it does not answer, a spool file.

    Parameters
    ----------
    store : Store
    folder : Path or None
        The job's spool folder; ``None`` writes to the store only (errors raise).
    header : mapping
        The run's header (see :mod:`~genreclf.tracking.spool_file`); ``run_id`` is
        ``None`` for a run opened while the store did not answer.
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
            retried(lambda: upload(self.store, self.spool.path), kinds=PATIENT)
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
        """``send()``, tried again while the store does not answer; then :class:`_Spooled`."""
        if self.run_id is None and self.folder is not None:  # opened offline: all waits
            raise _Spooled
        try:
            retried(send, kinds=PATIENT)
        except Exception as exc:
            if self.folder is None or not unreachable(exc):  # nowhere to spool: errors raise
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
    return first_line(exc)[:width]
