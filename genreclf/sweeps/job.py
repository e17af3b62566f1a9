"""One job of a sweep: skip it if already finished, else train it inside its own run."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from genreclf.sweeps.budgets import epoch_budgets, wait_for_shared_fit
from genreclf.sweeps.hashing import config_hash
from genreclf.sweeps.progress import (
    JobValue,
    PrunedValue,
    job_line,
    job_score,
    say_job_line,
    scores,
)
from genreclf.sweeps.runs import (
    LAUNCHER_ENV,
    SWEEP_ID_ENV,
    adopt,
    finished_runs,
    live_claims,
    log_equivalent_run,
    rival_claim,
    sweep_tags,
    trained_by,
)
from genreclf.tracking import names
from genreclf.tracking.selection import Score, score_of

log = logging.getLogger("genreclf.sweeps")

#: File each job writes in its output folder: job number, model, status, run id, runs
#: logged, seconds in all, seconds spent in the tracking store, and seconds waited for a
#: sibling's shared fit (read by benchmarks/sweep_throughput.py).
TIMING_FILE = "sweep_job.json"

_JOBS_IN_PROCESS = 0
_WATCHING = False

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


def sweep_job(cfg: DictConfig, train: Callable[[DictConfig], dict[str, Any]]) -> float:
    """Run ``train(cfg)`` as one job of a multirun; return the value sweepers optimize.

    That value is the run's validation accuracy, as a
    :class:`~genreclf.sweeps.progress.JobValue` that also carries the run's
    :class:`~genreclf.tracking.selection.Score` (for the sweep's best so far).

    - The job's torch threads follow :func:`job_threads`.
    - With ``sweep.resume`` (default true), a config that already has a FINISHED
      run in the experiment is skipped: no run is created, and that run's
      score is returned. A config whose effective config (its config hash, see
      :mod:`genreclf.sweeps.hashing`) trained under other values of parameters its model
      ignores is not trained either: its run is logged from that run
      (:func:`~genreclf.sweeps.runs.log_equivalent_run`, tagged
      ``genreclf.trained_by``). With shared epoch budgets
      (:mod:`genreclf.sweeps.budgets`), a job first waits for a sibling's fit that is
      running, since that fit logs this job's run. A config that another sweep is
      training now (a live RUNNING claim, see :func:`genreclf.sweeps.runs.rival_claim`)
      is skipped too (status ``CLAIMED``); RUNNING runs whose process is gone are ended
      KILLED first, and their config is trained again.
    - Otherwise the job's MLflow run is opened here, tagged by :func:`sweep_tags` and
      given the resolved params, before ``train`` runs (``train`` joins it), so that any
      failure, even a config check, ends as a FAILED run with its traceback. The error is
      logged and NaN is returned, so that the sweep carries on (Optuna records the trial
      as failed). Ctrl-C still stops the sweep, and ends the run as KILLED.
    - In a pruned sweep (``sweep.trial`` set, :mod:`genreclf.sweeps.pruning`), the job
      runs that Optuna trial and tells the study how it ended: COMPLETE with its value,
      PRUNED (its run tagged ``genreclf.pruned_at_epoch``), or FAIL.
    """
    from hydra.core.hydra_config import HydraConfig

    from genreclf.sweeps.pruning import close_trial, open_trial

    hydra = HydraConfig.get()
    start = time.perf_counter()
    resume = bool((cfg.get("sweep") or {}).get("resume", True))
    job = _Job(cfg, config_hash(cfg), resume, _new_timing(hydra), start)
    trial = open_trial(cfg.get("sweep"), str(cfg.tracking.uri))  # a pruned sweep's trial
    value: float = math.nan
    try:
        done = _resumed(job) if resume else None
        if done is not None:
            value = done
            return done
        job.lookup_seconds = job.seconds() - job.timing.get("waited_seconds", 0.0)
        _settle_job(hydra)
        watch_launcher()
        value = _train_job(job, train)
        return value
    finally:
        close_trial(trial, *trial_outcome(value), run_id=job_score(value).run_id)


def trial_outcome(value: float) -> tuple[str, float | None]:
    """How a job's trial ended, by the job's value: its state, and what it tells the study."""
    from genreclf.sweeps.study import selection_value

    if isinstance(value, PrunedValue):
        return "PRUNED", None
    score = job_score(value)
    if not score.ranked:
        return "FAIL", None
    return "COMPLETE", selection_value(score.val_acc, score.val_loss)


def _new_timing(hydra: Any) -> dict[str, Any]:
    """The start of the job's ``sweep_job.json`` record; counts the job in this process."""
    global _JOBS_IN_PROCESS
    timing = {
        "job_num": hydra.job.num,
        "model": hydra.runtime.choices.get("model"),
        "pid": os.getpid(),
        "first_in_process": _JOBS_IN_PROCESS == 0,  # pays the imports and store set-up
    }
    _JOBS_IN_PROCESS += 1
    return timing


def _settle_job(hydra: Any) -> None:
    """Set the job's torch threads (:func:`job_threads`) and quiet Lightning's banners."""
    threads = job_threads(hydra.launcher)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if not hydra.verbose:
        for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)  # no per-job banners


