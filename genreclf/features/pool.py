"""Computing cache misses in a pool of worker processes that survives dead workers.

A dead worker (killed for memory, segfault...) costs only its own work: the chunks
that finished are kept, the file each dead or aborted worker was computing (every
worker writes which file it starts to a marker file) is retried alone in a fresh
process, and the other unfinished files go back to a new pool. A file that kills its
fresh process too is skipped as ``crashed the extractor (signal N)``. See
:meth:`WorkerPool.compute`.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from genreclf.core.errors import one_line
from genreclf.core.filenames import printable_name
from genreclf.features.numba_cache import use_numba_cache_dir
from genreclf.features.workers import (
    EntryStore,
    Miss,
    Outcome,
    compute_alone_main,
    compute_chunk_marked,
)

logger = logging.getLogger(__name__)


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


def _resolve_backend(backend: str) -> str:
    """Register the ray backend on demand (its extra named if missing)."""
    from joblib.parallel import BACKENDS

    if backend == "ray" and "ray" not in BACKENDS:
        try:
            from ray.util.joblib import register_ray
        except ImportError as exc:
            from genreclf.core.extras import install_command

            raise ValueError(
                f"extraction.backend=ray needs the ray extra: {install_command('ray')}"
            ) from exc
        register_ray()
    return backend


def _after_death(
    todo: list[Miss], done: set[int], marks: list[str]
) -> tuple[list[Miss], list[Miss]]:
    """The unfinished misses of a broken pool: those to retry alone, those back to a pool.

    Alone go the files the markers name as in progress, or all the unfinished ones
    when no marker names one.
    """
    unfinished = [item for item in todo if item[0] not in done]
    suspects = {_in_progress(m) for m in marks} - done - {None}
    if not suspects:
        suspects = {index for index, _ in unfinished}
    alone = [item for item in unfinished if item[0] in suspects]
    return alone, [item for item in unfinished if item[0] not in suspects]


@dataclass(frozen=True)
class WorkerPool:
    """Worker processes computing misses: joblib ``backend`` and ``batch_size``, at most
    ``n_workers`` at once, clips shorter than ``min_duration`` seconds refused."""

    backend: str
    batch_size: int | Literal["auto"]
    n_workers: int
    min_duration: float

    def compute(
        self, misses: list[Miss], feature_set, store: EntryStore
    ) -> Iterator[list[Outcome]]:
        """Yield the outcomes of the misses computed by a pool, surviving dead workers.

        The misses go out in chunks; each worker appends the index of every file it
        starts to its chunk's marker file. When a worker dies (joblib's
        ``TerminatedWorkerError``, a ``BrokenProcessPool``, ...), the pool is lost
        (loky kills the other workers too) but the chunks that came back are kept; the
        file each unfinished chunk was computing is retried alone in a fresh process
        (:meth:`compute_alone`), where a file that kills its process again is skipped
        as ``crashed the extractor (signal N)``; the other unfinished files go to a new
        pool, and so on. Every round takes at least one file out of the pools (all the
        unfinished ones go alone when no marker names one), so this ends.
        """
        backend = _resolve_backend(self.backend)
        use_numba_cache_dir()  # before workers start, so that they inherit it
        todo = list(misses)
        with tempfile.TemporaryDirectory(prefix="genreclf-extract-") as markers:
            for round_no in range(len(misses) + 1):
                size = max(1, math.ceil(len(todo) / (4 * self.n_workers)))
                chunks = [todo[s : s + size] for s in range(0, len(todo), size)]
                marks = [os.path.join(markers, f"{round_no}-{c}") for c in range(len(chunks))]
                done: set[int] = set()
                try:
                    for results in self._run(backend, chunks, marks, feature_set, store):
                        done.update(r[0] for r in results)
                        yield results
                    return
                except Exception as exc:
                    if not worker_died(exc):
                        raise
                    alone, todo = _after_death(todo, done, marks)
                    logger.warning(
                        "features: a worker died (%s); retrying %d file(s) alone in fresh "
                        "processes, %d back to the pool",
                        one_line(exc, named=True),
                        len(alone),
                        len(todo),
                    )
                yield from self.compute_alone(alone, feature_set, store)
                if not todo:
                    return

    def _run(
        self,
        backend: str,
        chunks: list[list[Miss]],
        marks: list[str],
        feature_set,
        store: EntryStore,
    ) -> Iterator[list[Outcome]]:
        """One pool's results, chunk by chunk: as they finish where ``backend`` can stream
        them (e.g. ``multiprocessing`` returns them all at the end)."""
        from joblib import Parallel, delayed
        from joblib.parallel import BACKENDS

        streams = BACKENDS[backend]().supports_return_generator
        parallel = Parallel(
            n_jobs=max(2, min(self.n_workers, sum(map(len, chunks)))),  # never in this process
            backend=backend,
            batch_size=self.batch_size,
            return_as="generator_unordered" if streams else "list",
        )
        yield from parallel(
            delayed(compute_chunk_marked)(chunk, mark, feature_set, store, self.min_duration)
            for chunk, mark in zip(chunks, marks, strict=True)
        )

    def compute_alone(
        self, items: Sequence[Miss], feature_set, store: EntryStore
    ) -> Iterator[list[Outcome]]:
        """Yield the result of each file computed in its own fresh process.

        Up to ``n_workers`` processes run at once (started like loky's workers, without
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
                while queue and len(running) < max(1, self.n_workers):
                    item = queue.pop(0)
                    receive, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(
                        target=compute_alone_main,
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
