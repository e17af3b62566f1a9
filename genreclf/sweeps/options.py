"""The ``sweep`` options, declared once (see :mod:`genreclf.params`)."""

from __future__ import annotations

from genreclf.params import Bool, Name, Options


class SweepOptions(Options):
    """``conf/sweep/``: the sweep's name (its experiment and folder) and behaviour."""

    name: Name
    resume: Bool = True
    share_epoch_budgets: Bool = False
