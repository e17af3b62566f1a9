"""genreclf's Hydra launchers: joblib, Ray and submitit, with one console for all.

Every launcher here runs each job in a worker through
:func:`genreclf.sweeps.progress.run_keeping_line`, so that the workers print nothing of
their own: the launching process prints, as each job ends, the job's line and the
sweep's count, ETA and best so far (:meth:`~genreclf.sweeps.progress.SweepProgress.report`).

- ``hydra/launcher=joblib``: :class:`ResilientJoblibLauncher` (below).
- ``hydra/launcher=ray``: :func:`launch_on_ray`, Hydra's Ray launcher that waits for
  jobs in the order they end (Hydra's waits in job order), with Ray's own console output
  off (``conf/hydra/launcher/ray.yaml``).
- ``hydra/launcher=submitit_local`` and ``submitit_slurm``: :class:`ReportingSubmitit`,
  Hydra's submitit launchers that wait for jobs in the order they end.

A job whose worker dies (a killed process, a crashed Ray worker) costs only its own job:
its MLflow run ends FAILED with the reason (:func:`lost_job`), and the sweep goes on.

Joblib: with Hydra's own joblib launcher, one worker killed (out of memory, a segfault) stops
the whole sweep with a ``TerminatedWorkerError`` traceback (loky stops every worker of
the pool), and the jobs not yet run never run. :class:`ResilientJoblibLauncher`
(``hydra/launcher=joblib``, see ``conf/hydra/launcher/joblib.yaml``; Hydra loads
launchers from the ``hydra_plugins`` package only, so the class there,
``hydra_plugins.genreclf_launcher.resilient_joblib``, is this one) runs the same jobs
in ``n_jobs`` slots, each a loky process of its own that is reused from job to job (so
imports are paid once per slot). When a slot's process dies, only the job it held is
lost: that job's MLflow run ends FAILED with the reason, the sweep sees a failed trial
(NaN), the slot starts a fresh process, and the other jobs go on.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher import _core
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

from genreclf.features.extraction import worker_died
from genreclf.sweeps.progress import JOB_LINE_ATTR, current_progress, failed_line, run_keeping_line
from genreclf.sweeps.runs import SWEEP_ID_ENV

log = logging.getLogger("genreclf.sweeps")


class ResilientJoblibLauncher(JoblibLauncher):
    """Hydra's ``JoblibLauncher`` that survives dead workers (see the module docstring)."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from hydra.core.singleton import Singleton
        from joblib import effective_n_jobs
        from joblib.externals.loky import ProcessPoolExecutor

        start_launch(self.config, self.hydra_context)
        state = Singleton.get_state()
        jobs = numbered_jobs(job_overrides, initial_job_idx)
        todo: queue.Queue[int] = queue.Queue()
        for idx in jobs:
            todo.put(idx)
        results: dict[int, JobReturn] = {}
        errors: list[BaseException] = []
        executors: list[Any] = []
        n_slots = max(1, min(len(jobs), effective_n_jobs(int(self.joblib.get("n_jobs") or -1))))
        log.info("launching %d jobs in %d worker processes", len(jobs), n_slots)
        progress = current_progress(len(jobs))

        def slot() -> None:
            executor = ProcessPoolExecutor(max_workers=1)
            executors.append(executor)
            while not errors:
                try:
                    idx = todo.get_nowait()
                except queue.Empty:
                    break
                args = (jobs[idx], self.hydra_context, self.config, self.task_function, state)
                try:
                    results[idx] = executor.submit(execute_quietly, idx, *args).result()
                except BaseException as exc:
                    if not worker_died(exc):
                        errors.append(exc)
                        break
                    why = f"the job's worker process died ({str(exc).splitlines()[-1].strip()})"
                    results[idx] = lost_job(self.config, idx, jobs[idx], why, progress.total)
                    executor.shutdown(wait=False, kill_workers=True)
                    executor = ProcessPoolExecutor(max_workers=1)
                    executors.append(executor)
                progress.report(idx, results[idx], jobs[idx])
            executor.shutdown(wait=True)

        threads = [threading.Thread(target=slot, daemon=True) for _ in range(n_slots)]
        run_slots(threads, executors, errors)
        if errors:
            raise errors[0]
        return [results[i] for i in jobs]


