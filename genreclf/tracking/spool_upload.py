"""Sending spool files to a tracking store: by the job, the next run of a sweep, or sync.

The uploaded run looks as if the store had never gone away: the same run (or, for a run
opened during the outage, a new one with the job's start time), its params, every metric
with its step and time, and its final status. A spool is written only into the run that
carries its token (:func:`check_owner`); see :mod:`genreclf.tracking.spool_file` for the
file and its trust rules.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from genreclf.tracking import names
from genreclf.tracking.retry import unreachable
from genreclf.tracking.spool_file import (
    SpoolBusy,
    SpoolError,
    SpoolFile,
    now_ms,
    spool_files,
    token_tags,
)
from genreclf.tracking.spool_records import MAX_SPOOL_BYTES, token_matches
from genreclf.tracking.store import Store
from genreclf.tracking.uri import mask_uri, same_store


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
    except SpoolBusy:
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
