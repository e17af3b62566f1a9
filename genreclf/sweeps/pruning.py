"""The job side of a pruned sweep: report every epoch, stop when the pruner says so.

A job of a pruned sweep (``sweep.pruner``, see :mod:`genreclf.sweeps.sweeper`) runs one
Optuna trial, whose number it gets as ``sweep.trial``. :func:`open_trial` opens it;
:class:`TrialPruning`, a Lightning callback added by
:func:`genreclf.train.fit_and_evaluate` (:func:`pruning_callback`), reports the
validation accuracy after every epoch and asks the study's pruner whether to go on. A
pruned fit stops at the end of that epoch; :func:`stop_if_pruned` then tags the run
``genreclf.pruned_at_epoch`` and raises :class:`Pruned`: the run keeps its
curves, ends FINISHED, and logs no selection metric and no test score, so that no
ranking chooses it. (Optuna's own Lightning callback, in ``optuna-integration``, is
written for the ``lightning`` package, not ``pytorch_lightning``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl

from genreclf.tracking import names


class Pruned(Exception):
    """A fit that its pruner stopped after ``epochs`` epochs (Optuna's ``TrialPruned``)."""

    def __init__(self, epochs: int) -> None:
        super().__init__(f"pruned at epoch {epochs}")
        self.epochs = epochs


@dataclass
class OpenTrial:
    """The trial a job runs: its study, its number, and the epoch it was pruned at."""

    study: Any
    number: int
    pruned_at: int | None = None


#: The trial of the job running in this process (``None``: not a pruned sweep's job).
_CURRENT: OpenTrial | None = None


def open_trial(sweep: Any, tracking_uri: str) -> OpenTrial | None:
    """Open the trial ``sweep.trial`` names (``None`` if none) as this process's trial."""
    global _CURRENT
    number = sweep.get("trial") if sweep else None
    if number is None:
        _CURRENT = None
        return None
    from genreclf.sweeps.study import open_study

    _CURRENT = OpenTrial(open_study(sweep, tracking_uri), int(number))
    return _CURRENT


def close_trial(
    trial: OpenTrial | None, state: str, value: float | None = None, run_id: str = ""
) -> None:
    """Tell the study how ``trial`` ended, and forget it (see :func:`~.study.finish`).

    ``run_id``: the MLflow run that holds the trial's result (its user attribute
    ``genreclf.run_id``), so that the study's best trial names MLflow's best run.
    """
    global _CURRENT
    _CURRENT = None
    if trial is not None:
        from genreclf.sweeps.study import RUN_ATTR, finish, trial_of

        if run_id:
            trial_of(trial.study, trial.number).set_user_attr(RUN_ATTR, run_id)
        finish(trial.study, trial.number, state, value)


class TrialPruning(pl.Callback):
    """Report ``monitor`` to the trial after each validation; stop the fit if pruned.

    The step is the number of epochs trained, the resource of Optuna's successive
    halving and Hyperband pruners.
    """

    def __init__(self, trial: OpenTrial, monitor: str = names.VAL_ACC) -> None:
        from genreclf.sweeps.study import trial_of

        self.trial = trial
        self.monitor = monitor
        self._optuna_trial = trial_of(trial.study, trial.number)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epochs = trainer.current_epoch + 1
        self._optuna_trial.report(float(value), step=epochs)
        if self._optuna_trial.should_prune():
            self.trial.pruned_at = epochs
            trainer.should_stop = True


def pruning_callback() -> TrialPruning | None:
    """The pruning callback of this process's trial (``None``: not a pruned sweep's job)."""
    return None if _CURRENT is None else TrialPruning(_CURRENT)


def stop_if_pruned(callback: TrialPruning | None, writer: Any) -> None:
    """After the fit: if the pruner stopped it, tag the run and raise :class:`Pruned`."""
    if callback is None or callback.trial.pruned_at is None:
        return
    epochs = callback.trial.pruned_at
    writer.log_tags({names.PRUNED_TAG: str(epochs), names.TRIAL_TAG: str(callback.trial.number)})
    raise Pruned(epochs)
