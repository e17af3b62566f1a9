"""The MLflow run of one training job: created, tagged, written in batches, always ended.

:class:`RunWriter` holds a run's params, tags and metrics in memory and writes them in
a few ``log_batch`` calls (``tracking.flush_every_s``), so that a sweep of thousands of
short runs spends little time in the tracking store. :func:`tracked_run` opens the run
and ends it FINISHED, FAILED or KILLED. In a Hydra job, writes the store does not take
(it stopped answering mid-run) are spooled in the job's folder and uploaded later (see
:mod:`genreclf.tracking.spool`): training goes on.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from genreclf.core.errors import one_line
from genreclf.core.stopping import reason as stop_reason
from genreclf.tracking import names
from genreclf.tracking.spool import (
    SPOOL_DIR,
    Outbox,
    new_token,
    run_header,
    token_tags,
    unreachable,
)
from genreclf.tracking.store import Store, flatten_params
from genreclf.tracking.uri import mask_uri

log = logging.getLogger(__name__)

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


def config_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved config as the run's params: dotted keys, nothing that is not a setting.

    Hydra's keys (``_target_``, ``_partial_``, see :data:`~genreclf.tracking.names.HYDRA_KEYS`)
    are left out, the data set's file or folder (``data.root``, ``data.path``) is made
    absolute, and, in a Hydra job, each group's choice is added under the group's
    name (``model=linear``, ``features=musicnn``: what ``_target_`` told before).
    """
    import os

    flat = {
        key: value
        for key, value in flatten_params(config).items()
        if key.rsplit(".", 1)[-1] not in names.HYDRA_KEYS
    }
    for key in names.DATA_PATH_PARAMS:
        if isinstance(flat.get(key), str) and "://" not in flat[key]:
            flat[key] = os.path.abspath(os.path.expanduser(flat[key]))
    flat = {k: mask_uri(v) if isinstance(v, str) else v for k, v in flat.items()}  # no passwords
    return hydra_choices() | flat


def hydra_choices() -> dict[str, str]:
    """The config group choices of this Hydra job that are hyperparameters (else empty)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    choices = HydraConfig.get().runtime.choices
    return {
        str(group): str(choice)
        for group, choice in choices.items()
        if choice is not None and "/" not in str(group) and names.is_hyperparam(str(group))
    }


def auto_run_name(
    digest: str | None, changes: Mapping[str, Any] | None = None, model: str | None = None
) -> str | None:
    """A run name from this Hydra job's choices and overrides (see :func:`names.run_name`).

    ``changes`` replaces or adds overrides (``{"trainer.max_epochs": 5}`` names a run
    that another job's fit logged for that budget); ``model`` (the model as built, its
    :data:`~genreclf.tracking.names.MODEL_TAG`: ``linear``) replaces the ``model`` choice.
    Outside a Hydra job: the hash alone, or ``None`` (MLflow names the run) without one.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return names.run_name({}, [], digest) if digest else None
    hydra = HydraConfig.get()
    overrides = {o.partition("=")[0]: o for o in hydra.overrides.task}
    overrides |= {key: f"{key}={value}" for key, value in (changes or {}).items()}
    choices = dict(hydra.runtime.choices) | ({"model": model} if model else {})
    return names.run_name(choices, list(overrides.values()), digest)


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
    outbox : Outbox, optional
        Where writes go (default: the store, errors raise); one with a spool folder keeps
        them there while the store does not answer. A run opened offline has no store id:
        its ``run_id`` is its spool's name (``offline-...``) until it is uploaded.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        experiment_id: str,
        flush_every_s: float = 0.0,
        start_time: float = math.nan,
        outbox: Outbox | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox or Outbox(store, None, {"run_id": run_id})
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

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Log a resolved config as params (see :func:`config_params`)."""
        self.log_params(config_params(config))

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
            self.outbox.batch(params, list(metrics.values()), tags)

    def log_inputs(self, datasets: list) -> None:
        """Log MLflow ``DatasetInput`` records as the run's inputs (spooled like the rest)."""
        self.outbox.inputs(datasets)

    def log_text(self, text: str, name: str) -> None:
        """Log ``text`` as the run's artifact file ``name`` (spooled like the rest)."""
        self.outbox.text(text, name)

    def log_files(self, files: Mapping[str, str | bytes]) -> None:
        """Log ``files`` (artifact name to text or bytes) as the run's artifacts (spooled)."""
        self.outbox.files(files)

    def log_model(
        self, folder: Any, flavor: Mapping[str, Any], class_names: list[str], **kwargs: Any
    ) -> str:
        """Log the model package in ``folder`` as the run's logged model ``model``.

        While the store does not answer, the package is spooled with the run's other
        writes, and ``sync`` (or the run's own later upload) logs it; registering
        (``kwargs``: see :func:`~genreclf.tracking.models.log_model`) is then skipped.
        """
        from genreclf.tracking.models import log_model

        if not self.outbox.spooling:
            try:
                return log_model(
                    self.store, self.run_id, folder, flavor, class_names=class_names, **kwargs
                )
            except Exception as exc:
                if self.outbox.folder is None or not unreachable(exc):
                    raise
        if kwargs.get("registry_name"):
            log.warning("the store does not answer: model not registered; sync logs it")
        self.outbox.model(folder, flavor, class_names)
        return f"runs:/{self.run_id}/{names.MODEL_ARTIFACT}"

    @property
    def offline(self) -> bool:
        """Whether the run was opened while the store did not answer (no store id yet)."""
        return self.outbox.run_id is None and self.outbox.folder is not None

    @property
    def spool_path(self) -> Any:
        """The run's spool file while it has writes the store has not taken, else ``None``."""
        return self.outbox.spool.path if self.outbox.spool is not None else None

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
            self.outbox.end(status)

    def discard(self) -> None:
        """Delete the run (it lost a claim to another run): nothing more is written."""
        self._pending_params, self._pending_tags, self._pending = {}, {}, {}
        self.discarded = True
        if not self.offline:
            self.store.delete_run(self.run_id)


