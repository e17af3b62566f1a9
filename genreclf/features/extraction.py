"""Feature extraction over many files: cache look-up, parallel compute of the misses, bad files.

The parent process hashes every file and looks it up in the
:class:`~genreclf.features.cache.FeatureCache`; only the misses are decoded and
transformed, in chunks of files spread over :class:`joblib.Parallel` workers. A file
that yields no features (missing, empty, corrupt, not audio, silent, too short, or any
error while computing) costs that file only: it is skipped, logged as a one-line
warning naming it, and listed in :attr:`FeatureTable.skipped`.

A dead worker (killed for memory, segfault...) costs only its own work: the chunks
that finished are kept, the file each dead or aborted worker was computing (every
worker writes which file it starts to a marker file) is retried alone in a fresh
process, and the other unfinished files go back to a new pool. A file that kills its
fresh process too is skipped as ``crashed the extractor (signal N)``. See
:meth:`FeatureExtractor._compute_parallel`.

Entries are computed once even by concurrent processes sharing the cache (the jobs of
a multirun): a worker takes the entry's lock (:meth:`FeatureCache.lock`), looks the
entry up again, computes and stores it only if it is still missing, then releases the
lock. An entry whose lock another process holds is put off to the end of its chunk
(the worker computes the others meanwhile), then waited for; it is then usually found
in the cache and counted as cached. See :func:`compute_once`.

numba's on-disk cache (librosa's and :mod:`genreclf.features.seed174`'s kernels use
``cache=True``) goes to a per-user folder unless ``NUMBA_CACHE_DIR`` is set, see
:func:`use_numba_cache_dir`.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from filelock import Timeout

from genreclf.audio import AudioError, load_audio
from genreclf.data.tracks import Track
from genreclf.errors import one_line
from genreclf.features.cache import FeatureCache, feature_key, file_digest
from genreclf.features.table import FeatureTable
from genreclf.filenames import printable_name
from genreclf.params import Bool, Float, Int, Jobs, WritableFolder
from genreclf.registry import Registry

#: Extractors by name (the ``conf/extraction/`` option names).
EXTRACTORS: Registry[FeatureExtractor] = Registry("extraction")

logger = logging.getLogger(__name__)

SKIPPED_COLUMNS = ["track_id", "path", "reason"]

#: Version of the remembered bad files (in their cache key). 2: a file whose name is
#: not UTF-8 is read; version 1 remembered it as unreadable audio.
BAD_FILES_VERSION = 2


def _check_output(value: np.ndarray, want: int, n_columns: int) -> None:
    """Raise ValueError unless ``value`` is ``want``-D with ``n_columns`` last and finite."""
    if value.ndim != want or value.shape[-1] != n_columns:
        raise ValueError(f"features of shape {value.shape}, expected {want}-D with {n_columns}")
    if not np.all(np.isfinite(value)):
        raise ValueError("non-finite features (NaN or inf)")


def compute_chunk(
    items: Sequence[tuple[int, str]],
    feature_set,
    n_columns: int,
    min_duration: float = 0.5,
    single_thread: bool = True,
) -> list[tuple[int, np.ndarray | None, str | None, bool]]:
    """Load and compute the features of some files, one failure costing one file.

    Parameters
    ----------
    items : sequence of (int, str)
        ``(index, path)`` pairs.
    feature_set : FeatureSet
        What to compute.
    n_columns : int
        Expected size of the last axis of the features.
    min_duration : float
        Shortest accepted clip, in seconds.
    single_thread : bool
        Limit BLAS/OpenMP pools to one thread while computing. Parallelism is over
        files; one thread also makes the values independent of ``n_jobs`` (the
        rounding of multi-threaded BLAS depends on the thread count).

    Returns
    -------
    list of (index, features or None, reason or None, is_audio_error)
        ``is_audio_error`` marks failures that depend only on the file's bytes and the
        parameters (safe to remember in the cache).
    """
    if single_thread:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=1)
    else:
        limits = nullcontext()
    out: list[tuple[int, np.ndarray | None, str | None, bool]] = []
    with limits:
        for index, path in items:
            try:
                y, sr = load_audio(
                    path, sr=feature_set.sr, mono=feature_set.mono, min_duration=min_duration
                )
                value = np.asarray(feature_set.compute(y, sr), dtype=np.float32)
                _check_output(value, feature_set.output_ndim, n_columns)
                out.append((index, value, None, False))
            except AudioError as exc:
                out.append((index, None, exc.reason, True))
            except Exception as exc:  # one file's failure must not stop the others
                out.append((index, None, one_line(exc, named=True), False))
    return out


class Miss(NamedTuple):
    """A file to compute: its track index, path, and cache keys (features, bad file)."""

    index: int
    path: str
    key: str
    bad_key: str


class Outcome(NamedTuple):
    """What became of a :class:`Miss`: features or a skip reason, and whether another
    process had stored it meanwhile (``cached``) rather than this one computing it."""

    index: int
    value: np.ndarray | None
    reason: str | None
    cached: bool


@dataclass(frozen=True)
class EntryStore:
    """Where a worker finds and stores the entries of one feature set (picklable).

    Parameters
    ----------
    cache : FeatureCache
    set_name : str
        The feature set's name (its cache folder).
    output_ndim, n_columns : int
        The shape an entry must have (checked on reading).
    """

    cache: FeatureCache
    set_name: str
    output_ndim: int
    n_columns: int

    def lookup(self, miss: Miss) -> Outcome | None:
        """The stored features or remembered bad-file reason of ``miss``, or None."""
        value = self.cache.get(
            self.set_name,
            miss.key,
            check=lambda v: _check_output(v, self.output_ndim, self.n_columns),
        )
        if value is not None:
            return Outcome(miss.index, value, None, True)
        reason = self.cache.get_bad(self.set_name, miss.bad_key)
        return None if reason is None else Outcome(miss.index, None, reason, True)

    def store(self, miss: Miss, value, reason, is_audio_error: bool) -> Outcome:
        """Store a computed result (features, or a bad file's reason) and return it."""
        if value is not None:
            self.cache.put(self.set_name, miss.key, value)
        elif is_audio_error:
            self.cache.put_bad(self.set_name, miss.bad_key, reason)
        return Outcome(miss.index, value, reason, False)


def compute_once(
    items: Sequence[Miss],
    store: EntryStore,
    compute: Callable[[Miss], tuple[int, np.ndarray | None, str | None, bool]],
    on_start: Callable[[Miss], None] = lambda miss: None,
) -> Iterator[Outcome]:
    """Yield each miss's outcome, computing (with ``compute``) only what nobody stored.

    Each entry is handled under its lock: looked up again, computed and stored only if
    still missing. An entry locked by another process is put off until the others are
    done, then waited for. ``on_start`` is called before an entry is handled.
    """
    later = []
    for miss in items:
        lock = store.cache.lock(store.set_name, miss.key)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            later.append((miss, lock))
            continue
        try:
            on_start(miss)
            yield store.lookup(miss) or store.store(miss, *compute(miss)[1:])
        finally:
            lock.release()
    for miss, lock in later:
        with lock:
            on_start(miss)
            yield store.lookup(miss) or store.store(miss, *compute(miss)[1:])


def _compute_misses(
    items: Sequence[Miss],
    store: EntryStore,
    feature_set,
    min_duration: float = 0.5,
    marker: str | None = None,
) -> list[Outcome]:
    """Outcomes of ``items`` (:func:`compute_once` of :func:`compute_chunk`), one thread.

    With ``marker``, the index of each file is appended to that file before it is
    handled: if the worker dies, the last index in it names the file it was computing
    (``done`` is appended at the end, for a chunk whose result is lost on its way
    back). A marker that cannot be written (e.g. a remote worker) is left out.
    """
    from threadpoolctl import threadpool_limits

    log = None
    if marker is not None:
        try:
            log = open(marker, "a", encoding="ascii")  # noqa: SIM115 (closed below)
        except OSError:
            log = None

    def start(miss: Miss) -> None:
        if log is not None:
            log.write(f"{miss.index}\n")
            log.flush()

    def compute(miss: Miss):
        items = [(miss.index, miss.path)]
        return compute_chunk(items, feature_set, store.n_columns, min_duration, False)[0]

    try:
        with threadpool_limits(limits=1):
            out = list(compute_once(items, store, compute, start))
        if log is not None:
            log.write("done\n")
    finally:
        if log is not None:
            log.close()
    return out


def _compute_chunk_marked(
    items: Sequence[Miss], marker: str, feature_set, store: EntryStore, min_duration: float
) -> list[Outcome]:
    """:func:`_compute_misses` of a pool's chunk, with its marker file."""
    return _compute_misses(items, store, feature_set, min_duration, marker)


def _in_progress(marker: str | Path) -> int | None:
    """Index of the file being computed according to ``marker``, or None (none or done)."""
    try:
        lines = Path(marker).read_text(encoding="ascii").split()
    except (OSError, ValueError):
        return None
    try:
        return int(lines[-1]) if lines else None
    except ValueError:  # "done"
        return None


#: Exceptions raised by executors whose worker died (joblib/loky, concurrent.futures, ray).
_WORKER_DEATH_NAMES = frozenset({"WorkerCrashedError", "RayActorError", "ActorDiedError"})


def worker_died(exc: BaseException) -> bool:
    """Whether ``exc`` says a worker process died (rather than the code failing)."""
    from concurrent.futures import BrokenExecutor

    if isinstance(exc, BrokenExecutor):  # loky's TerminatedWorkerError, BrokenProcessPool
        return True
    return any(cls.__name__ in _WORKER_DEATH_NAMES for cls in type(exc).__mro__)


def _crash_reason(exitcode: int | None) -> str:
    """The skip reason of a file whose fresh process ended with ``exitcode`` and no result."""
    if exitcode is not None and exitcode < 0:
        return f"crashed the extractor (signal {-exitcode})"
    if exitcode:
        return f"crashed the extractor (exit code {exitcode})"
    return "crashed the extractor (no result)"


def _compute_alone_main(conn, item: Miss, feature_set, store: EntryStore, min_duration):
    """Body of a fresh process computing one file: send its :func:`_compute_misses` result."""
    conn.send(_compute_misses([item], store, feature_set, min_duration))
    conn.close()


def default_numba_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/genreclf/numba``, by default ``~/.cache/genreclf/numba``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genreclf" / "numba"


def use_numba_cache_dir(path: str | Path | None = None) -> str | None:
    """Point numba's on-disk cache at a per-user folder, unless ``NUMBA_CACHE_DIR`` is set.

    By default numba caches compiled ``cache=True`` functions next to their source,
    i.e. in librosa's package folder, shared by every user and run; parallel
    first-time compilation has left a damaged cache there that segfaulted every
    worker (in ``librosa.core.pitch._parabolic_interpolation``). With
    ``NUMBA_CACHE_DIR`` set (here to ``path`` or :func:`default_numba_cache_dir`),
    numba uses that folder instead, for librosa's kernels and for those of
    :mod:`genreclf.features.seed174` alike. A value the user set, even empty, is kept.

    Called by :class:`FeatureExtractor` when it is made and before workers start:
    workers inherit the variable. numba fixes a function's cache folder when the
    function is defined, so in this process it applies to modules imported afterwards
    (librosa and seed174 are imported lazily). If the folder cannot be created,
    nothing is set.

    Returns
    -------
    str or None
        The ``NUMBA_CACHE_DIR`` in effect, or None if unset.
    """
    if "NUMBA_CACHE_DIR" in os.environ:
        return os.environ["NUMBA_CACHE_DIR"]
    folder = Path(path) if path is not None else default_numba_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logger.debug("numba cache folder %s unusable (%s); numba's default kept", folder, exc)
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its settings at import: re-read them
        try:
            sys.modules["numba"].core.config.reload_config()
        except AttributeError:
            pass
    return str(folder)


def _resolve_backend(backend: str) -> str:
    """Register the ray backend on demand (its extra named if missing)."""
    from joblib.parallel import BACKENDS

    if backend == "ray" and "ray" not in BACKENDS:
        try:
            from ray.util.joblib import register_ray
        except ImportError as exc:
            from genreclf.extras import install_command

            raise ValueError(
                f"extraction.backend=ray needs the ray extra: {install_command('ray')}"
            ) from exc
        register_ray()
    return backend


def save_manifest(skipped: pd.DataFrame, path: str | Path) -> Path:
    """Write the skipped-files manifest as CSV with columns ``track_id, path, reason``.

    Track ids and paths are text: a name that is not UTF-8 is written as its
    :func:`~genreclf.filenames.printable_name`.

    Parameters
    ----------
    skipped : pandas.DataFrame
        :attr:`FeatureTable.skipped`.
    path : str or Path
        Destination; parent folders are created.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skipped.reindex(columns=SKIPPED_COLUMNS).to_csv(path, index=False)
    return path


@EXTRACTORS.register("default")
class FeatureExtractor:
    """Turn tracks into a :class:`FeatureTable`, through a content-addressed cache.

    Parameters
    ----------
    cache_dir : str
        Root of the feature cache.
    n_jobs : int
        Worker processes for the misses; ``-1`` means all cores; ``1`` computes in
        this process.
    backend : str
        joblib backend (``loky``, ``multiprocessing``, ``threading``, or ``ray`` when
        ray is installed).
    batch_size : int or "auto"
        joblib's batch size (tasks are already chunks of several files).
    progress : bool
        Show a progress bar (only on a terminal).
    min_duration : float
        Shortest accepted clip, in seconds.

    Attributes
    ----------
    last_stats : dict
        Counts of the last :meth:`extract`: ``tracks``, ``cached``, ``computed``,
        ``skipped``, ``rows``, ``seconds``.
    """

    def __init__(
        self,
        cache_dir: WritableFolder,
        n_jobs: Jobs = -1,
        backend: Literal["loky", "threading", "multiprocessing", "ray"] = "loky",
        batch_size: Int(ge=1, le=10**6) | Literal["auto"] = "auto",
        progress: Bool = True,
        min_duration: Float(ge=0, le=600) = 0.5,
    ) -> None:
        self.cache_dir = str(cache_dir)
        self.cache = FeatureCache(cache_dir)
        self.n_jobs = int(n_jobs)
        self.backend = backend
        self.batch_size = batch_size
        self.progress = progress
        self.min_duration = float(min_duration)
        self.last_stats: dict[str, float] = {}
        use_numba_cache_dir()

    def _n_workers(self) -> int:
        from joblib import effective_n_jobs

        return max(1, effective_n_jobs(self.n_jobs))

    def _compute(self, misses: list[Miss], feature_set, store: EntryStore):
        """Yield the :class:`Outcome` lists of the misses, chunk by chunk."""
        n_workers = min(self._n_workers(), len(misses))
        if n_workers <= 1:
            size = max(1, math.ceil(len(misses) / 20))
            for start in range(0, len(misses), size):
                chunk = misses[start : start + size]
                yield _compute_misses(chunk, store, feature_set, self.min_duration)
            return
        yield from self._compute_parallel(misses, feature_set, store, n_workers)

    def _compute_parallel(self, misses: list[Miss], feature_set, store: EntryStore, n_workers: int):
        """Yield the outcomes of the misses computed by a pool, surviving dead workers.

        The misses go out in chunks; each worker appends the index of every file it
        starts to its chunk's marker file. When a worker dies (joblib's
        ``TerminatedWorkerError``, a ``BrokenProcessPool``, ...), the pool is lost
        (loky kills the other workers too) but the chunks that came back are kept; the
        file each unfinished chunk was computing is retried alone in a fresh process
        (:meth:`_compute_alone`), where a file that kills its process again is skipped
        as ``crashed the extractor (signal N)``; the other unfinished files go to a new
        pool, and so on. Every round takes at least one file out of the pools (all the
        unfinished ones go alone when no marker names one), so this ends.
        """
        from joblib import Parallel, delayed
        from joblib.parallel import BACKENDS

        backend = _resolve_backend(self.backend)
        use_numba_cache_dir()  # before workers start, so that they inherit it
        # Results stream back as they finish (for the progress bar and the cache) where
        # the backend can; e.g. "multiprocessing" returns them all at the end.
        streams = BACKENDS[backend]().supports_return_generator
        todo = list(misses)
        with tempfile.TemporaryDirectory(prefix="genreclf-extract-") as markers:
            for round_no in range(len(misses) + 1):
                size = max(1, math.ceil(len(todo) / (4 * n_workers)))
                chunks = [todo[s : s + size] for s in range(0, len(todo), size)]
                marks = [os.path.join(markers, f"{round_no}-{c}") for c in range(len(chunks))]
                parallel = Parallel(
                    n_jobs=max(2, min(n_workers, len(todo))),  # never in this process
                    backend=backend,
                    batch_size=self.batch_size,
                    return_as="generator_unordered" if streams else "list",
                )
                done: set[int] = set()
                try:
                    for results in parallel(
                        delayed(_compute_chunk_marked)(
                            chunk, mark, feature_set, store, self.min_duration
                        )
                        for chunk, mark in zip(chunks, marks, strict=True)
                    ):
                        done.update(r[0] for r in results)
                        yield results
                    return
                except Exception as exc:
                    if not worker_died(exc):
                        raise
                    unfinished = [item for item in todo if item[0] not in done]
                    suspects = {_in_progress(m) for m in marks} - done - {None}
                    if not suspects:
                        suspects = {index for index, _ in unfinished}
                    alone = [item for item in unfinished if item[0] in suspects]
                    todo = [item for item in unfinished if item[0] not in suspects]
                    logger.warning(
                        "features: a worker died (%s); retrying %d file(s) alone in fresh "
                        "processes, %d back to the pool",
                        one_line(exc, named=True),
                        len(alone),
                        len(todo),
                    )
                yield from self._compute_alone(alone, feature_set, store, n_workers)
                if not todo:
                    return

    def _compute_alone(self, items: list[Miss], feature_set, store: EntryStore, n_parallel: int):
        """Yield the result of each file computed in its own fresh process.

        Up to ``n_parallel`` processes run at once (started like loky's workers, without
        re-importing ``__main__``). A process that ends without sending its result
        makes its file skipped with reason ``crashed the extractor (signal N)`` (or
        ``(exit code N)``); this is not remembered in the cache, so the file is retried
        on the next run.
        """
        from multiprocessing.connection import wait

        from joblib.externals.loky.backend.context import get_context

        ctx = get_context("loky")
        queue = list(items)
        running: dict = {}  # connection -> (process, item)
        try:
            while queue or running:
                while queue and len(running) < max(1, n_parallel):
                    item = queue.pop(0)
                    receive, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(
                        target=_compute_alone_main,
                        args=(send, item, feature_set, store, self.min_duration),
                        daemon=True,
                    )
                    proc.start()
                    send.close()
                    running[receive] = (proc, item)
                for conn in wait(list(running)):  # readable: a result, or EOF when it died
                    proc, item = running.pop(conn)
                    try:
                        result = conn.recv()
                    except (EOFError, OSError):
                        result = None
                    conn.close()
                    proc.join()
                    if result is None:
                        reason = _crash_reason(proc.exitcode)
                        logger.warning(
                            "features: %s %s; if every file does, a damaged numba cache "
                            "may be the cause (remove %s)",
                            printable_name(item[1]),
                            reason,
                            os.environ.get("NUMBA_CACHE_DIR") or "numba's __pycache__ folders",
                        )
                        result = [Outcome(item.index, None, reason, False)]
                    yield result
        finally:
            for conn, (proc, _) in running.items():
                proc.kill()
                proc.join()
                conn.close()

    def extract(self, tracks: Sequence[Track], feature_set) -> FeatureTable:
        """Features of ``tracks`` (from the cache where possible), skipping bad files.

        Parameters
        ----------
        tracks : sequence of Track
        feature_set : FeatureSet

        Returns
        -------
        FeatureTable
            One row per track (summary sets) or per segment (frame-level sets, each
            row with its track's id and label), in track order; bad files in
            ``skipped``.
        """
        from tqdm.auto import tqdm

        start = time.perf_counter()
        name = feature_set.name
        columns = list(feature_set.columns)
        bad_extra = {"min_duration": self.min_duration, "bad_version": BAD_FILES_VERSION}
        values: dict[int, np.ndarray] = {}
        reasons: dict[int, str] = {}
        keys: dict[int, str] = {}
        bad_keys: dict[int, str] = {}
        pending: dict[str, list[int]] = {}  # key -> indices of tracks with these bytes
        n_cached = 0
        for i, track in enumerate(tracks):
            try:
                digest = file_digest(track.path)
            except FileNotFoundError:
                reasons[i] = "file not found"
                continue
            except OSError as exc:
                reasons[i] = f"unreadable file ({one_line(exc, named=True)})"
                continue
            key = keys[i] = feature_key(digest, feature_set)
            cached = self.cache.get(
                name, key, check=lambda v: _check_output(v, feature_set.output_ndim, len(columns))
            )
            if cached is not None:
                values[i] = cached
                n_cached += 1
                continue
            bad_keys[i] = feature_key(digest, feature_set, bad_extra)
            bad = self.cache.get_bad(name, bad_keys[i])
            if bad is not None:
                reasons[i] = bad
                continue
            pending.setdefault(key, []).append(i)

        store = EntryStore(self.cache, name, feature_set.output_ndim, len(columns))
        misses = [
            Miss(same[0], str(tracks[same[0]].path), key, bad_keys[same[0]])
            for key, same in pending.items()
        ]
        n_computed = 0
        if misses:
            bar = tqdm(
                total=len(misses),
                unit="file",
                desc=f"features {name}",
                disable=None if self.progress else True,
            )
            with bar:
                for results in self._compute(misses, feature_set, store):
                    for index, value, reason, cached in results:
                        same = pending[keys[index]]
                        if value is None:
                            reasons.update((j, reason) for j in same)
                            continue
                        values.update((j, value) for j in same)
                        if cached:  # stored by a concurrent process meanwhile
                            n_cached += len(same)
                        else:
                            n_computed += len(same)
                    bar.update(len(results))

        for i in sorted(reasons):
            logger.warning("skipped %s: %s", printable_name(tracks[i].path), reasons[i])
        table = self._assemble(tracks, feature_set, columns, values, reasons)
        seconds = time.perf_counter() - start
        self.last_stats = {
            "tracks": len(values),
            "cached": n_cached,
            "computed": n_computed,
            "skipped": len(reasons),
            "rows": len(table),
            "seconds": seconds,
        }
        logger.info(
            "features: %s: %d tracks (%d cached, %d computed), %d skipped, %d rows, %.1f s",
            name,
            len(values),
            n_cached,
            n_computed,
            len(reasons),
            len(table),
            seconds,
        )
        return table

    @staticmethod
    def _assemble(tracks, feature_set, columns, values, reasons) -> FeatureTable:
        order = sorted(values)
        skipped = pd.DataFrame(
            [
                (tracks[i].track_id, printable_name(tracks[i].path), reasons[i])
                for i in sorted(reasons)
            ],
            columns=SKIPPED_COLUMNS,
        )
        if feature_set.frame_level:
            parts = [values[i] for i in order]
            counts = [len(p) for p in parts]
            empty = np.zeros((0,) * (feature_set.output_ndim - 1) + (len(columns),), np.float32)
            X = np.concatenate(parts) if parts else empty
        else:
            counts = [1] * len(order)
            X = np.stack([values[i] for i in order]) if order else np.zeros((0, len(columns)))
        labels = np.repeat(np.asarray([tracks[i].label for i in order], dtype=object), counts)
        ids = np.repeat(np.asarray([tracks[i].track_id for i in order], dtype=object), counts)
        return FeatureTable(X=X, labels=labels, track_ids=ids, columns=columns, skipped=skipped)
