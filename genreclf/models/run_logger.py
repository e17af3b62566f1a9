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


def hit_max_epochs(trainer: Any) -> bool:
    """Whether a finished fit ran all ``max_epochs`` without early stopping ending it.

    Then the selected checkpoint may still have been improving (more epochs could
    help); the run is tagged ``genreclf.hit_max_epochs=true``. A fit interrupted
    (Ctrl-C) or stopped early is not.
    """
    from pytorch_lightning.callbacks import EarlyStopping

    stopped_early = any(
        isinstance(cb, EarlyStopping) and cb.stopped_epoch > 0 for cb in trainer.callbacks
    )
    max_epochs = trainer.max_epochs
    return bool(
        max_epochs is not None
        and max_epochs > 0
        and trainer.current_epoch >= max_epochs
        and not stopped_early
        and not trainer.interrupted
    )
