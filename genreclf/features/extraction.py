"""Feature extraction over many files: cache look-up, parallel compute of the misses, bad files.

The parent process hashes every file and looks it up in the
:class:`~genreclf.features.cache.FeatureCache`; only the misses are decoded and
transformed, in chunks of files spread over :class:`joblib.Parallel` workers. A file
that yields no features (missing, empty, corrupt, not audio, silent, too short, or any
error while computing) costs that file only: it is skipped, logged as a one-line
warning naming it, and listed in :attr:`FeatureTable.skipped`.

What a worker runs, each entry computed once even by concurrent processes, is in
:mod:`genreclf.features.workers`; the pool that survives dead workers in
:mod:`genreclf.features.pool`. numba's on-disk cache (librosa's and
:mod:`genreclf.features.seed174`'s kernels use ``cache=True``) goes to a per-user folder
unless ``NUMBA_CACHE_DIR`` is set, see :mod:`genreclf.features.numba_cache`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from genreclf.core.errors import one_line
from genreclf.core.filenames import printable_name
from genreclf.core.params import Bool, Float, Int, Jobs, WritableFolder
from genreclf.core.registry import Registry
from genreclf.data.tracks import Track
from genreclf.features.cache import FeatureCache, feature_key, file_digest
from genreclf.features.fusion import Fusion, fuse_tables
from genreclf.features.numba_cache import use_numba_cache_dir
from genreclf.features.pool import WorkerPool, worker_died
from genreclf.features.table import FeatureTable
from genreclf.features.workers import (
    EntryStore,
    Miss,
    Outcome,
    check_output,
    compute_chunk,
    compute_misses,
)

#: The public names; ``compute_chunk`` and ``worker_died`` are kept importable from here.
__all__ = [
    "BAD_FILES_VERSION",
    "EXTRACTORS",
    "SKIPPED_COLUMNS",
    "FeatureExtractor",
    "compute_chunk",
    "save_manifest",
    "worker_died",
]

#: Extractors by name (the ``conf/extraction/`` option names).
EXTRACTORS: Registry[FeatureExtractor] = Registry("extraction", group="extraction")

logger = logging.getLogger(__name__)

SKIPPED_COLUMNS = ["track_id", "path", "reason"]

#: Version of the remembered bad files (in their cache key). 2: a file whose name is
#: not UTF-8 is read; version 1 remembered it as unreadable audio.
BAD_FILES_VERSION = 2


def save_manifest(skipped: pd.DataFrame, path: str | Path) -> Path:
    """Write the skipped-files manifest as CSV with columns ``track_id, path, reason``.

    Track ids and paths are text: a name that is not UTF-8 is written as its
    :func:`~genreclf.core.filenames.printable_name`.

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


