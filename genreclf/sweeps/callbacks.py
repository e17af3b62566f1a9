"""Hydra callback that ties a sweep's MLflow runs together.

Registered by the ``sweep`` configs under ``hydra.callbacks``. Before any job starts it
creates the sweep's experiment (once, so parallel jobs do not race to create it) and a
parent run that stands for the whole sweep; every job's run is tagged with the sweep id
and nested under that parent. When the sweep ends, the parent run gets a summary: runs
by status, the best run (:func:`best_job_run`) and its parameters, and Optuna's
``optimization_results.yaml``.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from genreclf.core import stopping
from genreclf.sweeps.progress import (
    KEYS_ENV,
    TOTAL_ENV,
    best_line,
    current_progress,
    planned_jobs,
    start_progress,
    sweep_plan,
    tied_runs,
)
from genreclf.sweeps.runs import LAUNCHER_ENV, PARENT_RUN_ENV, SWEEP_ID_ENV
from genreclf.tracking import names
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store

log = logging.getLogger("genreclf.sweeps")

#: Metric that sweeps maximize, logged by every training run.
SCORE = names.BEST_VAL_ACC


def own_sweep_dir(base: Path) -> Path:
    """A sweep folder no other sweep uses: ``base``, or ``base-2``, ``base-3``, ...

    Created here (an atomic ``mkdir``), so two sweeps started in the same second do not
    share, and overwrite, one folder.
    """
    for n in range(1, 1000):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"hydra.sweep.dir={base}: 999 sweep folders of this name already exist")


def claimed_jobs(sweep_dir: Path) -> int:
    """How many jobs of the sweep in ``sweep_dir`` gave way to another sweep's claim."""
    import json

    from genreclf.sweeps.job import TIMING_FILE

    count = 0
    for path in sweep_dir.glob(f"*/{TIMING_FILE}"):
        try:
            count += json.loads(path.read_text()).get("status") == "CLAIMED"
        except (OSError, ValueError):
            continue
    return count


def sweep_runs(store: Store, experiment_id: str, sweep_id: str) -> list:
    """Every job run of sweep ``sweep_id`` (a configuration run is its job's run)."""
    runs = store.find_runs(experiment_id, tags={names.SWEEP_ID_TAG: sweep_id})
    return [run for run in runs if run.data.tags.get(names.ROLE_TAG) in names.RANKED_ROLES]


def best_job_run(runs: list) -> Any:
    """The best FINISHED run among a sweep's job runs (``None``: none has a score).

    Chosen by :func:`genreclf.tracking.selection.best_run`, as ``best:`` and reports do.
    """
    return best_run(run for run in runs if run.info.status == names.FINISHED)


def upload_spooled_runs(folder: Path, uri: str) -> None:
    """Upload the runs that earlier sweeps under ``folder`` kept while ``uri`` was away.

    See :mod:`genreclf.tracking.spool`; a store that stops answering meanwhile leaves
    them for later (``python -m genreclf.sync``), with one line.
    """
    from genreclf.core.errors import one_line
    from genreclf.tracking.run import open_store
    from genreclf.tracking.spool import unreachable, upload_folder

    if not folder.is_dir():
        return
    try:
        outcomes = upload_folder(folder, open_store, only=uri)
    except Exception as exc:
        if not unreachable(exc) and not isinstance(exc, ValueError):
            raise
        log.warning("spooled runs under %s not uploaded: %s", folder, one_line(exc))
        return
    if outcomes.get("uploaded"):
        count = len(outcomes["uploaded"])
        print(f"{count} run(s) kept while the tracking store was away: uploaded", flush=True)


def check_every_job(config: DictConfig, check: str) -> None:
    """Every planned job's config through ``check`` before the first job starts.

    Each job is composed as the launcher composes it (Hydra's config loader, with the
    job's overrides) and given to the function ``check`` names (the command's own check,
    e.g. ``genreclf.train.check_train_config``). The first value at fault ends the
    command with one line and exit status 2, before any run is created. Optuna's trials
    are sampled as the sweep goes: they are checked as they run.
    """
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import get_method

    from genreclf.core.errors import GenreclfError

    jobs = planned_jobs(config) or []
    checker = get_method(check) if jobs else None
    loader = GlobalHydra.instance().config_loader() if jobs else None
    for number, job in enumerate(jobs, 1):
        cfg = loader.load_sweep_config(config, list(job))
        with open_dict(cfg):
            del cfg["hydra"]  # Hydra's own node: the launcher completes it per job
        try:
            checker(cfg)
        except GenreclfError as exc:
            where = f"job {number} of {len(jobs)}; no job was run"
            print(f"error: {exc} ({where})", file=sys.stderr, flush=True)
            sys.exit(exc.exit_status)


