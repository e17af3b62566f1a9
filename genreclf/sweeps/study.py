"""The Optuna study of a pruned sweep (``sweep.pruner``): storage, pruner, trials.

One study holds a sweep's trials: the launching process asks each trial
(:mod:`genreclf.sweeps.sweeper`), and the job that runs it reports its validation
accuracy every epoch, stops when the pruner says so, and tells the study how it ended
(:mod:`genreclf.sweeps.pruning`). Everything here is Optuna's own: its storages
(SQLite or PostgreSQL through ``RDBStorage``, a journal file), its pruners and its
samplers; genreclf only names them.

- ``sweep.storage: null``: a SQLite file ``optuna.db`` beside a SQLite MLflow store
  (``sqlite:///mlruns/mlflow.db`` gives ``sqlite:///mlruns/optuna.db``).
- ``sweep.storage: postgresql://<server>/optuna``: a database of its own on the team's
  PostgreSQL server (any SQLAlchemy URL; not MLflow's database: both keep an
  ``alembic_version`` table).
- ``sweep.storage: journal:///shared/path/optuna.log``: Optuna's journal file, for a
  network file system where SQLite's locks cannot be trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from genreclf.core.errors import ConfigError

log = logging.getLogger("genreclf.sweeps")

#: ``sweep.pruner`` choices: Optuna's pruner classes (``none``: no study, no pruning).
PRUNERS: dict[str, str] = {
    "none": "NopPruner",
    "median": "MedianPruner",
    "asha": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
}
#: ``hydra.sweeper.sampler`` choices: Optuna's sampler classes.
SAMPLERS: dict[str, str] = {"grid": "GridSampler", "tpe": "TPESampler", "random": "RandomSampler"}
#: The prefix of a journal file storage URL.
JOURNAL = "journal://"
#: Seconds a SQLite study waits for another process's write lock.
SQLITE_TIMEOUT_S = 60
#: The trial's user attribute that names the process that asked it (``host:pid``).
LAUNCHER_ATTR = "genreclf.launcher"
#: The trial's user attribute that names the MLflow run holding its result.
RUN_ATTR = "genreclf.run_id"


def storage_url(storage: str | None, tracking_uri: str) -> str:
    """The study's storage URL: ``storage``, or a SQLite file beside a SQLite MLflow store."""
    if storage:
        return str(storage)
    if tracking_uri.startswith("sqlite:///"):
        folder = tracking_uri[len("sqlite:///") :].rsplit("/", 1)
        return f"sqlite:///{folder[0] + '/' if len(folder) == 2 else ''}optuna.db"
    raise ConfigError(
        f"sweep.storage: needed with a tracking server ({tracking_uri}); give a database "
        "of its own on the same PostgreSQL server (postgresql://<server>/optuna), or "
        "journal:///<shared path>/optuna.log"
    )


def open_storage(url: str) -> Any:
    """Optuna's storage for ``url`` (a SQLAlchemy URL, or ``journal://<path>``)."""
    import optuna

    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend

        path = url[len(JOURNAL) :]
        return optuna.storages.JournalStorage(JournalFileBackend(path))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def make_pruner(name: str, args: Mapping[str, Any] | None) -> Any:
    """Optuna's pruner for ``sweep.pruner`` (``args``: its keyword arguments)."""
    import optuna

    if name not in PRUNERS:
        raise ConfigError(f"sweep.pruner={name}: choose one of {', '.join(PRUNERS)}")
    cls = getattr(optuna.pruners, PRUNERS[name])
    return cls() if name == "none" else cls(**dict(args or {}))


def open_study(sweep: Mapping[str, Any], tracking_uri: str, sampler: Any = None) -> Any:
    """The sweep's study (created if new), with its pruner and, if given, ``sampler``.

    ``sweep``: the ``sweep`` config section (``study``, ``storage``, ``pruner``,
    ``pruners``: each pruner's keyword arguments).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=str(sweep["study"]),
        storage=open_storage(storage_url(sweep.get("storage"), tracking_uri)),
        sampler=sampler,
        pruner=make_pruner(str(sweep["pruner"]), (sweep.get("pruners") or {}).get(sweep["pruner"])),
        direction="maximize",
        load_if_exists=True,
    )


def trial_of(study: Any, number: int) -> Any:
    """The running trial number ``number`` of ``study``, to report to and prune.

    Optuna's ``Trial`` takes the storage's trial id, which its storage API gives by number.
    """
    import optuna

    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    return optuna.trial.Trial(study, trial_id)


def finish(study: Any, number: int, state: str, value: float | None = None) -> None:
    """Tell ``study`` that trial ``number`` ended (``COMPLETE``, ``PRUNED`` or ``FAIL``).

    A trial that ended already (the launching process failed it first) is left as it is.
    """
    from optuna.trial import TrialState

    kind = TrialState[state]
    told = value if kind == TrialState.COMPLETE else None
    study.tell(number, told, state=kind, skip_if_finished=True)


def selection_value(val_acc: float, val_loss: float) -> float:
    """What a finished trial tells its study: ``best_run``'s order as one number.

    The validation accuracy, less ``1e-9`` times the validation loss: accuracies of
    different runs differ by at least one validation example (``1e-5`` even for
    100,000 examples), far more than the loss term, so the study's best trial is the run
    :func:`genreclf.tracking.selection.best_run` chooses, ties on accuracy going to the
    lower loss as there.
    """
    import math

    loss = val_loss if math.isfinite(val_loss) else 1e3
    return float(val_acc) - 1e-9 * min(max(loss, 0.0), 1e3)


def fail_stale_trials(study: Any, alive: Any) -> int:
    """End FAIL the RUNNING trials whose launching process is gone; return their count.

    ``alive(owner)`` says whether the ``host:pid`` a trial was asked by still runs.
    """
    from optuna.trial import TrialState

    stale = [
        trial
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not alive(str(trial.user_attrs.get(LAUNCHER_ATTR, "")))
    ]
    for trial in stale:
        study.tell(trial.number, state=TrialState.FAIL)
    return len(stale)


def fail_running(study: Any, owner: str) -> int:
    """End FAIL every RUNNING trial asked by ``owner`` (``host:pid``); return the count."""
    return fail_stale_trials(study, lambda asked_by: asked_by != owner)


def retry_failed(study: Any) -> int:
    """Enqueue again each failed trial's params that no trial has finished since.

    A resumed sweep trains them again (a killed or lost job), as it trains again a
    config whose MLflow run did not FINISH. Returns how many were enqueued.
    """
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = {
        params_key(t.params) for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
    }
    waiting = {  # an enqueued trial holds its params as Optuna's fixed_params until asked
        params_key(t.system_attrs.get("fixed_params", {}))
        for t in trials
        if t.state == TrialState.WAITING
    }
    again: dict[str, dict[str, Any]] = {}
    for trial in trials:
        key = params_key(trial.params)
        if trial.state == TrialState.FAIL and key not in done | waiting:
            again.setdefault(key, trial.params)
    for params in again.values():
        study.enqueue_trial(params, skip_if_exists=False)
    return len(again)


def params_key(params: Mapping[str, Any]) -> str:
    """A trial's params as one comparable value (the same configuration, the same key)."""
    return repr(sorted(params.items()))
