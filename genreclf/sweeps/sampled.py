"""A basic sweeper that runs a seeded random sample of its grid.

Hydra instantiates sweepers only from the ``hydra_plugins`` namespace package, so this
class is reached through a subclass there: ``benchmarks/sweep_throughput.py`` writes one
(``hydra_plugins.genreclf_sampled.SampledSweeper``) and its ``hydra/sweeper`` config
into a temporary folder, to time a random sample of ``sweep=grid``.
"""

from __future__ import annotations

import random
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override


class SampledSweeper(BasicSweeper):
    """Hydra's basic sweeper over ``sample`` grid points drawn at random with ``seed``.

    ``sample=None`` runs the whole grid, in a shuffled order when ``shuffle`` is true
    (which spreads slow and fast configurations evenly over the run).
    With ``keep_together`` (keys such as ``trainer.max_epochs``), jobs that differ only
    in those keys form one group: whole groups are sampled, and their jobs keep the
    grid's order (so that jobs sharing one fit, see :mod:`genreclf.sweeps.budgets`,
    stay as far apart as in the full grid). ``hydra.sweeper.params`` is as for the
    basic sweeper.
    """

    def __init__(
        self,
        max_batch_size: int | None = None,
        params: dict[str, str] | None = None,
        sample: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
        keep_together: list[str] | None = None,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.keep_together = tuple(keep_together or ())
        self.sample = sample
        self.seed = seed
        self.shuffle = shuffle

    def split_arguments(  # type: ignore[override]
        self, overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        """The grid's jobs (sampled, shuffled), in batches of ``max_batch_size``."""
        jobs: list[Any] = BasicSweeper.split_arguments(overrides, None)[0]
        rng = random.Random(self.seed)
        if self.keep_together:

            def group(job: list[str]) -> tuple[str, ...]:
                return tuple(o for o in job if o.split("=", 1)[0] not in self.keep_together)

            groups = list(dict.fromkeys(group(job) for job in jobs))
            if self.sample is not None and self.sample < len(groups):
                groups = rng.sample(groups, self.sample)
            chosen = set(groups)
            jobs = [job for job in jobs if group(job) in chosen]
        elif self.sample is not None and self.sample < len(jobs):
            jobs = rng.sample(jobs, self.sample)
        elif self.shuffle:
            rng.shuffle(jobs)
        if max_batch_size is None:
            return [jobs]
        return [jobs[i : i + max_batch_size] for i in range(0, len(jobs), max_batch_size)]
