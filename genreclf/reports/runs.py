"""The runs of an experiment, read from MLflow into one pandas frame."""

from __future__ import annotations

import pandas as pd

#: Tag that marks a report run; reports leave such runs out of what they analyse.
REPORT_TAG = "genreclf.report"

#: Tag of a sweep's runs: ``job`` for training jobs; other roles (``parent``) are left out.
ROLE_TAG = "genreclf.sweep_role"

#: Tag holding the sweep id of a sweep's job runs.
SWEEP_ID_TAG = "genreclf.sweep_id"

#: Params that differ between jobs without being hyperparameters.
NOT_HYPERPARAMS: tuple[str, ...] = (
    "trainer.default_root_dir",
    "callbacks.model_checkpoint.dirpath",
    "tracking.run_name",
    "tracking.uri",
    "tracking.experiment",
    "model._target_",
)

#: Statuses whose runs are analysed; the others (FAILED, KILLED) are only counted.
LIVE_STATUSES: tuple[str, ...] = ("FINISHED", "RUNNING", "SCHEDULED")


def model_type(target: object) -> str:
    """Short model name from a ``model._target_`` param: ``genreclf.models.heads.DenseHead``
    gives ``DenseHead``; a missing target gives ``unknown``."""
    if not isinstance(target, str) or not target:
        return "unknown"
    return target.rsplit(".", 1)[-1]


def load_runs(uri: str, experiment: str, sweep_id: str | None = None) -> pd.DataFrame:
    """The training runs of ``experiment``, one row each.

    Report runs (tagged :data:`REPORT_TAG`) and a sweep's parent runs (tagged
    :data:`ROLE_TAG` other than ``job``) are left out, and so are deleted runs.

    Parameters
    ----------
    uri : str
        MLflow tracking URI.
    experiment : str
        Experiment name.
    sweep_id : str, optional
        Keep only the runs of this sweep (tag :data:`SWEEP_ID_TAG`).

    Returns
    -------
    pandas.DataFrame
        ``mlflow.search_runs`` columns (``run_id``, ``status``, ``start_time``,
        ``params.*``, ``metrics.*``, ``tags.*``) plus ``run_name``, ``model`` (see
        :func:`model_type`) and ``val_acc``, ``test_acc``, ``test_f1``. ``val_acc`` is
        ``best_val_acc`` (validation accuracy of the selected checkpoint) or, for runs
        that have not logged it yet, their latest ``val_acc``. Sorted by start time.

    Raises
    ------
    ValueError
        If the experiment does not exist.
    """
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
        raise ValueError(f"experiment={experiment}: no such experiment in {uri} (there: {names})")
    runs = mlflow.search_runs([found.experiment_id], output_format="pandas")
    if runs.empty:
        return runs.assign(run_name=[], model=[], val_acc=[], test_acc=[], test_f1=[])

    def tag(name: str) -> pd.Series:
        empty = pd.Series(None, index=runs.index, dtype=object)
        return runs.get(f"tags.{name}", empty).astype(object)

    keep = tag(REPORT_TAG).fillna("").astype(str).str.lower() != "true"
    keep &= tag(ROLE_TAG).fillna("job") == "job"
    if sweep_id is not None:
        keep &= tag(SWEEP_ID_TAG) == sweep_id
    runs = runs[keep].copy()

    def column(name: str) -> pd.Series:
        return runs.get(name, pd.Series(float("nan"), index=runs.index))

    runs["run_name"] = tag("mlflow.runName").fillna("")
    runs["model"] = column("params.model._target_").map(model_type)
    runs["val_acc"] = column("metrics.best_val_acc").fillna(column("metrics.val_acc"))
    runs["test_acc"] = column("metrics.test_acc")
    runs["test_f1"] = column("metrics.test_f1")
    return runs.sort_values("start_time", kind="stable").reset_index(drop=True)


def status_counts(runs: pd.DataFrame) -> pd.Series:
    """Number of runs per MLflow status (FINISHED, RUNNING, FAILED, KILLED, ...)."""
    return runs["status"].value_counts().rename("runs")


def live_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that are finished or still going: failed and killed runs left out."""
    return runs[runs["status"].isin(LIVE_STATUSES)]


def finished_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs with a validation accuracy: the ones plotted and compared."""
    return runs[(runs["status"] == "FINISHED") & runs["val_acc"].notna()]


def swept_params(runs: pd.DataFrame, ignore: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Params (without the ``params.`` prefix) that vary between runs of one model type.

    A param that only differs between model types (``model.hidden_size`` defaults of
    two heads) or only exists for one of them is not swept. ``ignore`` and
    :data:`NOT_HYPERPARAMS` are left out.
    """
    skip = set(NOT_HYPERPARAMS) | set(ignore)
    names = [c.removeprefix("params.") for c in runs.columns if c.startswith("params.")]
    swept = []
    for name in sorted(n for n in names if n not in skip):
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
