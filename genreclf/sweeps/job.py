"""One job of a sweep: skip it if already finished, else train it inside its own run."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from genreclf.sweeps.hashing import HASH_TAG, config_hash

log = logging.getLogger("genreclf.sweeps")

#: Environment variables that :class:`genreclf.sweeps.callbacks.SweepTracking` sets in
#: every job (through ``hydra.job.env_set``).
SWEEP_ID_ENV = "GENRECLF_SWEEP_ID"
PARENT_RUN_ENV = "GENRECLF_SWEEP_PARENT_RUN"

#: File each job writes in its output folder: job number, model, status, run id, runs
#: logged, seconds in all, seconds spent in the tracking store, and seconds waited for a
#: sibling's shared fit (read by benchmarks/sweep_throughput.py).
TIMING_FILE = "sweep_job.json"

_JOBS_IN_PROCESS = 0

#: Run tags of sweep jobs.
SWEEP_ID_TAG = "genreclf.sweep_id"
SWEEP_NAME_TAG = "genreclf.sweep_name"
JOB_NUM_TAG = "genreclf.job_num"
ROLE_TAG = "genreclf.sweep_role"

#: Launchers whose jobs share the machine's cores with other jobs.
PARALLEL_LAUNCHERS = ("joblib", "ray_launcher", "ray_aws", "submitit", "rq_launcher")


def is_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_threads(launcher: DictConfig | dict) -> int | None:
    """Torch threads for one job under ``launcher`` (its Hydra config); ``None``: leave as is.

    Jobs of parallel launchers get one thread each (or the ``cpus_per_task`` SLURM gives
    them), so that ``n_jobs`` jobs do not fight over the cores.
    """
    target = str(launcher.get("_target_", "")).lower()
    if not any(name in target for name in PARALLEL_LAUNCHERS):
        return None
    return int(launcher.get("cpus_per_task") or 1)


def finished_run(
    tracking: DictConfig, digest: str, statuses: tuple[str, ...] = ("FINISHED",)
) -> Any | None:
    """A run of the experiment with config hash ``digest`` and a status in ``statuses``."""
    from mlflow import MlflowClient

    from genreclf.tracking.run import experiment_id
    from genreclf.tracking.store import with_retry

    client = MlflowClient(tracking_uri=tracking.uri)
    experiment = experiment_id(tracking.uri, tracking.experiment)
    query = f"tags.`{HASH_TAG}` = '{digest}'"
    if len(statuses) == 1:  # the store filters; MLflow cannot test status against a list
        query += f" and attributes.status = '{statuses[0]}'"
    runs = with_retry(lambda: client.search_runs([experiment], query, max_results=100))
    runs = [run for run in runs if run.info.status in statuses]
    return runs[0] if runs else None


def _claim(tracking: DictConfig, run: Any) -> None:
    """Tag ``run`` with this job's number if another job of this sweep logged it for us.

    Jobs that share epoch budgets (:mod:`genreclf.sweeps.budgets`) log their siblings'
    runs; a sibling job that then finds its run adds its job number to it.
    """
    from hydra.core.hydra_config import HydraConfig
    from mlflow import MlflowClient

    from genreclf.tracking.store import with_retry

    tags = run.data.tags
    sweep_id = os.environ.get(SWEEP_ID_ENV)
    if JOB_NUM_TAG in tags or not sweep_id or tags.get(SWEEP_ID_TAG) != sweep_id:
        return
    client = MlflowClient(tracking_uri=tracking.uri)
    job_num = str(HydraConfig.get().job.num)
    with_retry(lambda: client.set_tag(run.info.run_id, JOB_NUM_TAG, job_num))


def sweep_tags(cfg: DictConfig, digest: str) -> dict[str, str]:
    """Tags of a sweep job's run: sweep id and name, job number, config hash, parent run."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    tags = {
        HASH_TAG: digest,
        JOB_NUM_TAG: str(hydra.job.num),
        ROLE_TAG: "job",
        "genreclf.job_overrides": " ".join(hydra.overrides.task)[:5000],
    }
    sweep = cfg.get("sweep") or {}
    if sweep.get("name"):
        tags[SWEEP_NAME_TAG] = str(sweep.name)
    if os.environ.get(SWEEP_ID_ENV):
        tags[SWEEP_ID_TAG] = os.environ[SWEEP_ID_ENV]
    if os.environ.get(PARENT_RUN_ENV):
        tags["mlflow.parentRunId"] = os.environ[PARENT_RUN_ENV]
    return tags


