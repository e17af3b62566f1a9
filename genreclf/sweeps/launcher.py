"""Hydra's joblib launcher, where a dead worker costs only its own job.

With Hydra's own joblib launcher, one worker killed (out of memory, a segfault) stops
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
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher import _core
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

from genreclf.features.extraction import worker_died
from genreclf.sweeps.progress import current_progress
from genreclf.sweeps.runs import SWEEP_ID_ENV

log = logging.getLogger("genreclf.sweeps")


class ResilientJoblibLauncher(JoblibLauncher):
    """Hydra's ``JoblibLauncher`` that survives dead workers (see the module docstring)."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from hydra.core.singleton import Singleton
        from hydra.core.utils import configure_log, setup_globals
        from joblib import effective_n_jobs
        from joblib.externals.loky import ProcessPoolExecutor

        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        os.makedirs(str(self.config.hydra.sweep.dir), exist_ok=True)
        state = Singleton.get_state()
        jobs = {initial_job_idx + i: list(o) for i, o in enumerate(job_overrides)}
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
                    results[idx] = self._failed(idx, jobs[idx], str(exc).splitlines()[-1])
                    executor.shutdown(wait=False, kill_workers=True)
                    executor = ProcessPoolExecutor(max_workers=1)
                    executors.append(executor)
                print(progress.finished(idx, _value(results[idx]), jobs[idx]), flush=True)
            executor.shutdown(wait=True)

        threads = [threading.Thread(target=slot, daemon=True) for _ in range(n_slots)]
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
        if errors:
            raise errors[0]
        return [results[i] for i in jobs]

    def _failed(self, idx: int, overrides: list[str], why: str) -> JobReturn:
        """A job whose worker process died: its run ends FAILED, the sweep sees NaN."""
        from genreclf.tracking import names
        from genreclf.tracking.run import store_for

        reason = f"the job's worker process died ({why.strip()})"
        log.error("job %d: %s; its run is FAILED, the sweep goes on", idx, reason)
        sweep_id = _env_set(self.config, SWEEP_ID_ENV)
        if sweep_id:
            store = store_for(self.config.tracking)
            experiment = store.experiment_id(self.config.tracking.experiment)
            tags = {names.SWEEP_ID_TAG: sweep_id, names.JOB_NUM_TAG: str(idx)}
            for run in store.find_runs(experiment, tags=tags, statuses=(names.RUNNING,)):
                store.log_text(run.info.run_id, reason + "\n", names.TRACEBACK_ARTIFACT)
                store.set_tag(run.info.run_id, names.FAILURE_TAG, reason[:5000])
                store.end_run(run.info.run_id, names.FAILED)
        result = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
        result.return_value = math.nan
        return result


def execute_quietly(idx: int, overrides: Sequence[str], *args: Any) -> JobReturn:
    """Hydra's ``execute_job`` in a worker, without third-party warnings (see ``quiet_console``).

    The filters are set before the job's config is composed, so that they cover Hydra's
    own warnings about it too; ``hydra.verbose`` (in the launch config) keeps them all.
    """
    from genreclf.console import quiet_console

    config = args[1]
    quiet_console(config.hydra.verbose)
    return _core.execute_job(idx, overrides, *args)


def _value(result: JobReturn) -> Any:
    """A finished job's return value (what the sweeper sees), or NaN if it raised."""
    return result.return_value if result.status == JobStatus.COMPLETED else math.nan


def _env_set(config: Any, key: str) -> str | None:
    """A value the sweep put in ``hydra.job.env_set`` (through its overrides)."""
    prefix = f"++hydra.job.env_set.{key}="
    for override in config.hydra.overrides.hydra:
        if str(override).startswith(prefix):
            return str(override)[len(prefix) :]
    return None
