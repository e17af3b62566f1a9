"""What an extraction worker runs: compute files, one failure costing one file, each once.

Entries are computed once even by concurrent processes sharing the cache (the jobs of
a multirun): a worker takes the entry's lock (:meth:`FeatureCache.lock`), looks the
entry up again, computes and stores it only if it is still missing, then releases the
lock. An entry whose lock another process holds is put off to the end of its chunk
(the worker computes the others meanwhile), then waited for; it is then usually found
in the cache and counted as cached. See :func:`compute_once`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from filelock import Timeout

from genreclf.audio import AudioError, load_audio
from genreclf.core.errors import one_line
from genreclf.features.cache import FeatureCache


def check_output(value: np.ndarray, want: int, n_columns: int) -> None:
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
                check_output(value, feature_set.output_ndim, n_columns)
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
            check=lambda v: check_output(v, self.output_ndim, self.n_columns),
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


def compute_misses(
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


def compute_chunk_marked(
    items: Sequence[Miss], marker: str, feature_set, store: EntryStore, min_duration: float
) -> list[Outcome]:
    """:func:`compute_misses` of a pool's chunk, with its marker file."""
    return compute_misses(items, store, feature_set, min_duration, marker)


def compute_alone_main(conn, item: Miss, feature_set, store: EntryStore, min_duration):
    """Body of a fresh process computing one file: send its :func:`compute_misses` result."""
    conn.send(compute_misses([item], store, feature_set, min_duration))
    conn.close()
