"""Every MLflow tag, metric and artifact name genreclf writes or reads, in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from genreclf.core.errors import one_line

# ----------------------------------------------------------------------------- run tags
#: ``True`` on runs trained on the built-in synthetic data.
SYNTHETIC_TAG = "genreclf.synthetic_data"
#: The run's model as built (``dense``, ``linear`` for a dense head with no hidden layer,
#: ``cnn``, ...; see :mod:`genreclf.models.effective`): how reports name models.
MODEL_TAG = "genreclf.model"
#: The run's feature set as reports name it (``musicnn``; a fusion with its parts:
#: ``fusion: musicnn + musicnn(model=MSD_vgg)``); runs on a feature table have none.
FEATURES_TAG = "genreclf.features"
#: A hash of the effective config (see :mod:`genreclf.sweeps.hashing`): finds finished runs.
HASH_TAG = "genreclf.config_hash"
#: A hash of the config with every parameter, even those the model ignores: tells a
#: config's own run from a run of an equivalent config (same :data:`HASH_TAG`).
EXACT_HASH_TAG = "genreclf.exact_config_hash"
#: The sweep a job's run belongs to, its name, its job number and its role.
SWEEP_ID_TAG = "genreclf.sweep_id"
SWEEP_NAME_TAG = "genreclf.sweep_name"
JOB_NUM_TAG = "genreclf.job_num"
#: ``job`` for training jobs, ``parent`` for the run that stands for a whole sweep,
#: ``config`` for a configuration run (several folds or seeds, see :mod:`genreclf.protocol`)
#: and ``member`` for each of its fold-and-seed child runs.
ROLE_TAG = "genreclf.sweep_role"
JOB_ROLE, PARENT_ROLE, CONFIG_ROLE, MEMBER_ROLE = "job", "parent", "config", "member"
#: Roles of the runs that are ranked and compared: one per configuration.
RANKED_ROLES: tuple[str, ...] = (JOB_ROLE, CONFIG_ROLE)
#: The test fold and the seed of a configuration run's child.
FOLD_TAG = "genreclf.fold"
SEED_TAG = "genreclf.seed"
#: The command-line overrides of a sweep job.
OVERRIDES_TAG = "genreclf.job_overrides"
#: Tags of a sweep's parent run.
SWEEP_DIR_TAG = "genreclf.sweep_dir"
SWEEP_OVERRIDES_TAG = "genreclf.sweep_overrides"
SWEEPER_TAG = "genreclf.sweeper"
LAUNCHER_TAG = "genreclf.launcher"
BEST_RUN_TAG = "genreclf.best_run_id"
#: A run logged without training of its own: the id of the run that trained its model (an
#: equivalent config's run, see :mod:`genreclf.sweeps.job`, or the one fit of shared epoch
#: budgets, see :mod:`genreclf.sweeps.budgets`). The run that trained has no such tag.
TRAINED_BY_TAG = "genreclf.trained_by"
#: Marks a report run; reports leave such runs out of what they analyse.
REPORT_TAG = "genreclf.report"
#: Set on a run that logged a genre model (the format version of its package).
MODEL_FORMAT_TAG = "genreclf.model_format"
#: ``true`` on a run whose training ran to ``trainer.max_epochs`` without early stopping
#: ending it: its selected checkpoint may still have been improving.
HIT_MAX_EPOCHS_TAG = "genreclf.hit_max_epochs"
#: The run's data set: its MLflow Dataset name and digest (``<name>@<digest>``); the
#: Dataset itself is the run's input (see :mod:`genreclf.tracking.datasets`).
DATASET_TAG = "genreclf.dataset"
#: The process holding a RUNNING run open: host, PID, last heartbeat (seconds since the
#: epoch), and when a run found without its process was ended KILLED.
HOST_TAG = "genreclf.host"
PID_TAG = "genreclf.pid"
HEARTBEAT_TAG = "genreclf.heartbeat"
REAPED_TAG = "genreclf.reaped"
#: Why a run FAILED when it could not say so itself (its worker process died).
FAILURE_TAG = "genreclf.failure"
#: Why a run ended KILLED: the stop signal (SIGTERM, SIGUSR1) or SIGINT (Ctrl-C).
STOP_TAG = "genreclf.stopped_by"
#: A sweep job that its pruner stopped (``sweep.pruner``): the number of epochs it
#: trained. Such a run ends FINISHED with its curves up to that epoch, and no selection
#: metric or test score, so that no ranking (``best_run``) ever chooses it.
PRUNED_TAG = "genreclf.pruned_at_epoch"
#: The Ray node a sweep job ran on (``hydra/launcher=ray``), Ray's node id.
RAY_NODE_TAG = "genreclf.ray_node"
#: When a sweep job claimed its config: this host's clock (ns) read after the job's
#: RUNNING run was stored, so that a rival job that looks later sees the run first.
CLAIM_TAG = "genreclf.claimed_at_ns"
#: The SLURM job a sweep job ran in (``hydra/launcher=submitit_slurm``): the array job's
#: id and the task's, ``<array job>_<task>``, as ``squeue``, ``scancel`` and ``sacct`` name it.
SLURM_JOB_TAG = "genreclf.slurm_job"
#: The number of the Optuna trial a pruned sweep's job ran as (``sweep.pruner``).
TRIAL_TAG = "genreclf.trial"
#: The SHA-256 of the random token a job wrote into its run's spool header when it
#: created the run: ``sync`` writes into a run only from a spool holding that token.
SPOOL_TOKEN_TAG = "genreclf.spool_token_sha256"
#: MLflow's own tags.
PARENT_RUN_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"

# ------------------------------------------------------------------------------ metrics
#: Validation accuracy of the selected checkpoint: what sweeps maximize and ``best:`` picks.
BEST_VAL_ACC = "best_val_acc"
#: Validation loss of the selected checkpoint: breaks ties of ``best_val_acc`` (lower wins;
#: see :mod:`genreclf.tracking.selection`).
BEST_VAL_LOSS = "best_val_loss"
TEST_ACC = "test_acc"
TEST_F1 = "test_f1"
#: Test accuracy of a sweep's best run (on the parent run).
BEST_RUN_TEST_ACC = "best_run_test_acc"
#: Tracks of each part of the split (``n_tracks_train``, ...), read by the report's
#: provenance block.
TRACK_COUNT_METRICS: dict[str, str] = {
    part: f"n_tracks_{part}" for part in ("train", "val", "test")
}
#: Per-epoch curves.
CURVE_KEYS = ("train_loss", "val_loss", "train_acc", "val_acc")
VAL_ACC = "val_acc"
EPOCH = "epoch"
#: A configuration run's summary of its children (see :mod:`genreclf.protocol`): mean and
#: standard deviation of validation and test accuracy, mean macro-F1, and a 95% bootstrap
#: interval of the accuracy of the pooled test predictions. Its ``best_val_acc`` is
#: ``val_acc_mean``, so it is ranked by its mean.
VAL_ACC_MEAN, VAL_ACC_STD = "val_acc_mean", "val_acc_std"
TEST_ACC_MEAN, TEST_ACC_STD, TEST_F1_MEAN = "test_acc_mean", "test_acc_std", "test_f1_mean"
TEST_ACC_CI_LOW, TEST_ACC_CI_HIGH = "test_acc_ci_low", "test_acc_ci_high"
#: Metrics of ``refit=train_val`` start with this prefix.
REFIT_PREFIX = "refit_"

# ---------------------------------------------------------------------------- artifacts
#: The name of a run's genre model: an MLflow 3 logged model (``runs:/<id>/model``;
#: older runs hold it as an artifact folder of that name).
MODEL_ARTIFACT = "model"
#: Config params that name a data set's file or folder: logged as absolute paths.
DATA_PATH_PARAMS: tuple[str, ...] = ("data.root", "data.path")
#: Hydra's own keys of a config node, never logged as params.
HYDRA_KEYS: tuple[str, ...] = ("_target_", "_partial_", "_recursive_", "_convert_")
CONFIG_ARTIFACT = "config.yaml"
REPORT_ARTIFACT = "classification_report.txt"
CONFUSION_ARTIFACT = "confusion_matrix.png"
CURVES_ARTIFACT = "curves.png"
SKIPPED_ARTIFACT = "skipped_files.csv"
TRACEBACK_ARTIFACT = "traceback.txt"
#: A configuration run's pooled test predictions: track, fold, seed, true genre, and one
#: probability column per genre.
PREDICTIONS_ARTIFACT = "predictions.parquet"
SWEEPER_PARAMS_ARTIFACT = "sweeper_params.yaml"

# ------------------------------------------------------------------------------ statuses
FINISHED, FAILED, KILLED, RUNNING = "FINISHED", "FAILED", "KILLED", "RUNNING"
#: Statuses whose runs reports analyse; the others (FAILED, KILLED) are only counted.
LIVE_STATUSES: tuple[str, ...] = (FINISHED, RUNNING, "SCHEDULED")

# ------------------------------------------------------------------ non-hyperparameters
#: Dotted config keys that are not hyperparameters: where things are written or tracked,
#: how fast features are extracted, and a sweep's own bookkeeping. None of them changes
#: what a run computes, so they are left out of the config hash, and reports never treat
#: them as swept params. A ``*`` matches any one key; a key matches everything below it.
NOT_HYPERPARAMS: tuple[str, ...] = (
    "hydra",
    "from_run",
    "sweep",
    "tracking",
    "registry",
    "paths",
    "trainer.default_root_dir",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "callbacks.*.dirpath",
    "callbacks.*.filename",
    "extraction.cache_dir",
    "extraction.n_jobs",
    "extraction.backend",
    "extraction.batch_size",
    "extraction.progress",
)


def is_hyperparam(key: str, excluded: tuple[str, ...] = NOT_HYPERPARAMS) -> bool:
    """Whether the dotted config key ``key`` is a hyperparameter (not in ``excluded``).

    A pattern matches the key itself and every key below it (``tracking`` matches
    ``tracking.uri``); ``*`` stands for one key.
    """
    parts = key.split(".")
    for pattern in excluded:
        want = pattern.split(".")
        if len(want) <= len(parts) and all(
            w in ("*", p) for w, p in zip(want, parts[: len(want)], strict=True)
        ):
            return False
    return True


# -------------------------------------------------------------------------- run names
#: Short forms of config keys in run names (else a key's last part is used).
NAME_KEYS: dict[str, str] = {
    "lr": "lr",
    "hidden_size": "h",
    "num_layers": "l",
    "max_epochs": "ep",
    "weight_decay": "wd",
    "batch_size": "bs",
    "dropout": "do",
}
#: Config groups whose choice always starts a run name, in this order.
NAME_GROUPS: tuple[str, ...] = ("model", "features")
#: Longest run name before its hash (MLflow shows about this much in a column).
NAME_WIDTH = 60
#: Longest run name MLflow keeps (its own limit on ``mlflow.runName``).
MAX_RUN_NAME = 250


def fit_run_name(name: str | None) -> str | None:
    """``name`` as a run is named: control characters as escapes, cut to :data:`MAX_RUN_NAME`.

    Parameters
    ----------
    name : str, optional
        A run name from an option, a sweep or a spool file; ``None`` lets MLflow name it.

    Returns
    -------
    str or None
        At most :data:`MAX_RUN_NAME` characters (``...`` at the end where it was cut).
    """
    if name is None:
        return None
    return one_line(str(name), limit=MAX_RUN_NAME - 3)


def _name_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "", text)


def _mapping_values(value: str) -> str:
    """An override of mappings as their values: ``[{name:musicnn},{name:musicnn,model:MSD_vgg}]``
    gives ``musicnn+musicnn.MSD_vgg`` (each mapping's values joined by ``.``, mappings by ``+``)."""
    items = re.split(r"\}\s*,\s*\{", value.strip("[]{} "))
    return "+".join(".".join(v.rsplit(":", 1)[-1] for v in item.split(",")) for item in items)


def run_name(
    choices: Mapping[str, str | None], overrides: Sequence[str], digest: str | None
) -> str:
    """A run's name: config choices, the values set on the command line, a short hash.

    ``linear-musicnn-lr1e-4-h64-3f2a9c``: the ``model`` and ``features`` choices, then
    each override of a hyperparameter (group choices by value, ``optimizer.lr=1e-4`` as
    ``lr1e-4``; paths and non-hyperparameters left out), then the first 6 digits of the
    config hash (:mod:`genreclf.sweeps.hashing`). Runs of one sweep differ in config,
    hence in hash, so their names never collide.

    Parameters
    ----------
    choices : mapping
        Hydra's ``runtime.choices`` (group to option).
    overrides : sequence of str
        The job's ``key=value`` overrides (``hydra.overrides.task``).
    digest : str, optional
        The config hash.
    """
    parts = [str(choices[g]) for g in NAME_GROUPS if choices.get(g)]
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        if not sep or key in NAME_GROUPS or key in DATA_PATH_PARAMS or not is_hyperparam(key):
            continue
        if "/" in value or not value:
            continue
        if key in choices:  # a group choice: optimizer=sgd -> sgd
            parts.append(value)
        elif ":" in value:  # mappings: their values (features.parts -> musicnn+musicnn.MSD_vgg)
            parts.append(_mapping_values(value))
        else:  # seed=3 -> seed3, optimizer.lr=1e-4 -> lr1e-4
            last = key.rsplit(".", 1)[-1]
            parts.append(f"{NAME_KEYS.get(last, last)}{value}")
    name = "-".join(p for p in map(_name_part, parts) if p)[:NAME_WIDTH].rstrip("-")
    tail = (digest or "")[:6]
    return "-".join(p for p in (name, tail) if p) or "run"