@dataclass
class _Job:
    """A job that trains: its config, config hash, and its timing so far."""

    cfg: DictConfig
    digest: str
    resume: bool
    timing: dict[str, Any]
    start: float
    lookup_seconds: float = 0.0  # seconds spent looking for earlier runs in the store

    def seconds(self) -> float:
        """Seconds since the job started."""
        return time.perf_counter() - self.start


def _train_job(job: _Job, train: Callable[[DictConfig], dict[str, Any]]) -> float:
    """Train ``job`` inside its own run (see :func:`sweep_job`); its value, NaN on failure."""
    from genreclf.tracking.run import tracked_run

    cfg, timing = job.cfg, job.timing
    status, value, writer = names.KILLED, math.nan, None
    try:
        with tracked_run(cfg.tracking, sweep_tags(cfg, job.digest)) as writer:
            claimed, value, outcome = _claim_and_train(job, writer, train)
        status = "CLAIMED" if claimed else names.FINISHED
        if writer.spool_path is not None:  # the store did not answer at the end
            timing["spooled"] = str(writer.spool_path)
            outcome += f"; {spooled_note(writer.spool_path)}"
        _say_ended(cfg, outcome, job.seconds())
    except Exception as exc:
        status = names.FAILED
        log.exception("job %s failed; its run is FAILED, the sweep goes on", timing["job_num"])
        run = "" if writer is None else f" of run {writer.run_id}"
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        _say_ended(cfg, f"FAILED: {why} (see traceback.txt{run})", job.seconds())
    finally:
        _write_timing(
            timing
            | {
                "status": status,
                "run_id": None if writer is None else writer.run_id,
                "seconds": job.seconds(),
                "mlflow_seconds": job.lookup_seconds + getattr(writer, "store_seconds", 0.0),
            }
        )
    return value


def _claim_and_train(
    job: _Job, writer: Any, train: Callable[[DictConfig], dict[str, Any]]
) -> tuple[bool, float, str]:
    """In the job's open run: give way to a rival claim, else train.

    Returns whether a rival claimed the config, the job's value and its outcome line.
    """
    cfg, rival = job.cfg, None
    if job.resume and not writer.offline:
        rival = _unless_store_away(
            lambda: rival_claim(cfg.tracking, job.digest, writer.run_id), None
        )
    if rival is not None:  # another job opened its run for this config first
        writer.discard()
        return True, math.nan, f"skipped: claimed by run {rival.info.run_id}"
    writer.log_config(OmegaConf.to_container(cfg, resolve=True))
    from genreclf.sweeps.pruning import Pruned

    try:
        result = train(cfg)
    except Pruned as stop:  # its curves are logged; it is neither selected nor tested
        return False, PrunedValue(stop.epochs), str(stop)
    value = JobValue(
        Score(
            float(result["val_acc"]),
            float(result.get("val_loss", math.nan)),
            writer.start_time,
            writer.run_id,
        )
    )
    job.timing["runs_logged"] = 1 + len(result.get("budget_runs", []))
    return False, value, scores(value, float(result["test_acc"]))


