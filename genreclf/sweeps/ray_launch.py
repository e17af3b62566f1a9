"""``hydra/launcher=ray``: Hydra's Ray launcher, jobs reported as they end, slots kept busy.

See :mod:`genreclf.sweeps.launcher` for what every genreclf launcher shares.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn

from genreclf.sweeps.feed import JobFeed, as_feed
from genreclf.sweeps.launcher import last_line, lost_job, start_launch
from genreclf.sweeps.progress import current_progress, run_keeping_line

log = logging.getLogger("genreclf.sweeps")

#: Ray's authentication mode (``token`` or ``disabled``); Ray warns on every start when
#: it is not set, so genreclf sets it (see :func:`ray_auth_mode`) unless you did.
RAY_AUTH_MODE_ENV = "RAY_AUTH_MODE"


def ray_auth_mode(address: str | None) -> str:
    """The authentication mode Ray would choose by itself, to be set explicitly.

    A local instance (``address`` None) uses token authentication; for a running
    cluster, Ray uses a token if one is available (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``), else none.
    """
    if address is None:
        return "token"
    token_file = Path.home() / ".ray" / "auth_token"
    given = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    return "token" if given or token_file.is_file() else "disabled"


def start_ray(launcher: Any) -> None:
    """Start or join Ray with ``hydra.launcher.ray.init``, unless this process has.

    Ray must not be imported before: it reads ``RAY_AUTH_MODE`` when first imported.
    """
    from omegaconf import OmegaConf

    init = OmegaConf.to_container(launcher.ray_cfg.init, resolve=True) or {}
    os.environ.setdefault(RAY_AUTH_MODE_ENV, ray_auth_mode(init.get("address")))
    if init.get("address") is None:  # a local instance
        # Hydra's default: enough object store memory on small machines (Ray issue 11966);
        # not when joining a cluster, where ray.init refuses it
        init.setdefault("object_store_memory", 78643200)
    import ray

    if not ray.is_initialized():
        ray.init(**init)


def launch_on_ray(
    launcher: Any, job_overrides: Sequence[Sequence[str]] | JobFeed, initial_job_idx: int
) -> list[JobReturn]:
    """Hydra's Ray launcher (``launcher``: a ``RayLauncher``), reporting jobs as they end.

    Starts or joins Ray (:func:`start_ray`; ``conf/hydra/launcher/ray.yaml`` turns off
    Ray's copy of worker output, its dashboard and its INFO lines), and runs the jobs in
    tasks of ``hydra.launcher.jobs_per_task`` jobs, with ``hydra.launcher.ray.remote``.
    A list of jobs is submitted at once (Ray queues the tasks); a study's jobs are taken
    as tasks end, as many tasks running as the cluster has room for. A task whose Ray
    worker died costs its jobs, which are FAILED runs (:func:`lost_job`).
    """
    from omegaconf import OmegaConf

    start_launch(launcher.config, launcher.hydra_context)
    start_ray(launcher)  # sets RAY_AUTH_MODE, which Ray reads when first imported
    import ray

    options = OmegaConf.to_container(launcher.ray_cfg.remote, resolve=True) or {}
    remote = ray.remote(**options)(run_tasks) if options else ray.remote(run_tasks)
    feed = as_feed(job_overrides, initial_job_idx)
    per_task = max(1, int(getattr(launcher, "jobs_per_task", 1) or 1))
    room = int(ray.cluster_resources().get("CPU", 1) // float(options.get("num_cpus") or 1))
    slots = len(feed) if feed.eager else max(1, room)
    log.info("launching %d jobs on Ray, %d per task", len(feed), per_task)
    progress = current_progress(len(feed))
    pending: dict[Any, list[tuple[int, list[str]]]] = {}
    results: dict[int, JobReturn] = {}

    def submit() -> bool:
        jobs = feed.take_many(per_task)
        if jobs:
            configs = [_job_config(launcher, idx, overrides) for idx, overrides in jobs]
            pending[remote.remote(launcher.hydra_context, configs, *_task_args(launcher))] = jobs
        return bool(jobs)

    while len(pending) < slots and submit():
        pass
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            jobs = pending.pop(ref)
            for (idx, overrides), result in zip(
                jobs, _task_results(launcher, ref, jobs), strict=True
            ):
                results[idx] = result
                progress.report(idx, result, overrides)
            submit()
    return [results[i] for i in sorted(results)]


def _job_config(launcher: Any, idx: int, overrides: list[str]) -> Any:
    """The composed config of job ``idx``, numbered as Hydra's Ray launcher numbers it."""
    from omegaconf import open_dict

    loader = launcher.hydra_context.config_loader
    sweep_config = loader.load_sweep_config(launcher.config, overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"job_id_for_{idx}"
        sweep_config.hydra.job.num = idx
    return sweep_config


def _task_args(launcher: Any) -> tuple[Any, Any]:
    from hydra.core.singleton import Singleton

    return launcher.task_function, Singleton.get_state()


def _task_results(launcher: Any, ref: Any, jobs: list[tuple[int, list[str]]]) -> list[JobReturn]:
    """The ``JobReturn`` of each job of a task that ended (lost jobs if its worker died)."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker died, or Ray failed
        why = f"its Ray worker failed ({type(exc).__name__}: {last_line(exc)})"
        return [lost_job(launcher.config, idx, job, why) for idx, job in jobs]


def run_tasks(context: Any, configs: list[Any], task_function: Any, state: Any) -> list[JobReturn]:
    """One task in a Ray worker: its jobs one after another, in this one process."""
    return [run_on_ray(context, config, task_function, state) for config in configs]


def run_on_ray(*args: Any, **kwargs: Any) -> JobReturn:
    """One job in a Ray worker: Hydra's ``_run_job``, quiet, its line kept for the launcher."""
    import ray
    from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job

    from genreclf.core.console import quiet_console
    from genreclf.sweeps.runs import RAY_NODE_ENV

    sweep_config = args[1]
    quiet_console(sweep_config.hydra.verbose)
    os.environ[RAY_NODE_ENV] = ray.get_runtime_context().get_node_id()  # the run's tag
    return run_keeping_line(_run_job, *args, **kwargs)
