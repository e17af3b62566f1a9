"""``hydra/sweeper=genreclf``: see :mod:`genreclf.sweeps.sweeper`."""

from genreclf.sweeps.sweeper import StudySweeper as _Sweeper


class StudySweeper(_Sweeper):
    """A grid or an Optuna search, pruned with ``sweep.pruner``."""
