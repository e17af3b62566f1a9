"""A Lightning logger that hands a run's metrics to a writer (the tracking layer's run)."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any, Protocol

from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities import rank_zero_only


class RunSink(Protocol):
    """Where a run's params and metrics go (e.g. :class:`genreclf.tracking.run.RunWriter`)."""

    run_id: str

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None: ...

    def stage_done(self) -> None: ...


class RunLogger(Logger):
    """Lightning's logger interface over a :class:`RunSink`.

    The sink decides when to write (and to which store); this class only forwards what
    the Trainer logs. ``finalize`` does not end the run: whoever opened it ends it once,
    with its final status.
    """

    def __init__(self, sink: RunSink) -> None:
        super().__init__()
        self.sink = sink

    @property
    def name(self) -> str:
        return "genreclf"

    @property
    def version(self) -> str:
        return self.sink.run_id

    @property
    def run_id(self) -> str:
        return self.sink.run_id

    @property
    def experiment(self) -> RunSink:
        return self.sink

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        params = vars(params) if isinstance(params, Namespace) else dict(params or {})
        if params:
            self.sink.log_params(params)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.sink.log_metrics(metrics, step)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.sink.stage_done()

    def save(self) -> None:
        """Nothing to save: the sink writes."""