def run_slots(threads: list[threading.Thread], executors: list[Any], errors: list) -> None:
    """Start the slots' ``threads`` and wait for them all to end.

    On Ctrl-C the slots stop taking jobs (a ``KeyboardInterrupt`` joins ``errors``) and
    their ``executors`` are stopped, workers killed, so that the sweep can end its runs.
    """
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
    except BaseException:  # Ctrl-C: stop the workers, let the sweep end its runs
        errors.append(KeyboardInterrupt())
        for executor in executors:
            executor.shutdown(wait=False, kill_workers=True)
        raise


def start_launch(config: Any, context: Any) -> None:
    """What Hydra's launchers do first: Hydra's globals and logging, and the sweep folder."""
    from hydra.core.utils import configure_log, setup_globals

    setup_globals()
    assert config is not None and context is not None
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    os.makedirs(str(config.hydra.sweep.dir), exist_ok=True)


def numbered_jobs(
    job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> dict[int, list[str]]:
    """Each job's overrides, by job number (numbers start at ``initial_job_idx``)."""
    return {initial_job_idx + i: list(o) for i, o in enumerate(job_overrides)}


def lost_job(
    config: Any, idx: int, overrides: Sequence[str], why: str, total: int | None
) -> JobReturn:
    """A job whose worker died: its run ends FAILED with ``why``, the sweep sees NaN."""
    log.error("job %d: %s; its run is FAILED, the sweep goes on", idx, why)
    end_lost_run(config, idx, why)
    result = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
    result.return_value = math.nan
    setattr(result, JOB_LINE_ATTR, failed_line(idx, overrides, why, total))
    return result


def end_lost_run(config: Any, idx: int, why: str) -> None:
    """End FAILED, with ``why`` as its traceback, the RUNNING run of job ``idx``, if any."""
    from genreclf.tracking import names
    from genreclf.tracking.run import store_for

    sweep_id = _env_set(config, SWEEP_ID_ENV)
    if not sweep_id:
        return
    store = store_for(config.tracking)
    experiment = store.experiment_id(config.tracking.experiment)
    tags = {names.SWEEP_ID_TAG: sweep_id, names.JOB_NUM_TAG: str(idx)}
    for run in store.find_runs(experiment, tags=tags, statuses=(names.RUNNING,)):
        store.log_text(run.info.run_id, why + "\n", names.TRACEBACK_ARTIFACT)
        store.set_tag(run.info.run_id, names.FAILURE_TAG, why[:5000])
        store.end_run(run.info.run_id, names.FAILED)


def execute_quietly(idx: int, overrides: Sequence[str], *args: Any) -> JobReturn:
    """Hydra's ``execute_job`` in a worker, without third-party warnings (see ``quiet_console``).

    The filters are set before the job's config is composed, so that they cover Hydra's
    own warnings about it too; ``hydra.verbose`` (in the launch config) keeps them all.
    """
    from genreclf.core.console import quiet_console

    config = args[1]
    quiet_console(config.hydra.verbose)
    return run_keeping_line(_core.execute_job, idx, overrides, *args)


def _env_set(config: Any, key: str) -> str | None:
    """A value the sweep put in ``hydra.job.env_set`` (through its overrides)."""
    prefix = f"++hydra.job.env_set.{key}="
    for override in config.hydra.overrides.hydra:
        if str(override).startswith(prefix):
            return str(override)[len(prefix) :]
    return None


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


def launch_on_ray(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list[JobReturn]:
    """Hydra's Ray launcher (``launcher``: a ``RayLauncher``), reporting jobs as they end.

    Starts or joins Ray with ``hydra.launcher.ray.init`` (``conf/hydra/launcher/ray.yaml``
    turns off Ray's copy of worker output, its dashboard and its INFO lines), submits
    every job with ``hydra.launcher.ray.remote``, and waits for them in the order they
    end. A job whose Ray worker died is a FAILED run (:func:`lost_job`).
    """
    from hydra.core.singleton import Singleton
    from omegaconf import OmegaConf, open_dict

    config, context = launcher.config, launcher.hydra_context
    start_launch(config, context)
    init = OmegaConf.to_container(launcher.ray_cfg.init, resolve=True) or {}
    os.environ.setdefault(RAY_AUTH_MODE_ENV, ray_auth_mode(init.get("address")))
    if init.get("address") is None:  # a local instance
        # Hydra's default: enough object store memory on small machines (Ray issue 11966);
        # not when joining a cluster, where ray.init refuses it
        init.setdefault("object_store_memory", 78643200)
    import ray

    if not ray.is_initialized():
        ray.init(**init)
    remote_options = OmegaConf.to_container(launcher.ray_cfg.remote, resolve=True) or {}
    remote = ray.remote(**remote_options)(run_on_ray) if remote_options else ray.remote(run_on_ray)
    jobs = numbered_jobs(job_overrides, initial_job_idx)
    progress = current_progress(len(jobs))
    log.info("launching %d jobs on Ray", len(jobs))
    pending = {}
    for idx, overrides in jobs.items():
        sweep_config = context.config_loader.load_sweep_config(config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"job_id_for_{idx}"
            sweep_config.hydra.job.num = idx
        state = Singleton.get_state()
        pending[remote.remote(context, sweep_config, launcher.task_function, state)] = idx
    results: dict[int, JobReturn] = {}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            idx = pending.pop(ref)
            try:
                results[idx] = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died, or Ray failed
                why = f"its Ray worker failed ({type(exc).__name__}: {_last_line(exc)})"
                results[idx] = lost_job(config, idx, jobs[idx], why, progress.total)
            progress.report(idx, results[idx], jobs[idx])
    return [results[i] for i in jobs]


def run_on_ray(*args: Any, **kwargs: Any) -> JobReturn:
    """One job in a Ray worker: Hydra's ``_run_job``, quiet, its line kept for the launcher."""
    from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job

    from genreclf.core.console import quiet_console

    sweep_config = args[1]
    quiet_console(sweep_config.hydra.verbose)
    return run_keeping_line(_run_job, *args, **kwargs)


class ReportingSubmitit:
    """Mixin for Hydra's submitit launchers: jobs reported as they end, workers quiet.

    Hydra's ``BaseSubmititLauncher.launch`` waits for the jobs in job order and prints
    nothing of them; here the launching process polls them
    (``submitit.helpers.as_completed``) and reports each one as it ends. A job whose
    process died, or that SLURM cancelled, is a FAILED run (:func:`lost_job`).
    """

    #: Seconds between two looks at the jobs' states.
    poll_s: float = 1.0

    def __call__(self, sweep_overrides: list[str], *args: Any, **kwargs: Any) -> JobReturn:
        """Run one job in the submitit worker, quiet, its line kept for the launcher."""
        from genreclf.core.console import quiet_console

        quiet_console(self.config.hydra.verbose)  # type: ignore[attr-defined]
        return run_keeping_line(super().__call__, sweep_overrides, *args, **kwargs)  # type: ignore[misc]

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> list[JobReturn]:
        from submitit.helpers import as_completed

        jobs = numbered_jobs(job_overrides, initial_job_idx)
        submitted = dict(zip(self._submit(jobs), jobs, strict=True))
        progress = current_progress(len(jobs))
        results: dict[int, JobReturn] = {}
        for job in as_completed(list(submitted), poll_frequency=self.poll_s):
            idx = submitted[job]
            try:
                results[idx] = job.results()[0]
            except Exception as exc:  # submitit's FailedJobError, UncompletedJobError
                why = f"its submitit job {job.job_id} failed ({_last_line(exc)})"
                results[idx] = lost_job(self.config, idx, jobs[idx], why, progress.total)  # type: ignore[attr-defined]
            progress.report(idx, results[idx], jobs[idx])
        return [results[i] for i in jobs]

    def _submit(self, jobs: dict[int, list[str]]) -> list[Any]:
        """Submit ``jobs`` (number: overrides) as Hydra's submitit launcher does."""
        import submitit
        from hydra.core.singleton import Singleton
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        cluster = self._EXECUTOR  # type: ignore[attr-defined]
        params = dict(self.params)  # type: ignore[attr-defined]
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{cluster}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=cluster, **init)
        common = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in common else f"{cluster}_{k}": v for k, v in params.items()}
        )
        config = self.config  # type: ignore[attr-defined]
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(config.hydra.sweep.mode), 8))
        log.info("launching %d jobs with submitit (%s)", len(jobs), cluster)
        state = Singleton.get_state()
        arguments = [
            (overrides, "hydra.sweep.dir", idx, f"job_id_for_{idx}", state)
            for idx, overrides in jobs.items()
        ]
        return executor.map_array(self, *zip(*arguments, strict=True))


def _last_line(exc: BaseException) -> str:
    """The last non-empty line of an error's message (or its type)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
