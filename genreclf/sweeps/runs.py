"""The MLflow runs of a sweep's jobs: their tags, finding a config's finished run, and
logging a config whose equivalent already trained (same effective config hash)."""

from __future__ import annotations

import os
import time
from typing import Any

from omegaconf import DictConfig

from genreclf.sweeps.hashing import config_hash, exact_hash
from genreclf.tracking import names
from genreclf.tracking.run import store_for

#: Environment variables that :class:`genreclf.sweeps.callbacks.SweepTracking` sets in
#: every job (through ``hydra.job.env_set``).
SWEEP_ID_ENV = "GENRECLF_SWEEP_ID"
PARENT_RUN_ENV = "GENRECLF_SWEEP_PARENT_RUN"
#: ``<host>:<pid>`` of the process that launched the sweep (see ``watch_launcher``).
LAUNCHER_ENV = "GENRECLF_SWEEP_LAUNCHER"
#: The Ray node a job runs on (set by :func:`genreclf.sweeps.ray_launch.run_on_ray`).
RAY_NODE_ENV = "GENRECLF_RAY_NODE"


def finished_run(
    tracking: DictConfig, digest: str, statuses: tuple[str, ...] = (names.FINISHED,)
) -> Any | None:
    """A run of the experiment with config hash ``digest`` and a status in ``statuses``."""
    store = store_for(tracking)
    experiment = store.experiment_id(tracking.experiment)
    runs = store.find_runs(
        experiment, tags={names.HASH_TAG: digest}, statuses=statuses, max_results=100
    )
    return runs[0] if runs else None


def own_hash(run: Any) -> str | None:
    """A run's :data:`~genreclf.tracking.names.EXACT_HASH_TAG` (runs logged before that
    tag: their config hash, which then had every parameter)."""
    tags = run.data.tags
    return tags.get(names.EXACT_HASH_TAG) or tags.get(names.HASH_TAG)


def finished_runs(cfg: DictConfig, digest: str) -> tuple[Any | None, Any | None]:
    """This config's own FINISHED run, and else a FINISHED run of an equivalent config.

    Both have config hash ``digest`` (the effective config, see
    :mod:`genreclf.sweeps.hashing`); the own run also has this config's exact hash. A
    pruned run counts only for a pruned sweep (``sweep.pruner``): a sweep without a
    pruner trains its config to the end. The
    equivalent run returned is one that trained itself, if the store holds it.
    """
    store = store_for(cfg.tracking)
    experiment = store.experiment_id(cfg.tracking.experiment)
    runs = store.find_runs(
        experiment, tags={names.HASH_TAG: digest}, statuses=(names.FINISHED,), max_results=100
    )
    if str((cfg.get("sweep") or {}).get("pruner", "none")) == "none":  # trains what was pruned
        runs = [run for run in runs if names.PRUNED_TAG not in run.data.tags]
    exact = exact_hash(cfg)
    own = next((run for run in runs if own_hash(run) == exact), None)
    if own is not None or not runs:
        return own, None
    trained = [run for run in runs if names.TRAINED_BY_TAG not in run.data.tags]
    return None, (trained or runs)[0]


def trained_by(run: Any) -> str:
    """The id of the run that trained ``run``'s model (its own id if it trained itself)."""
    return run.data.tags.get(names.TRAINED_BY_TAG) or run.info.run_id


#: Tags of a trained run that a run of an equivalent config takes over.
COPIED_TAGS = (
    names.SYNTHETIC_TAG,
    names.DATASET_TAG,
    names.HIT_MAX_EPOCHS_TAG,
    names.ROLE_TAG,
    names.PRUNED_TAG,
)


def log_equivalent_run(cfg: DictConfig, digest: str, source: Any, name: str | None) -> str:
    """Log this job's run from ``source``, the run of an equivalent config; return its id.

    The run gets this job's own params and tags (its exact hash, model name), the
    metrics and data set inputs of ``source``, and
    :data:`~genreclf.tracking.names.TRAINED_BY_TAG`: the run that trained the model.
    Nothing is trained.
    """
    from mlflow.entities import Metric
    from omegaconf import OmegaConf

    from genreclf.tracking.run import config_params

    store = store_for(cfg.tracking)
    experiment = store.experiment_id(cfg.tracking.experiment)
    copied = {k: v for k, v in source.data.tags.items() if k in COPIED_TAGS}
    tags = copied | sweep_tags(cfg, digest) | {names.TRAINED_BY_TAG: trained_by(source)}
    if names.ROLE_TAG in copied:  # a configuration run stays one
        tags[names.ROLE_TAG] = copied[names.ROLE_TAG]
    params = config_params(OmegaConf.to_container(cfg, resolve=True))
    stamp = int(source.info.end_time or source.info.start_time or 0)
    metrics = [Metric(k, v, stamp, 0) for k, v in source.data.metrics.items()]
    run_id = store.create_run(experiment, name, tags)
    store.log_batch(run_id, params, metrics)
    inputs = list(getattr(source.inputs, "dataset_inputs", None) or [])
    if inputs:
        store.log_inputs(run_id, inputs)
    store.end_run(run_id, names.FINISHED)
    return run_id