def refuse_bad_sweep(config: DictConfig) -> None:
    """End the command with one line (exit 2) for a sweep its sweeper cannot run."""
    from genreclf.core.errors import GenreclfError
    from genreclf.sweeps.sweeper import check_study_sweep

    try:
        check_study_sweep(config)
    except GenreclfError as exc:
        print(f"error: {exc}; no job was run", file=sys.stderr, flush=True)
        sys.exit(exc.exit_status)


def hand_to_jobs(config: DictConfig, sweep_dir: Path, env: dict[str, str]) -> None:
    """Make every job of ``config`` run in ``sweep_dir`` with the environment ``env``.

    Both go in as Hydra overrides (``hydra.job.env_set``), so that they reach jobs on any
    launcher.
    """
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(sweep_dir)
        config.hydra.overrides.hydra = [
            *config.hydra.overrides.hydra,
            f"hydra.sweep.dir='{sweep_dir}'",
            *(f"++hydra.job.env_set.{k}={v}" for k, v in env.items()),
        ]


class SweepTracking(Callback):
    """Create the experiment and a parent run before a multirun; summarize it after.

    Jobs learn the sweep id and the parent run through the environment variables
    ``GENRECLF_SWEEP_ID`` and ``GENRECLF_SWEEP_PARENT_RUN``, set with
    ``hydra.job.env_set`` so that they reach jobs on any launcher (local processes,
    SLURM, Ray). If the sweep stops early (Ctrl-C, an error), the parent run ends KILLED,
    and so does any job run still RUNNING (a worker killed before it could end its run).
    """

    def __init__(self, job_check: str | None) -> None:
        self.job_check = job_check  # checks each job's config before any starts
        self.store: Store | None = None
        self.parent_run_id: str | None = None
        self.experiment_id: str | None = None
        self.sweep_id: str | None = None
        self.heartbeat = None
        self.launcher_pid: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Launchers send the callback to their workers: without the launcher's threads."""
        return self.__dict__ | {"heartbeat": None}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check every job, open the sweep's parent run, and hand the sweep to the jobs."""
        refuse_bad_sweep(config)
        if self.job_check:
            check_every_job(config, self.job_check)
        from genreclf.tracking.liveness import Heartbeat, host, reap_ghosts
        from genreclf.tracking.run import store_for

        if "joblib" in str(config.hydra.launcher.get("_target_", "")):
            from joblib.externals.loky.backend.resource_tracker import ensure_running

            stopping.spawn_shielded(ensure_running)
        tracking = config.tracking
        name = str((config.get("sweep") or {}).get("name") or config.hydra.job.name)
        self.sweep_id = f"{name}-{uuid.uuid4().hex[:12]}"
        self.store = store_for(tracking)
        self.experiment_id = self.store.experiment_id(tracking.experiment)
        upload_spooled_runs(Path(str(config.hydra.sweep.dir)).parent, self.store.uri)
        ghosts = reap_ghosts(self.store, self.experiment_id)
        sweep_dir = own_sweep_dir(Path(str(config.hydra.sweep.dir)))
        self._open_parent_run(config, name, sweep_dir)
        self.heartbeat = Heartbeat(self.store, self.parent_run_id).start()
        total, keys = sweep_plan(config)
        self.launcher_pid = os.getpid()
        start_progress(name, total, keys)
        env = {
            SWEEP_ID_ENV: self.sweep_id,
            PARENT_RUN_ENV: self.parent_run_id,
            LAUNCHER_ENV: f"{host()}:{os.getpid()}",
            TOTAL_ENV: f"'{total or ''}'",
            KEYS_ENV: f"'{' '.join(keys)}'",
        }
        hand_to_jobs(config, sweep_dir, env)
        atexit.register(self._end_parent, "KILLED")
        self._say_started(str(tracking.experiment), total, sweep_dir, len(ghosts))

    def _open_parent_run(self, config: DictConfig, name: str, sweep_dir: Path) -> None:
        """Create the run that stands for the sweep (with the sweeper's params)."""
        from genreclf.tracking.liveness import owner_tags

        overrides = " ".join(config.hydra.overrides.task)
        self.parent_run_id = self.store.create_run(
            self.experiment_id,
            run_name=f"sweep {self.sweep_id}",
            tags=owner_tags()
            | {
                names.SWEEP_ID_TAG: self.sweep_id,
                names.SWEEP_NAME_TAG: name,
                names.ROLE_TAG: "parent",
                names.SWEEP_DIR_TAG: str(sweep_dir),
                names.SWEEP_OVERRIDES_TAG: overrides[:5000],
                names.SWEEPER_TAG: str(config.hydra.sweeper.get("_target_", "")),
                names.LAUNCHER_TAG: str(config.hydra.launcher.get("_target_", "")),
            },
        )
        params = config.hydra.sweeper.get("params")  # none for a plain --multirun
        params = OmegaConf.to_container(params, resolve=True) if params else {}
        if params:
            self.store.log_text(
                self.parent_run_id, OmegaConf.to_yaml(params), names.SWEEPER_PARAMS_ARTIFACT
            )

    def _say_started(
        self, experiment: str, total: int | None, sweep_dir: Path, ghosts: int
    ) -> None:
        """Print the sweep's first line (and how many ghost runs were ended KILLED)."""
        jobs = f"{total} jobs" if total else "jobs"
        print(
            f"Sweep {self.sweep_id}: {jobs}, experiment '{experiment}' "
            f"(id {self.experiment_id}), parent run {self.parent_run_id}, folder {sweep_dir}",
            flush=True,
        )
        if ghosts:
            print(
                f"{ghosts} RUNNING run(s) of earlier sweeps had lost their process: ended "
                "KILLED; their configs are trained again",
                flush=True,
            )

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """A job run in the launching process (Hydra's basic launcher): count it."""
        if self.launcher_pid != os.getpid() or job_return is None:
            return
        value = job_return.return_value if job_return.status.name == "COMPLETED" else None
        line = current_progress().finished(
            int(config.hydra.job.num), value, list(job_return.overrides or [])
        )
        print(line, flush=True)

    def _end_parent(self, status: str) -> None:
        if self.parent_run_id is None:
            return
        run_id, self.parent_run_id = self.parent_run_id, None
        atexit.unregister(self._end_parent)
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if status == names.KILLED:
            # Parallel launchers may stop their workers without letting them end their
            # runs (joblib's loky kills its workers with SIGKILL on Ctrl-C).
            why = stopping.reason() if stopping.received else "the sweep stopped early"
            for run in sweep_runs(self.store, self.experiment_id, self.sweep_id):
                if run.info.status == names.RUNNING:
                    self.store.set_tag(run.info.run_id, names.STOP_TAG, why)
                    self.store.end_run(run.info.run_id, names.KILLED)
            self.store.set_tag(run_id, names.STOP_TAG, why)
        self.store.end_run(run_id, status)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        try:
            self._summarize(config)
        finally:
            self._end_parent("FINISHED")

    def _summarize(self, config: DictConfig) -> None:
        from mlflow.entities import Metric

        from genreclf.models.heads import model_name

        runs = sweep_runs(self.store, self.experiment_id, self.sweep_id)
        counts = {s: 0 for s in ("FINISHED", "FAILED", "KILLED", "RUNNING")}
        for run in runs:
            counts[run.info.status] = counts.get(run.info.status, 0) + 1
        pruned = sum(names.PRUNED_TAG in run.data.tags for run in runs)
        metrics = [Metric(f"runs_{s.lower()}", n, 0, 0) for s, n in counts.items()]
        metrics.append(Metric("runs_pruned", pruned, 0, 0))
        tags: dict[str, str] = {}
        params: dict[str, str] = {}
        best = best_job_run(runs)
        swept = list((config.hydra.sweeper.get("params") or {}).keys())
        swept += [k for k in current_progress().keys if k not in swept]  # a plain --multirun
        if best is not None:
            metrics.append(Metric(SCORE, best.data.metrics[SCORE], 0, 0))
            if names.TEST_ACC in best.data.metrics:
                value = best.data.metrics[names.TEST_ACC]
                metrics.append(Metric(names.BEST_RUN_TEST_ACC, value, 0, 0))
            tags[names.BEST_RUN_TAG] = best.info.run_id
            values = best.data.params
            params |= {f"best.{k}": values[k] for k in swept if k in values}
            if "model" in swept:
                tag = best.data.tags.get(names.MODEL_TAG)
                head = {k[6:]: v for k, v in values.items() if k.startswith("model.")}
                params["best.model"] = model_name(tag, values.get("model._target_"), head)
        self.store.log_batch(self.parent_run_id, params, metrics, tags)
        results = Path(str(config.hydra.sweep.dir)) / "optimization_results.yaml"
        if results.is_file():
            self.store.log_artifact(self.parent_run_id, results)
        lines = [
            f"Sweep {self.sweep_id}: {len(runs)} new run(s) (finished configs are skipped): "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            + (f" ({pruned} of them pruned: stopped early, never chosen)" if pruned else ""),
        ]
        if best is not None:
            shown = {k.removeprefix("best."): v for k, v in params.items()}
            lines.append(best_line(SCORE, best, shown, tied_runs(best, runs, SCORE)))
        if counts["FAILED"]:
            lines.append(f"{counts['FAILED']} job(s) FAILED: see traceback.txt of those runs")
        claimed = claimed_jobs(Path(str(config.hydra.sweep.dir)))
        if claimed:
            lines.append(
                f"{claimed} job(s) skipped: their configs were being trained by another sweep; "
                "run the same command again once it has ended to check they finished"
            )
        print("\n".join(lines), flush=True)
        log.debug("%s", "; ".join(lines))