def sweep_job(cfg: DictConfig, train: Callable[[DictConfig], dict[str, Any]]) -> float:
    """Run ``train(cfg)`` as one job of a multirun; return the value sweepers optimize.

    - The job's torch threads follow :func:`job_threads`.
    - With ``sweep.resume`` (default true), a config whose hash already has a FINISHED
      run in the experiment is skipped: no run is created, and that run's
      ``best_val_acc`` is returned. With shared epoch budgets
      (:mod:`genreclf.sweeps.budgets`), a job first waits for a sibling's fit that is
      running, since that fit logs this job's run.
    - Otherwise the job's MLflow run is opened here, tagged by :func:`sweep_tags` and
      given the resolved params, before ``train`` runs (``train`` joins it), so that any
      failure, even a config check, ends as a FAILED run with its traceback. The error is
      logged and NaN is returned, so that the sweep carries on (Optuna records the trial
      as failed). Ctrl-C still stops the sweep, and ends the run as KILLED.
    """
    from hydra.core.hydra_config import HydraConfig

    global _JOBS_IN_PROCESS
    hydra = HydraConfig.get()
    start = time.perf_counter()
    timing: dict[str, Any] = {
        "job_num": hydra.job.num,
        "model": hydra.runtime.choices.get("model"),
        "pid": os.getpid(),
        "first_in_process": _JOBS_IN_PROCESS == 0,  # pays the imports and store set-up
    }
    _JOBS_IN_PROCESS += 1
    digest = config_hash(cfg)
    sweep = cfg.get("sweep") or {}
    if sweep.get("resume", True):
        from genreclf.sweeps.budgets import epoch_budgets, wait_for_shared_fit

        budgets = epoch_budgets(cfg)
        if budgets:
            waited = time.perf_counter()
            wait_for_shared_fit(cfg, budgets)
            timing["waited_seconds"] = time.perf_counter() - waited
        done = finished_run(cfg.tracking, digest)
        if done is not None:
            _claim(cfg.tracking, done)
            log.info(
                "job %s: config %s already FINISHED as run %s; skipped",
                hydra.job.num,
                digest,
                done.info.run_id,
            )
            seconds = time.perf_counter() - start
            store = seconds - timing.get("waited_seconds", 0.0)
            _write_timing(
                timing | {"status": "SKIPPED", "seconds": seconds, "mlflow_seconds": store}
            )
            return float(done.data.metrics.get("best_val_acc", math.nan))
    lookup_seconds = time.perf_counter() - start - timing.get("waited_seconds", 0.0)
    threads = job_threads(hydra.launcher)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no per-job banners

    from genreclf.tracking.run import tracked_run
    from genreclf.tracking.store import flatten_params

    status, value, logger = "KILLED", math.nan, None
    try:
        with tracked_run(cfg.tracking, sweep_tags(cfg, digest)) as logger:
            logger.log_hyperparams(flatten_params(OmegaConf.to_container(cfg, resolve=True)))
            result = train(cfg)
            value = float(result["val_acc"])
            timing["runs_logged"] = 1 + len(result.get("budget_runs", []))
        status = "FINISHED"
    except Exception:
        status = "FAILED"
        log.exception("job %s failed; its run is FAILED, the sweep goes on", hydra.job.num)
    finally:
        _write_timing(
            timing
            | {
                "status": status,
                "run_id": None if logger is None else logger.run_id,
                "seconds": time.perf_counter() - start,
                "mlflow_seconds": lookup_seconds + getattr(logger, "store_seconds", 0.0),
            }
        )
    return value


def _write_timing(record: dict[str, Any]) -> None:
    """Write ``record`` as ``sweep_job.json`` in the job's output folder."""
    from hydra.core.hydra_config import HydraConfig

    folder = Path(HydraConfig.get().runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TIMING_FILE).write_text(json.dumps(record))
