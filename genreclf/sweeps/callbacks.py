"""Hydra callback that ties a sweep's MLflow runs together.

Registered by the ``sweep`` configs under ``hydra.callbacks``. Before any job starts it
creates the sweep's experiment (once, so parallel jobs do not race to create it) and a
parent run that stands for the whole sweep; every job's run is tagged with the sweep id
and nested under that parent. When the sweep ends, the parent run gets a summary: runs
by status, the best run and its parameters, and Optuna's ``optimization_results.yaml``.
"""

from __future__ import annotations

import atexit
import logging
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from genreclf.sweeps.job import (
    PARENT_RUN_ENV,
    ROLE_TAG,
    SWEEP_ID_ENV,
    SWEEP_ID_TAG,
    SWEEP_NAME_TAG,
)

log = logging.getLogger("genreclf.sweeps")

#: Metric that sweeps maximize, logged by every training run.
SCORE = "best_val_acc"


def sweep_runs(client, experiment_id: str, sweep_id: str) -> list:
    """Every job run of sweep ``sweep_id``."""
    from genreclf.tracking.store import with_retry

    query = f"tags.`{SWEEP_ID_TAG}` = '{sweep_id}' and tags.`{ROLE_TAG}` = 'job'"
    runs, token = [], None
    while True:
        page = with_retry(
            lambda t=token: client.search_runs(
                [experiment_id], query, max_results=5000, page_token=t
            )
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


class SweepTracking(Callback):
    """Create the experiment and a parent run before a multirun; summarize it after.

    Jobs learn the sweep id and the parent run through the environment variables
    ``GENRECLF_SWEEP_ID`` and ``GENRECLF_SWEEP_PARENT_RUN``, set with
    ``hydra.job.env_set`` so that they reach jobs on any launcher (local processes,
    SLURM, Ray). If the sweep stops early (Ctrl-C, an error), the parent run ends KILLED,
    and so does any job run still RUNNING (a worker killed before it could end its run).
    """

    def __init__(self) -> None:
        self.client = None
        self.parent_run_id: str | None = None
        self.experiment_id: str | None = None
        self.sweep_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from mlflow import MlflowClient

        from genreclf.tracking.store import ensure_experiment, with_retry

        tracking = config.tracking
        name = str((config.get("sweep") or {}).get("name") or config.hydra.job.name)
        self.sweep_id = f"{name}-{uuid.uuid4().hex[:12]}"
        self.experiment_id = ensure_experiment(tracking.uri, tracking.experiment)
        self.client = MlflowClient(tracking_uri=tracking.uri)
        overrides = " ".join(config.hydra.overrides.task)
        run = with_retry(
            lambda: self.client.create_run(
                self.experiment_id,
                run_name=f"sweep {self.sweep_id}",
                tags={
                    SWEEP_ID_TAG: self.sweep_id,
                    SWEEP_NAME_TAG: name,
                    ROLE_TAG: "parent",
                    "genreclf.sweep_dir": str(config.hydra.sweep.dir),
                    "genreclf.sweep_overrides": overrides[:5000],
                    "genreclf.sweeper": str(config.hydra.sweeper.get("_target_", "")),
                    "genreclf.launcher": str(config.hydra.launcher.get("_target_", "")),
                },
            )
        )
        self.parent_run_id = run.info.run_id
        params = OmegaConf.to_container(config.hydra.sweeper.get("params") or {}, resolve=True)
        if params:
            self.client.log_text(
                self.parent_run_id, OmegaConf.to_yaml(params), "sweeper_params.yaml"
            )
        env = {SWEEP_ID_ENV: self.sweep_id, PARENT_RUN_ENV: self.parent_run_id}
        with read_write(config.hydra.overrides), open_dict(config.hydra.overrides):
            config.hydra.overrides.hydra = [
                *config.hydra.overrides.hydra,
                *(f"++hydra.job.env_set.{k}={v}" for k, v in env.items()),
            ]
        atexit.register(self._end_parent, "KILLED")
        print(
            f"Sweep {self.sweep_id}: experiment '{tracking.experiment}' "
            f"(id {self.experiment_id}), parent run {self.parent_run_id}",
            flush=True,
        )

    def _end_parent(self, status: str) -> None:
        if self.parent_run_id is None:
            return
        run_id, self.parent_run_id = self.parent_run_id, None
        atexit.unregister(self._end_parent)
        from genreclf.tracking.store import with_retry

        if status == "KILLED":
            # Parallel launchers may stop their workers without letting them end their
            # runs (joblib's loky kills its workers with SIGKILL on Ctrl-C).
            for run in sweep_runs(self.client, self.experiment_id, self.sweep_id):
                if run.info.status == "RUNNING":
                    rid = run.info.run_id
                    with_retry(lambda r=rid: self.client.set_terminated(r, "KILLED"))
        with_retry(lambda: self.client.set_terminated(run_id, status))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        try:
            self._summarize(config)
        finally:
            self._end_parent("FINISHED")

    def _summarize(self, config: DictConfig) -> None:
        from mlflow.entities import Metric, Param, RunTag

        from genreclf.tracking.store import with_retry

        runs = sweep_runs(self.client, self.experiment_id, self.sweep_id)
        counts = {s: 0 for s in ("FINISHED", "FAILED", "KILLED", "RUNNING")}
        for run in runs:
            counts[run.info.status] = counts.get(run.info.status, 0) + 1
        metrics = [Metric(f"runs_{s.lower()}", n, 0, 0) for s, n in counts.items()]
        tags, params = [], []
        scored = [r for r in runs if r.info.status == "FINISHED" and SCORE in r.data.metrics]
        best = max(scored, key=lambda r: r.data.metrics[SCORE], default=None)
        swept = list((config.hydra.sweeper.get("params") or {}).keys())
        if best is not None:
            metrics.append(Metric(SCORE, best.data.metrics[SCORE], 0, 0))
            if "test_acc" in best.data.metrics:
                metrics.append(Metric("best_run_test_acc", best.data.metrics["test_acc"], 0, 0))
            tags.append(RunTag("genreclf.best_run_id", best.info.run_id))
            values = best.data.params
            params += [Param(f"best.{k}", values[k]) for k in swept if k in values]
            if "model" in swept:
                target = best.data.params.get("model._target_", "")
                params.append(Param("best.model", target.rsplit(".", 1)[-1]))
        with_retry(
            lambda: self.client.log_batch(
                self.parent_run_id, metrics=metrics, params=params, tags=tags
            )
        )
        results = Path(str(config.hydra.sweep.dir)) / "optimization_results.yaml"
        if results.is_file():
            with_retry(lambda: self.client.log_artifact(self.parent_run_id, str(results)))
        lines = [
            f"Sweep {self.sweep_id}: {len(runs)} new run(s) (finished configs are skipped): "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
        ]
        if best is not None:
            lines.append(
                f"best {SCORE}={best.data.metrics[SCORE]:.4f} in run {best.info.run_id}: "
                + ", ".join(p.key.removeprefix("best.") + "=" + p.value for p in params)
            )
        if counts["FAILED"]:
            lines.append(f"{counts['FAILED']} job(s) FAILED: see traceback.txt of those runs")
        print("\n".join(lines), flush=True)
        log.info("%s", "; ".join(lines))
