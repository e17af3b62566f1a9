"""Jobs handed to a launcher's slots one at a time, as each slot frees up.

A launcher takes the next job (:meth:`JobFeed.take`) whenever one of its slots is free,
so that no slot waits for a batch to end. Hydra's basic sweeper gives a list of jobs
(:func:`as_feed`); a pruned sweep's feed asks its study for the next trial only when a
slot takes it (:mod:`genreclf.sweeps.sweeper`), so that the sampler sees every trial that
ended before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


class JobFeed:
    """``total`` jobs, numbered from ``first_idx``, each made by ``next_job()`` when taken.

    ``next_job()`` returns a job's overrides, or ``None`` when there are no more.
    """

    def __init__(
        self,
        total: int,
        next_job: Callable[[], list[str] | None],
        first_idx: int = 0,
        eager: bool = False,
    ) -> None:
        self.total = total
        #: Whether every job is known now (a list): a scheduler may then queue them all.
        self.eager = eager
        self._next_job = next_job
        self._next_idx = first_idx
        self.taken: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def take(self) -> tuple[int, list[str]] | None:
        """The next job's number and overrides; ``None`` once ``total`` jobs were taken."""
        with self._lock:
            if len(self.taken) >= self.total:
                return None
            overrides = self._next_job()
            if overrides is None:
                self.total = len(self.taken)
                return None
            idx, self._next_idx = self._next_idx, self._next_idx + 1
            self.taken[idx] = list(overrides)
            return idx, self.taken[idx]

    def take_many(self, count: int) -> list[tuple[int, list[str]]]:
        """Up to ``count`` jobs (fewer at the end of the feed)."""
        jobs = []
        while len(jobs) < count and (job := self.take()) is not None:
            jobs.append(job)
        return jobs

    def __len__(self) -> int:
        return self.total


def as_feed(job_overrides: Sequence[Sequence[str]] | JobFeed, initial_job_idx: int) -> JobFeed:
    """A launcher's jobs as a :class:`JobFeed` (a list is fed in its order)."""
    if isinstance(job_overrides, JobFeed):
        return job_overrides
    jobs = iter([list(o) for o in job_overrides])
    return JobFeed(len(job_overrides), lambda: next(jobs, None), initial_job_idx, eager=True)