def _resumed(job: _Job) -> float | None:
    """The value of a job that needs no training (see :func:`sweep_job`), else ``None``.

    Its config FINISHED before (skipped), an equivalent config FINISHED (its run is
    logged from that run), or another sweep is training it now (``CLAIMED``: NaN). A
    job of this sweep that trains an equivalent config now is waited for first.
    """
    cfg, digest, timing = job.cfg, job.digest, job.timing
    budgets = epoch_budgets(cfg)
    if budgets:
        waited = time.perf_counter()
        wait_for_shared_fit(cfg, budgets)
        timing["waited_seconds"] = time.perf_counter() - waited
    live = _unless_store_away(lambda: live_claims(cfg.tracking, digest), [])
    if live and _same_sweep(live[0]):  # a sibling trains an equivalent config: wait for it
        waited = time.perf_counter()
        _wait_until_ended(cfg, live[0].info.run_id)
        timing["waited_seconds"] = timing.get("waited_seconds", 0.0) + (
            time.perf_counter() - waited
        )
        live = _unless_store_away(lambda: live_claims(cfg.tracking, digest), [])
    own, equivalent = _unless_store_away(lambda: finished_runs(cfg, digest), (None, None))
    if own is not None or equivalent is not None:
        return _finished_before(job, own, equivalent)
    if live:
        outcome = f"skipped: run {live[0].info.run_id} of another sweep trains it"
        _end_untrained(job, "CLAIMED", outcome, job.seconds(), 0)
        return math.nan
    return None


def _finished_before(job: _Job, own: Any, equivalent: Any) -> float:
    """Skip a job whose config (``own``) or an ``equivalent`` one FINISHED; its value.

    The run of an equivalent config is logged again as this job's run; this job's own
    run is tagged with its job number (:func:`~genreclf.sweeps.runs.adopt`).
    """
    done = own or equivalent
    status, outcome = "SKIPPED", f"skipped: already FINISHED as run {done.info.run_id}"
    pruned_at = done.data.tags.get(names.PRUNED_TAG)
    if own is None:
        name = _run_name(job.cfg)
        run_id = log_equivalent_run(job.cfg, job.digest, equivalent, name or None)
        status, outcome = "LOGGED", f"run {run_id}: trained by run {trained_by(equivalent)}"
        job.timing["run_id"] = run_id
    else:
        adopt(job.cfg.tracking, own)
    seconds = job.seconds()
    metrics = done.data.metrics
    acc = scores(metrics.get(names.BEST_VAL_ACC, math.nan), metrics.get(names.TEST_ACC, math.nan))
    acc = f"pruned at epoch {pruned_at}" if pruned_at else acc
    store = seconds - job.timing.get("waited_seconds", 0.0)
    _end_untrained(job, status, f"{outcome} ({acc})", seconds, store)
    return PrunedValue(int(pruned_at)) if pruned_at else JobValue(score_of(done))


def _end_untrained(
    job: _Job, status: str, outcome: str, seconds: float, mlflow_seconds: float
) -> None:
    """Print the end-of-job line of a job that trained nothing, and write its timing."""
    _say_ended(job.cfg, outcome, seconds)
    _write_timing(
        job.timing | {"status": status, "seconds": seconds, "mlflow_seconds": mlflow_seconds}
    )


def _same_sweep(run: Any) -> bool:
    """Whether ``run`` belongs to the sweep this job is part of."""
    sweep_id = os.environ.get(SWEEP_ID_ENV)
    return bool(sweep_id) and run.data.tags.get(names.SWEEP_ID_TAG) == sweep_id


