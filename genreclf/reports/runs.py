"""The runs of an experiment, read from MLflow into one pandas frame."""

from __future__ import annotations

import pandas as pd

from genreclf.core.errors import ConfigError
from genreclf.tracking import names
from genreclf.tracking.store import Store

#: Params that vary between runs of one model type without being a hyperparameter of
#: it: the model's class is the ``model`` column.
MODEL_PARAM = "model._target_"


def load_runs(store: Store, experiment: str, sweep_id: str | None = None) -> pd.DataFrame:
    """The training runs of ``experiment``, one row each.

    Report runs (tagged :data:`REPORT_TAG`) and a sweep's parent runs (tagged
    :data:`ROLE_TAG` ``parent``) and the fold-and-seed children of configuration runs
    (``member``) are left out, and so are deleted runs: one row per configuration.

    Parameters
    ----------
    store : Store
        The MLflow store.
    experiment : str
        Experiment name.
    sweep_id : str, optional
        Keep only the runs of this sweep (tag :data:`SWEEP_ID_TAG`).

    Returns
    -------
    pandas.DataFrame
        ``mlflow.search_runs`` columns (``run_id``, ``status``, ``start_time``,
        ``params.*``, ``metrics.*``, ``tags.*``) plus ``run_name``, ``model`` (see
        :func:`~genreclf.models.heads.model_name`) and ``val_acc``, ``val_loss``,
        ``test_acc``, ``test_f1``, ``last_val_acc``. ``val_acc`` is
        ``best_val_acc`` (validation accuracy of the selected checkpoint) or, for runs
        not finished yet (RUNNING), their latest ``val_acc``: a FINISHED run without
        ``best_val_acc`` (a pruned one, see :func:`pruned_runs`) has none and is not
        ranked, as :func:`~genreclf.tracking.selection.best_run` ranks it; ``val_loss`` is
        ``best_val_loss``, the tie-break of :func:`genreclf.tracking.selection.rank_runs`;
        ``last_val_acc`` is the latest ``val_acc`` of the curve. Sorted by start time.

    Raises
    ------
    ValueError
        If the experiment does not exist.
    """
    experiment_id = store.experiment_id(experiment, create=False)
    if experiment_id is None:
        there = ", ".join(store.experiment_names()) or "none"
        raise ConfigError(
            f"experiment={experiment}: no such experiment in {store.uri} (there: {there})"
        )
    runs = store.runs_frame(experiment_id)
    if runs.empty:
        return runs.assign(
            run_name=[], model=[], val_acc=[], val_loss=[], test_acc=[], test_f1=[], last_val_acc=[]
        )
    runs = _ranked_rows(runs, sweep_id)
    return _with_scores(runs).sort_values("start_time", kind="stable").reset_index(drop=True)


def _tag(runs: pd.DataFrame, name: str) -> pd.Series:
    """The tag ``name`` of each run (``None`` where a run has none)."""
    empty = pd.Series(None, index=runs.index, dtype=object)
    return runs.get(f"tags.{name}", empty).astype(object)


def _ranked_rows(runs: pd.DataFrame, sweep_id: str | None) -> pd.DataFrame:
    """The runs that are ranked: no report, parent or member runs; of ``sweep_id`` if given."""
    keep = _tag(runs, names.REPORT_TAG).fillna("").astype(str).str.lower() != "true"
    keep &= _tag(runs, names.ROLE_TAG).fillna(names.JOB_ROLE).isin(names.RANKED_ROLES)
    if sweep_id is not None:
        keep &= _tag(runs, names.SWEEP_ID_TAG) == sweep_id
    return runs[keep].copy()


def _with_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with the columns ``run_name``, ``model`` and the scores of :func:`load_runs`."""

    def column(name: str) -> pd.Series:
        return runs.get(name, pd.Series(float("nan"), index=runs.index))

    runs["run_name"] = _tag(runs, names.RUN_NAME_TAG).fillna("")
    targets = column(f"params.{MODEL_PARAM}")
    choices = _tag(runs, names.MODEL_TAG)
    from genreclf.models.heads import model_name  # (torch: only when runs are read)

    runs["model"] = [model_name(c, t) for c, t in zip(choices, targets, strict=True)]
    runs["features"] = _tag(runs, names.FEATURES_TAG)
    runs["last_val_acc"] = column(f"metrics.{names.VAL_ACC}")
    going = runs["last_val_acc"].where(runs["status"] != names.FINISHED)
    runs["val_acc"] = column(f"metrics.{names.BEST_VAL_ACC}").fillna(going)
    runs["val_loss"] = column(f"metrics.{names.BEST_VAL_LOSS}")
    runs["test_acc"] = column(f"metrics.{names.TEST_ACC}")
    runs["test_f1"] = column(f"metrics.{names.TEST_F1}")
    return runs


def status_counts(runs: pd.DataFrame) -> pd.Series:
    """Number of runs per MLflow status (FINISHED, RUNNING, FAILED, KILLED, ...)."""
    return runs["status"].value_counts().rename("runs")


def live_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that are finished or still going: failed and killed runs left out."""
    return runs[runs["status"].isin(names.LIVE_STATUSES)]


def finished_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs with a validation accuracy: the ones plotted and compared."""
    return runs[(runs["status"] == names.FINISHED) & runs["val_acc"].notna()]


def pruned_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs that a sweep's pruner stopped early (tag
    :data:`~genreclf.tracking.names.PRUNED_TAG`, the epochs they trained).

    They have no ``best_val_acc``, so their ``val_acc`` is NaN and nothing ranks them;
    ``last_val_acc`` holds where their curve stopped.
    """
    return runs[(runs["status"] == names.FINISHED) & _tag(runs, names.PRUNED_TAG).notna()]


def swept_params(runs: pd.DataFrame, ignore: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Params (without the ``params.`` prefix) that vary between runs of one model type.

    A param that only differs between model types (``model.hidden_size`` defaults of
    two heads) or only exists for one of them is not swept. ``ignore``, the model's
    class and the keys that are no hyperparameters
    (:data:`genreclf.tracking.names.NOT_HYPERPARAMS`) are left out.
    """
    skip = {MODEL_PARAM, *ignore}
    params = [c.removeprefix("params.") for c in runs.columns if c.startswith("params.")]
    swept = []
    for name in sorted(n for n in params if n not in skip and names.is_hyperparam(n)):
        distinct = runs.groupby("model")[f"params.{name}"].nunique(dropna=True)
        if (distinct > 1).any():
            swept.append(name)
    return swept


def param_values(values: pd.Series) -> pd.Series:
    """Param strings as numbers where they all parse as numbers, else unchanged."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers[values.notna()].notna().all():
        return numbers
    return values
