"""Every MLflow tag, metric and artifact name genreclf writes or reads, in one place."""

from __future__ import annotations

# ----------------------------------------------------------------------------- run tags
#: ``True`` on runs trained on the built-in synthetic data.
SYNTHETIC_TAG = "genreclf.synthetic_data"
#: The run's ``model=`` config choice (``dense``, ``linear``, ...): how reports name models.
MODEL_TAG = "genreclf.model"
#: A hash of the resolved config (see :mod:`genreclf.sweeps.hashing`): finds finished runs.
HASH_TAG = "genreclf.config_hash"
#: The sweep a job's run belongs to, its name, its job number and its role.
SWEEP_ID_TAG = "genreclf.sweep_id"
SWEEP_NAME_TAG = "genreclf.sweep_name"
JOB_NUM_TAG = "genreclf.job_num"
#: ``job`` for training jobs, ``parent`` for the run that stands for a whole sweep.
ROLE_TAG = "genreclf.sweep_role"
#: The command-line overrides of a sweep job.
OVERRIDES_TAG = "genreclf.job_overrides"
#: Tags of a sweep's parent run.
SWEEP_DIR_TAG = "genreclf.sweep_dir"
SWEEP_OVERRIDES_TAG = "genreclf.sweep_overrides"
SWEEPER_TAG = "genreclf.sweeper"
LAUNCHER_TAG = "genreclf.launcher"
BEST_RUN_TAG = "genreclf.best_run_id"
#: Every run of a shared epoch-budget fit: the id of the run whose job trained it.
TRAINED_IN_TAG = "genreclf.epoch_budgets_run"
#: Marks a report run; reports leave such runs out of what they analyse.
REPORT_TAG = "genreclf.report"
#: Set on a run that logged a genre model (the format version of its package).
MODEL_FORMAT_TAG = "genreclf.model_format"
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
#: Per-epoch curves.
CURVE_KEYS = ("train_loss", "val_loss", "train_acc", "val_acc")
VAL_ACC = "val_acc"
EPOCH = "epoch"
#: Metrics of ``refit=train_val`` start with this prefix.
REFIT_PREFIX = "refit_"

# ---------------------------------------------------------------------------- artifacts
#: The artifact folder of a run's genre model.
MODEL_ARTIFACT = "model"
CONFIG_ARTIFACT = "config.yaml"
REPORT_ARTIFACT = "classification_report.txt"
CONFUSION_ARTIFACT = "confusion_matrix.png"
CURVES_ARTIFACT = "curves.png"
SKIPPED_ARTIFACT = "skipped_files.csv"
TRACEBACK_ARTIFACT = "traceback.txt"
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
