"""genreclf's Hydra launchers: joblib, Ray and submitit, with one console for all.

Every launcher here runs each job in a worker through
:func:`genreclf.sweeps.progress.run_keeping_line`, so that the workers print nothing of
their own: the launching process prints, as each job ends, the job's line and the
sweep's count, ETA and best so far (:meth:`~genreclf.sweeps.progress.SweepProgress.report`).

- ``hydra/launcher=joblib``: :class:`ResilientJoblibLauncher` (below).
- ``hydra/launcher=ray``: :func:`genreclf.sweeps.ray_launch.launch_on_ray`, Hydra's Ray
  launcher that waits for jobs in the order they end (Hydra's waits in job order), with
  Ray's own console output off (``conf/hydra/launcher/ray.yaml``).
- ``hydra/launcher=submitit_local`` and ``submitit_slurm``:
  :class:`genreclf.sweeps.submitit_launch.ReportingSubmitit`, Hydra's submitit launchers
  that wait for jobs in the order they end.

Every launcher takes its jobs from a :class:`~genreclf.sweeps.feed.JobFeed`, one job as
each slot frees up (a pruned sweep's study asks each trial only then). Ray and submitit
run ``hydra.launcher.jobs_per_task`` jobs in each task: one process, imports paid once.

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
import threading
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher import _core
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

from genreclf.features.extraction import worker_died
from genreclf.sweeps.feed import as_feed
from genreclf.sweeps.progress import JOB_LINE_ATTR, current_progress, failed_line, run_keeping_line
from genreclf.sweeps.runs import SWEEP_ID_ENV

log = logging.getLogger("genreclf.sweeps")


class ResilientJoblibLauncher(JoblibLauncher):
    """Hydra's ``JoblibLauncher`` that survives dead workers (see the module docstring)."""

    #: It takes a :class:`~genreclf.sweeps.feed.JobFeed`: a job whenever a slot is free.
    takes_feed = True

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from hydra.core.singleton import Singleton
        from joblib import effective_n_jobs
        from joblib.externals.loky import ProcessPoolExecutor

        start_launch(self.config, self.hydra_context)
        state = Singleton.get_state()
        feed = as_feed(job_overrides, initial_job_idx)
        results: dict[int, JobReturn] = {}
        errors: list[BaseException] = []
        executors: list[Any] = []
        n_slots = max(1, min(len(feed), effective_n_jobs(int(self.joblib.get("n_jobs") or -1))))
        log.info("launching %d jobs in %d worker processes", len(feed), n_slots)
        progress = current_progress(len(feed))

        def slot() -> None:
            executor = ProcessPoolExecutor(max_workers=1)
            executors.append(executor)
            while not errors and (job := feed.take()) is not None:
                idx, overrides = job
                args = (overrides, self.hydra_context, self.config, self.task_function, state)
                try:
                    results[idx] = executor.submit(execute_quietly, idx, *args).result()
                except BaseException as exc:
                    if not worker_died(exc):
                        errors.append(exc)
                        break
                    why = f"the job's worker process died ({str(exc).splitlines()[-1].strip()})"
                    results[idx] = lost_job(self.config, idx, overrides, why)
                    executor.shutdown(wait=False, kill_workers=True)
                    executor = ProcessPoolExecutor(max_workers=1)
                    executors.append(executor)
                progress.report(idx, results[idx], overrides)
            executor.shutdown(wait=True)

        threads = [threading.Thread(target=slot, daemon=True) for _ in range(n_slots)]
        run_slots(threads, executors, errors)
        if errors:
            raise errors[0]
        return [results[i] for i in sorted(results)]


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


def lost_job(config: Any, idx: int, overrides: Sequence[str], why: str) -> JobReturn:
    """A job whose worker died: its run ends FAILED with ``why``, the sweep sees NaN."""
    log.error("job %d: %s; its run is FAILED, the sweep goes on", idx, why)
    end_lost_run(config, idx, why)
    result = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
    result.return_value = math.nan
    progress = current_progress()
    line = failed_line(idx, overrides, why, progress.total, progress.keys or None)
    setattr(result, JOB_LINE_ATTR, line)
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


def last_line(exc: BaseException) -> str:
    """The last non-empty line of an error's message (or its type)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