def live_claims(tracking: DictConfig, digest: str) -> list:
    """RUNNING runs of config hash ``digest`` whose process is alive.

    Ghosts among them (see :mod:`genreclf.tracking.liveness`) are ended KILLED here, so
    their config is trained again.
    """
    from genreclf.tracking.liveness import reap_ghosts

    store = store_for(tracking)
    experiment = store.experiment_id(tracking.experiment)
    running = store.find_runs(experiment, tags={names.HASH_TAG: digest}, statuses=(names.RUNNING,))
    reaped = set(reap_ghosts(store, experiment, running))
    return [run for run in running if run.info.run_id not in reaped]


def rival_claim(
    tracking: DictConfig, digest: str, run_id: str, *, wait_s: float = 30.0
) -> Any | None:
    """The run that holds config ``digest`` instead of the just-opened run ``run_id``.

    A job claims its config by opening its RUNNING run, then stamping it with the time
    read after the run was stored (:data:`~genreclf.tracking.names.CLAIM_TAG`), then
    looking: a FINISHED run of the same hash, or a live RUNNING one that claimed it
    earlier (ties: the smaller run id), wins, and the job gives way. A rival seen without
    its stamp yet is waited for (up to ``wait_s`` seconds, then its start time stands in).

    Why the stamp, not the run's start time: MLflow's client sets the start time before
    the store takes the run, so a run with the earlier start time may be stored after a
    rival has looked, and both would go on. A stamp is read after the run is stored: a
    job that stamps earlier is visible to any job that stamps later and then looks, so of
    any number of jobs racing for one config exactly one goes on.
    """
    store = store_for(tracking)
    store.set_tag(run_id, names.CLAIM_TAG, str(time.time_ns()))
    experiment = store.experiment_id(tracking.experiment)
    deadline = time.monotonic() + wait_s
    while True:
        runs = store.find_runs(
            experiment, tags={names.HASH_TAG: digest}, statuses=(names.FINISHED, names.RUNNING)
        )
        rivals = _live_rivals(runs, run_id)
        finished = [r for r in rivals if r.info.status == names.FINISHED]
        if finished:
            return finished[0]
        if all(names.CLAIM_TAG in r.data.tags for r in rivals) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    own = next((r for r in runs if r.info.run_id == run_id), None) or store.get_run(run_id)
    mine = _claim_order(own)
    return next((r for r in rivals if _claim_order(r) < mine), None)


def _live_rivals(runs: list, run_id: str) -> list:
    """The runs other than ``run_id`` that are FINISHED, or RUNNING with their process."""
    from genreclf.tracking.liveness import is_ghost

    return [r for r in runs if r.info.run_id != run_id and not is_ghost(r)]


def _claim_order(run: Any) -> tuple[int, str]:
    """When a run claimed its config (its stamp, else its start time), then its id."""
    stamp = run.data.tags.get(names.CLAIM_TAG, "")
    when = int(stamp) if stamp.isdigit() else int(run.info.start_time) * 1_000_000
    return when, run.info.run_id


def adopt(tracking: DictConfig, run: Any) -> None:
    """Tag ``run`` with this job's number if another job of this sweep logged it for us.

    Jobs that share epoch budgets (:mod:`genreclf.sweeps.budgets`) log their siblings'
    runs; a sibling job that then finds its run adds its job number to it.
    """
    from hydra.core.hydra_config import HydraConfig

    tags = run.data.tags
    sweep_id = os.environ.get(SWEEP_ID_ENV)
    if names.JOB_NUM_TAG in tags or not sweep_id or tags.get(names.SWEEP_ID_TAG) != sweep_id:
        return
    job_num = str(HydraConfig.get().job.num)
    store_for(tracking).set_tag(run.info.run_id, names.JOB_NUM_TAG, job_num)


def sweep_tags(cfg: DictConfig, digest: str | None = None) -> dict[str, str]:
    """Tags of a sweep job's run: sweep id and name, job number, config hashes (effective
    and exact), model as built, parent run, and on Ray the node it ran on."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    from genreclf.models.build import model_choice

    tags = {
        names.HASH_TAG: digest or config_hash(cfg),
        names.EXACT_HASH_TAG: exact_hash(cfg),
        names.MODEL_TAG: model_choice(cfg),
        names.JOB_NUM_TAG: str(hydra.job.num),
        names.ROLE_TAG: "job",
        names.OVERRIDES_TAG: " ".join(hydra.overrides.task)[:5000],
    }
    sweep = cfg.get("sweep") or {}
    if sweep.get("name"):
        tags[names.SWEEP_NAME_TAG] = str(sweep.name)
    if os.environ.get(SWEEP_ID_ENV):
        tags[names.SWEEP_ID_TAG] = os.environ[SWEEP_ID_ENV]
    if os.environ.get(PARENT_RUN_ENV):
        tags[names.PARENT_RUN_TAG] = os.environ[PARENT_RUN_ENV]
    if os.environ.get(RAY_NODE_ENV):
        tags[names.RAY_NODE_TAG] = os.environ[RAY_NODE_ENV]
    if slurm_job := slurm_job_id():
        tags[names.SLURM_JOB_TAG] = slurm_job
    return tags


def slurm_job_id() -> str | None:
    """The SLURM job this process runs in, ``<array job>_<task>`` for a job array's task."""
    array_job, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return os.environ.get("SLURM_JOB_ID")