@dataclass
class _Tally:
    """What :meth:`FeatureExtractor.extract` knows so far, by track index."""

    values: dict[int, np.ndarray] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)
    bad_keys: dict[int, str] = field(default_factory=dict)
    pending: dict[str, list[int]] = field(default_factory=dict)  # key -> tracks, same bytes
    n_cached: int = 0
    n_computed: int = 0

    def add(self, results: Sequence[Outcome]) -> None:
        """Record computed outcomes for every track with the same bytes."""
        for index, value, reason, cached in results:
            same = self.pending[self.keys[index]]
            if value is None:
                self.reasons.update((j, reason) for j in same)
                continue
            self.values.update((j, value) for j in same)
            if cached:  # stored by a concurrent process meanwhile
                self.n_cached += len(same)
            else:
                self.n_computed += len(same)


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
        n_jobs: Jobs,
        backend: Literal["loky", "threading", "multiprocessing", "ray"],
        batch_size: Int(ge=1, le=10**6) | Literal["auto"],
        progress: Bool,
        min_duration: Float(ge=0, le=600),
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

    def _compute(
        self, misses: list[Miss], feature_set, store: EntryStore
    ) -> Iterator[list[Outcome]]:
        """Yield the :class:`Outcome` lists of the misses, chunk by chunk."""
        n_workers = min(self._n_workers(), len(misses))
        if n_workers <= 1:
            size = max(1, math.ceil(len(misses) / 20))
            for start in range(0, len(misses), size):
                chunk = misses[start : start + size]
                yield compute_misses(chunk, store, feature_set, self.min_duration)
            return
        pool = WorkerPool(self.backend, self.batch_size, n_workers, self.min_duration)
        yield from pool.compute(misses, feature_set, store)

    def _look_up(self, tracks: Sequence[Track], feature_set, n_columns: int) -> _Tally:
        """Hash every file and read what the cache holds; the rest is left ``pending``."""
        tally = _Tally()
        name = feature_set.name
        bad_extra = {"min_duration": self.min_duration, "bad_version": BAD_FILES_VERSION}
        for i, track in enumerate(tracks):
            try:
                digest = file_digest(track.path)
            except FileNotFoundError:
                tally.reasons[i] = "file not found"
                continue
            except OSError as exc:
                tally.reasons[i] = f"unreadable file ({one_line(exc, named=True)})"
                continue
            key = tally.keys[i] = feature_key(digest, feature_set)
            cached = self.cache.get(
                name, key, check=lambda v: check_output(v, feature_set.output_ndim, n_columns)
            )
            if cached is not None:
                tally.values[i] = cached
                tally.n_cached += 1
                continue
            tally.bad_keys[i] = feature_key(digest, feature_set, bad_extra)
            bad = self.cache.get_bad(name, tally.bad_keys[i])
            if bad is not None:
                tally.reasons[i] = bad
                continue
            tally.pending.setdefault(key, []).append(i)
        return tally

    def _compute_pending(
        self, tracks: Sequence[Track], feature_set, n_columns: int, tally: _Tally
    ) -> None:
        """Compute the tracks ``tally`` left pending (one file per distinct content)."""
        from tqdm.auto import tqdm

        store = EntryStore(self.cache, feature_set.name, feature_set.output_ndim, n_columns)
        misses = [
            Miss(same[0], str(tracks[same[0]].path), key, tally.bad_keys[same[0]])
            for key, same in tally.pending.items()
        ]
        if not misses:
            return
        bar = tqdm(
            total=len(misses),
            unit="file",
            desc=f"features {feature_set.name}",
            disable=None if self.progress else True,
        )
        with bar:
            for results in self._compute(misses, feature_set, store):
                tally.add(results)
                bar.update(len(results))

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
            ``skipped``. A :class:`~genreclf.features.fusion.Fusion` extracts each part
            as that part's own set (its own cache entries), then joins them by track.
        """
        if isinstance(feature_set, Fusion):
            return self._extract_fusion(tracks, feature_set)
        start = time.perf_counter()
        columns = list(feature_set.columns)
        tally = self._look_up(tracks, feature_set, len(columns))
        self._compute_pending(tracks, feature_set, len(columns), tally)
        for i in sorted(tally.reasons):
            logger.warning("skipped %s: %s", printable_name(tracks[i].path), tally.reasons[i])
        table = self._assemble(tracks, feature_set, columns, tally.values, tally.reasons)
        self.last_stats = {
            "tracks": len(tally.values),
            "cached": tally.n_cached,
            "computed": tally.n_computed,
            "skipped": len(tally.reasons),
            "rows": len(table),
            "seconds": time.perf_counter() - start,
        }
        logger.info(
            "features: %s: %d tracks (%d cached, %d computed), %d skipped, %d rows, %.1f s",
            feature_set.name,
            *self.last_stats.values(),
        )
        return table

    def _extract_fusion(self, tracks: Sequence[Track], fusion: Fusion) -> FeatureTable:
        """Each part's features through the cache as that part's own, joined by track.

        ``last_stats`` counts cache entries over the parts (``cached``, ``computed``).
        """
        start = time.perf_counter()
        tables, stats = [], []
        for part in fusion.members:
            tables.append(self.extract(tracks, part))
            stats.append(self.last_stats)
        paths = {t.track_id: printable_name(t.path) for t in tracks}
        table = fuse_tables(tables, fusion, paths=paths)
        self.last_stats = {
            "tracks": len(set(table.track_ids)),
            "cached": sum(s["cached"] for s in stats),
            "computed": sum(s["computed"] for s in stats),
            "skipped": len(table.skipped),
            "rows": len(table),
            "seconds": time.perf_counter() - start,
        }
        logger.info(
            "features: %s: %d tracks (%d part entries cached, %d computed), %d skipped, "
            "%d rows, %.1f s",
            fusion.describe(),
            *self.last_stats.values(),
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