def spool_folder() -> Any:
    """Where this Hydra job keeps writes the store does not take (``None`` outside Hydra)."""
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return Path(HydraConfig.get().runtime.output_dir) / SPOOL_DIR


@contextmanager
def tracked_run(
    tracking: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    child: bool = False,
    config_digest: str | None = None,
) -> Iterator:
    """Open an MLflow run for a training job and yield its :class:`RunWriter`.

    The run ends FINISHED when the block completes, KILLED on Ctrl-C (or exit), and FAILED
    on any other exception, with the traceback logged as ``traceback.txt``. No
    run is left RUNNING.

    Nested calls in one process share the outer run: the inner block adds its ``tags``
    and yields the same writer, and the outer block ends the run. A sweep job opens the
    run first, so that a failure anywhere in training still ends as that job's run. With
    ``child=True`` a new run is opened inside the open one, nested under it (MLflow's
    ``mlflow.parentRunId``): a fold-and-seed run of a configuration run.

    Parameters
    ----------
    tracking : mapping
        The ``tracking`` config group: ``uri``, ``experiment``, ``run_name``, and
        optionally ``flush_every_s`` (seconds items may be held before they are
        written; default 0) and ``sqlite_pragmas`` (mapping applied to SQLite stores).
    tags : mapping, optional
        Extra run tags.
    child : bool
        Open a child run of the open run (see above).
    config_digest : str, optional
        The config hash, for the run's name when ``tracking.run_name`` is null (default:
        the tags' ``genreclf.config_hash``; see :func:`auto_run_name`).
    """
    if _ACTIVE and not child:
        writer = _ACTIVE[-1]
        writer.log_tags(dict(tags or {}))
        yield writer
        return

    from genreclf.tracking.liveness import Heartbeat

    writer = _open_writer(tracking, tags, child, config_digest)
    heartbeat = Heartbeat(writer.store, writer.run_id)
    if not writer.offline:
        heartbeat.start()
    _ACTIVE.append(writer)
    try:
        yield writer
    except BaseException as exc:
        heartbeat.stop()
        _end_stopped(writer, exc)
        raise
    else:
        heartbeat.stop()
        writer.end(names.FINISHED)
    finally:
        _ACTIVE.remove(writer)


def _open_writer(
    tracking: Mapping[str, Any],
    tags: Mapping[str, str] | None,
    child: bool,
    config_digest: str | None,
) -> RunWriter:
    """Open the run of :func:`tracked_run` (offline: its spool only) and its writer."""
    from genreclf.tracking.liveness import owner_tags

    store = store_for(tracking)
    start = store.seconds
    token = new_token()  # the spool of this run, and only it, may write into it later
    run_tags = owner_tags() | dict(tags or {}) | token_tags(token)
    if child and _ACTIVE:
        run_tags[names.PARENT_RUN_TAG] = _ACTIVE[-1].run_id
    name = tracking.get("run_name") or auto_run_name(
        config_digest or run_tags.get(names.HASH_TAG), model=run_tags.get(names.MODEL_TAG)
    )
    folder = spool_folder()
    experiment_name = str(tracking["experiment"])
    experiment, run_id, start_time = _new_run(store, experiment_name, name, run_tags, folder)
    header = run_header(store.uri, experiment_name, run_id, name, run_tags, start_time, token)
    outbox = Outbox(store, folder, header)
    if run_id is None:
        run_id = outbox.open_offline().spool.path.stem
    flush_every_s = tracking.get("flush_every_s", 0.0) or 0.0
    writer = RunWriter(store, run_id, experiment, flush_every_s, header["start_time"], outbox)
    writer._store_start = start
    return writer


def _new_run(
    store: Store, experiment_name: str, name: str | None, tags: dict[str, str], folder: Any
) -> tuple[str | None, str | None, float]:
    """Create a run: its experiment id, run id and start time (ms).

    In a Hydra job (``folder``: its spool folder), a store that does not answer leaves
    the run id ``None`` and the start time NaN, with one warning: the run is kept in
    the spool and uploaded later.
    """
    experiment = None
    try:
        experiment = store.experiment_id(experiment_name)
        run = store.new_run(experiment, name, tags)
        return experiment, run.info.run_id, run.info.start_time
    except Exception as exc:
        if folder is None or not unreachable(exc):
            raise
        log.warning(
            "tracking store %s does not answer (%s): the run is kept in %s and uploaded later",
            mask_uri(store.uri),
            mask_uri(one_line(exc)),
            folder,
        )
    return experiment, None, math.nan


def _end_stopped(writer: RunWriter, exc: BaseException) -> None:
    """End a run whose block raised ``exc``: KILLED with its stop reason on Ctrl-C or
    exit (Lightning turns Ctrl-C into ``SystemExit``), else FAILED with its traceback."""
    interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
    try:
        if interrupted:
            writer.log_tags({names.STOP_TAG: stop_reason(exc)})
        else:
            writer.log_text(traceback.format_exc(), names.TRACEBACK_ARTIFACT)
    finally:
        writer.end(names.KILLED if interrupted else names.FAILED)