def _wait_until_ended(
    cfg: DictConfig, run_id: str, poll_s: float = 0.5, max_wait_s: float = 1800.0
) -> None:
    """Wait while run ``run_id`` is RUNNING with its process alive (at most ``max_wait_s``)."""
    from genreclf.tracking.liveness import is_ghost
    from genreclf.tracking.run import store_for

    store = store_for(cfg.tracking)
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        run = store.get_run(run_id)
        if run.info.status != names.RUNNING or is_ghost(run):
            return
        time.sleep(poll_s)


def _unless_store_away(lookup: Callable[[], Any], default: Any) -> Any:
    """``lookup()``, or ``default`` if the tracking store does not answer (the job trains).

    A store that stops answering mid-sweep must not cost the job: it trains, and its
    run is spooled (see :mod:`genreclf.tracking.spool`).
    """
    from genreclf.core.errors import one_line
    from genreclf.tracking.spool import unreachable

    try:
        return lookup()
    except Exception as exc:
        if not unreachable(exc):
            raise
        log.warning("tracking store does not answer (%s): the job trains", one_line(exc))
        return default


def spooled_note(path: Path) -> str:
    """The end-of-job note of a run left spooled at ``path``."""
    from hydra.core.hydra_config import HydraConfig

    sweep_dir = HydraConfig.get().sweep.dir
    return (
        f"tracking store away: run kept in {path.parent}; the next run of this sweep, or "
        f"python -m genreclf.sync {sweep_dir}, uploads it"
    )


def watch_launcher(poll_s: float = 2.0) -> None:
    """End this worker process when the process that launched the sweep has died.

    The launching process's host and PID reach every job as ``GENRECLF_SWEEP_LAUNCHER``
    (``<host>:<pid>``, set by :class:`~genreclf.sweeps.callbacks.SweepTracking`). A job
    that runs in another process on the same host (a joblib/loky worker) watches it
    from a daemon thread, so that workers do not live on as orphans after a
    ``kill -9`` of the sweep: the job's run is then a ghost, ended KILLED by the next
    sweep or report.
    """
    global _WATCHING
    value = os.environ.get(LAUNCHER_ENV, "")
    host, _, pid = value.rpartition(":")
    if _WATCHING or not pid.isdigit() or int(pid) == os.getpid():
        return
    from genreclf.tracking.liveness import host as this_host

    if host != this_host():
        return
    import threading

    launcher, child = int(pid), os.getppid() == int(pid)

    def gone() -> bool:
        if child:  # re-parented: the launcher died (even as an unreaped zombie)
            return os.getppid() != launcher
        try:
            os.kill(launcher, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        try:  # a zombie is dead too
            return Path(f"/proc/{launcher}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            return False

    def watch() -> None:
        while not gone():
            time.sleep(poll_s)
        log.warning("the sweep's launching process %s is gone; this worker exits", launcher)
        os._exit(70)

    threading.Thread(target=watch, name="genreclf-launcher-watch", daemon=True).start()
    _WATCHING = True


def _say_ended(cfg: DictConfig, outcome: str, seconds: float) -> None:
    """Print the job's one end-of-job line (see :func:`genreclf.sweeps.progress.job_line`)."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    line = job_line(
        int(hydra.job.num), _run_name(cfg), list(hydra.overrides.task), outcome, seconds
    )
    say_job_line(line)  # printed here, or by the launching process (parallel launchers)


def _run_name(cfg: DictConfig) -> str:
    """The job's run name: ``tracking.run_name``, else the automatic one ("" if unresolvable)."""
    from genreclf.models.build import model_choice
    from genreclf.tracking.run import auto_run_name

    try:
        chosen = OmegaConf.select(cfg, "tracking.run_name")
        return str(chosen or auto_run_name(config_hash(cfg), model=model_choice(cfg)) or "")
    except Exception:  # an unresolvable name does not hide the outcome
        return ""


def _write_timing(record: dict[str, Any]) -> None:
    """Write ``record`` as ``sweep_job.json`` in the job's output folder."""
    from hydra.core.hydra_config import HydraConfig

    folder = Path(HydraConfig.get().runtime.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TIMING_FILE).write_text(json.dumps(record))
