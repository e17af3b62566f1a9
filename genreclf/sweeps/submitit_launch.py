"""``hydra/launcher=submitit_local|submitit_slurm``: jobs reported as they end, slots busy.

See :mod:`genreclf.sweeps.launcher` for what every genreclf launcher shares.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn

from genreclf.core import stopping
from genreclf.sweeps.feed import JobFeed, as_feed
from genreclf.sweeps.launcher import last_line, lost_job
from genreclf.sweeps.progress import current_progress, run_keeping_line

log = logging.getLogger("genreclf.sweeps")

#: A task's jobs: (job number, overrides) each.
Jobs = list[tuple[int, list[str]]]

#: The warning SLURM sends ahead of a preemption or the time limit when asked
#: (``--signal=USR1@<s>``): the task's runs end KILLED, and the task is requeued.
REQUEUE_SIGNAL = "SIGUSR1"


class ReportingSubmitit:
    """Mixin for Hydra's submitit launchers: jobs reported as they end, workers quiet.

    Hydra's ``BaseSubmititLauncher.launch`` waits for the jobs in job order and prints
    nothing of them; here the launching process polls the tasks and reports each job as
    its task ends. Each task runs ``hydra.launcher.jobs_per_task`` jobs, one after
    another, in one process (imports and the feature table paid once). A list of jobs is
    submitted at once, as one job array; a study's jobs are taken as tasks end, with as
    many tasks running as ``array_parallelism`` (SLURM) or the machine's cores per
    ``cpus_per_task`` (local) allow. A task whose process died, or that SLURM
    cancelled, costs its jobs: FAILED runs (:func:`lost_job`).
    """

    #: Seconds between two looks at the tasks' states.
    poll_s: float = 1.0
    #: It takes a :class:`~genreclf.sweeps.feed.JobFeed`: a job whenever a slot is free.
    takes_feed = True

    def __call__(self, sweep_overrides: list[str], *args: Any, **kwargs: Any) -> JobReturn:
        """Run one job in the submitit worker, quiet, its line kept for the launcher."""
        from genreclf.core.console import quiet_console

        quiet_console(self.config.hydra.verbose)  # type: ignore[attr-defined]
        return run_keeping_line(super().__call__, sweep_overrides, *args, **kwargs)  # type: ignore[misc]

    def run_task(self, jobs: list[tuple[Any, ...]]) -> list[JobReturn]:
        """One task in the submitit worker: its jobs (``__call__``'s arguments) in turn.

        A stop signal ends the task's open runs KILLED (:mod:`genreclf.core.stopping`).
        On SLURM, :data:`REQUEUE_SIGNAL` then requeues the task (:func:`requeue_task`): it
        runs the same jobs again, and those that finished are skipped (``sweep.resume``).
        """
        stopping.install()  # before the first job's config is composed
        try:
            return [self(*job) for job in jobs]
        except (KeyboardInterrupt, SystemExit):  # Lightning ends a stopped fit with exit(1)
            if not stopping.received:
                raise
            stopping.ignore()  # the runs have ended; SLURM's SIGTERM must not cut this short
            then = None
            if self._EXECUTOR == "slurm":  # type: ignore[attr-defined]  # not submitit_local
                params = self.params  # type: ignore[attr-defined]
                then = requeue_task(max_requeues=int(params.get("max_num_timeout") or 0))
            print(stopping.stop_line(then=then), file=sys.stderr, flush=True)
            raise SystemExit(143) from None

    def launch(
        self, job_overrides: Sequence[Sequence[str]] | JobFeed, initial_job_idx: int
    ) -> list[JobReturn]:
        feed = as_feed(job_overrides, initial_job_idx)
        executor, per_task, slots = self._executor()
        progress = current_progress(len(feed))
        log.info("launching %d jobs with submitit, %d per task", len(feed), per_task)
        running: dict[Any, Jobs] = {}
        results: dict[int, JobReturn] = {}
        self._submit(executor, feed, per_task, len(feed) if feed.eager else slots, running)
        while running:
            ended = [task for task in running if task.done()]
            if not ended:
                time.sleep(self.poll_s)
                continue
            for task in ended:
                jobs = running.pop(task)
                for (idx, overrides), result in zip(jobs, self._results(task, jobs), strict=True):
                    results[idx] = result
                    progress.report(idx, result, overrides)
            self._submit(executor, feed, per_task, slots, running)
        return [results[i] for i in sorted(results)]

    def _submit(
        self, executor: Any, feed: JobFeed, per_task: int, slots: int, running: dict[Any, Jobs]
    ) -> None:
        """Submit tasks of ``per_task`` jobs until ``slots`` run (one job array)."""
        from hydra.core.singleton import Singleton

        tasks: list[Jobs] = []
        while len(running) + len(tasks) < slots and (jobs := feed.take_many(per_task)):
            tasks.append(jobs)
        if not tasks:
            return
        state = Singleton.get_state()
        with executor.batch():
            submitted = [
                executor.submit(
                    self.run_task,
                    [(o, "hydra.sweep.dir", i, f"job_id_for_{i}", state) for i, o in jobs],
                )
                for jobs in tasks
            ]
        running.update(zip(submitted, tasks, strict=True))

    def _results(self, task: Any, jobs: Jobs) -> list[JobReturn]:
        """The ``JobReturn`` of each job of a task that ended (lost jobs if it failed)."""
        from submitit.core.utils import UncompletedJobError

        try:
            return task.results()[0]
        except UncompletedJobError:  # its process died: SLURM's state says why (NODE_FAIL...)
            why = f"its submitit job {task.job_id} ended {task.state} without a result"
        except Exception as exc:  # submitit's FailedJobError: the job's own error
            why = f"its submitit job {task.job_id} failed ({last_line(exc)})"
        config = self.config  # type: ignore[attr-defined]
        return [lost_job(config, idx, overrides, why) for idx, overrides in jobs]

    def _executor(self) -> tuple[Any, int, int]:
        """Submitit's executor as Hydra's launcher makes it; jobs per task; task slots."""
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        cluster = self._EXECUTOR  # type: ignore[attr-defined]
        params = dict(self.params)  # type: ignore[attr-defined]
        per_task = max(1, int(params.pop("jobs_per_task", 1) or 1))
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{cluster}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=cluster, **init)
        common = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in common else f"{cluster}_{k}": v for k, v in params.items()}
        )
        self._make_sweep_dir()
        cores = (os.cpu_count() or 1) // max(1, int(params.get("cpus_per_task") or 1))
        return executor, per_task, int(params.get("array_parallelism") or max(1, cores))

    def _make_sweep_dir(self) -> None:
        """Create the sweep folder, with ``hydra.sweep.mode`` if set."""
        config = self.config  # type: ignore[attr-defined]
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(config.hydra.sweep.mode), 8))


def requeue_task(*, max_requeues: int) -> str | None:
    """Requeue this SLURM task (``scontrol requeue``) if :data:`REQUEUE_SIGNAL` stopped it.

    At most ``max_requeues`` times (``hydra.launcher.max_num_timeout``, counted by
    SLURM's ``SLURM_RESTART_COUNT``), so that a configuration that never fits in the
    time limit is not trained for ever. Returns what happened to the task, for the stop
    line, or ``None`` outside a SLURM task or for another signal.
    """
    from genreclf.sweeps.runs import slurm_job_id

    job_id = slurm_job_id()
    if stopping.reason() != REQUEUE_SIGNAL or job_id is None:
        return None
    restarts = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
    if restarts >= max_requeues:
        return f"job {job_id} not requeued: requeued {restarts} times (max_num_timeout)"
    try:
        done = subprocess.run(
            ["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"job {job_id} not requeued: scontrol requeue: {exc}"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"job {job_id} not requeued: scontrol requeue: {why}"
    return f"job {job_id} requeued"
