"""Throughput of ``sweep=grid``: wall time, seconds per model type, MLflow seconds per run.

Runs the real command, ``python -m genreclf.train --multirun sweep=grid`` with the joblib
launcher, on the seed feature table, into a fresh SQLite MLflow store, then reads what
each job wrote (``sweep_job.json`` in its output folder) and what MLflow holds.

By default it runs a seeded random sample of the grid's 900 configs, each with its three
``max_epochs`` values (through :class:`SampledSweeper` below, a basic sweeper that draws
whole configs and keeps the grid's job order), and EXTRAPOLATES to the
2700 runs, net of start-up; ``--full`` runs the whole grid::

    python benchmarks/sweep_throughput.py                      # 12 configs = 36 runs
    python benchmarks/sweep_throughput.py --sample 60 --seed 1
    python benchmarks/sweep_throughput.py --full               # all 2700 runs
    python benchmarks/sweep_throughput.py -- model.step_size=29   # extra overrides

The three ``max_epochs`` values of a config share one fit (``sweep.share_epoch_budgets``,
see :mod:`genreclf.sweeps.budgets`); ``-- sweep.share_epoch_budgets=false`` times each
run's own fit.

Targets (issue 5): the full grid in at most 20 minutes on 2 cores, and at most 0.15 s
of MLflow time per run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "seed_features.csv"
GRID_RUNS = 2700
GRID_CONFIGS = 900  # the grid's configs, each run for 3 max_epochs values
GRID_MODELS = ("rnn", "cnn", "dense")
TARGET_MINUTES = 20.0
TARGET_MLFLOW_S = 0.15


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="feature table")
    parser.add_argument(
        "--sample", type=int, default=12, help="grid configs to run (x3 max_epochs values)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--full", action="store_true", help="run all 2700 grid points")
    parser.add_argument("--jobs", type=int, default=2, help="joblib workers (cores)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep outputs here")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    return parser.parse_args(argv)


#: Hydra instantiates sweepers only from the ``hydra_plugins`` namespace package: the
#: plugin shim there subclasses :class:`SampledSweeper` of this file.
PLUGIN = """import sys

sys.path.append({folder!r})
from sweep_throughput import SampledSweeper as _SampledSweeper  # noqa: E402


class SampledSweeper(_SampledSweeper):
    \"\"\"The benchmark's sampled sweeper, where Hydra looks for plugins.\"\"\"
"""
SWEEPER_CONFIG = """_target_: hydra_plugins.genreclf_sampled.SampledSweeper
max_batch_size: null
params: null
sample: null
seed: 0
shuffle: false
# Sample whole configs: each with its 3 max_epochs values, which share one fit.
keep_together: [trainer.max_epochs]
"""


class SampledSweeper(BasicSweeper):
    """Hydra's basic sweeper over ``sample`` grid points drawn at random with ``seed``.

    ``sample=None`` runs the whole grid, in a shuffled order when ``shuffle`` is true
    (which spreads slow and fast configurations evenly over the run).
    With ``keep_together`` (keys such as ``trainer.max_epochs``), jobs that differ only
    in those keys form one group: whole groups are sampled, and their jobs keep the
    grid's order (so that jobs sharing one fit, see :mod:`genreclf.sweeps.budgets`,
    stay as far apart as in the full grid). ``hydra.sweeper.params`` is as for the
    basic sweeper.
    """

    def __init__(
        self,
        max_batch_size: int | None = None,
        params: dict[str, str] | None = None,
        sample: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
        keep_together: list[str] | None = None,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.keep_together = tuple(keep_together or ())
        self.sample = sample
        self.seed = seed
        self.shuffle = shuffle

    def split_arguments(  # type: ignore[override]
        self, overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        """The grid's jobs (sampled, shuffled), in batches of ``max_batch_size``."""
        jobs: list[Any] = BasicSweeper.split_arguments(overrides, None)[0]
        rng = random.Random(self.seed)
        if self.keep_together:

            def group(job: list[str]) -> tuple[str, ...]:
                return tuple(o for o in job if o.split("=", 1)[0] not in self.keep_together)

            groups = list(dict.fromkeys(group(job) for job in jobs))
            if self.sample is not None and self.sample < len(groups):
                groups = rng.sample(groups, self.sample)
            chosen = set(groups)
            jobs = [job for job in jobs if group(job) in chosen]
        elif self.sample is not None and self.sample < len(jobs):
            jobs = rng.sample(jobs, self.sample)
        elif self.shuffle:
            rng.shuffle(jobs)
        if max_batch_size is None:
            return [jobs]
        return [jobs[i : i + max_batch_size] for i in range(0, len(jobs), max_batch_size)]


def install_sampled_sweeper(workdir: Path) -> tuple[Path, Path]:
    """Write the sampled sweeper's plugin shim and its ``hydra/sweeper=sampled`` config.

    Returns the folder to put on ``PYTHONPATH`` and the config folder to add to Hydra's
    search path.
    """
    plugins = workdir / "plugins"
    (plugins / "hydra_plugins" / "genreclf_sampled").mkdir(parents=True, exist_ok=True)
    shim = PLUGIN.format(folder=str(Path(__file__).resolve().parent))
    (plugins / "hydra_plugins" / "genreclf_sampled" / "__init__.py").write_text(shim)
    conf = workdir / "conf"
    (conf / "hydra" / "sweeper").mkdir(parents=True, exist_ok=True)
    (conf / "hydra" / "sweeper" / "sampled.yaml").write_text(SWEEPER_CONFIG)
    return plugins, conf


def run_sweep(args: argparse.Namespace, workdir: Path) -> tuple[float, Path]:
    """Run the sweep command in ``workdir``; return its wall time and the sweep folder."""
    sweep_dir = workdir / "multirun"
    command = [
        sys.executable,
        "-m",
        "genreclf.train",
        "--multirun",
        "sweep=grid",
        "data=table",
        f"data.path={args.data.resolve()}",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={args.jobs}",
        f"hydra.sweep.dir={sweep_dir}",
        f"tracking.uri=sqlite:///{workdir / 'mlruns' / 'mlflow.db'}",
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("MLFLOW_TRACKING_URI", None)
    if not args.full:
        plugins, conf = install_sampled_sweeper(workdir)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugins), env.get("PYTHONPATH")]))
        command += [
            f"hydra.searchpath=[file://{conf}]",
            "hydra/sweeper=sampled",
            f"hydra.sweeper.sample={args.sample}",
            f"hydra.sweeper.seed={args.seed}",
        ]
    # --full: the basic sweeper, in the grid's own order (max_epochs first)
    command += args.overrides
    print("command:", " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    with open(workdir / "sweep.log", "w") as log:
        result = subprocess.run(command, cwd=workdir, env=env, stdout=log, stderr=log)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"sweep failed (exit {result.returncode}); see {workdir / 'sweep.log'}")
    return wall, sweep_dir


def check_runs(uri: str) -> tuple[list, dict]:
    """Job runs of the store, and counts of runs lacking params, curves or test metrics."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("genreclf-grid")
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`genreclf.sweep_role` = 'job'", max_results=50000
    )
    missing = {"params": 0, "curves": 0, "test metrics": 0}
    for run in runs:
        if run.info.status != "FINISHED":
            continue
        if "model.hidden_size" not in run.data.params:
            missing["params"] += 1
        if not {"test_acc", "test_f1"} <= set(run.data.metrics):
            missing["test metrics"] += 1
        history = client.get_metric_history(run.info.run_id, "val_loss")
        if len(history) < 2:
            missing["curves"] += 1
    return runs, missing


def report(args: argparse.Namespace, wall: float, sweep_dir: Path, uri: str) -> None:
    """Print the figures."""
    jobs = [json.loads(p.read_text()) for p in sweep_dir.glob("*/sweep_job.json")]
    runs, missing = check_runs(uri)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    n = len(jobs)
    if n == 0 or not runs:
        sys.exit("no job ran")
    trained = [j for j in jobs if j["status"] != "SKIPPED"]
    # The first job of each worker process also pays the imports and the tracking store's
    # set-up: that is start-up, so per-run figures use the other jobs where there are any.
    warm = [j for j in trained if not j.get("first_in_process")] or trained
    first = [j for j in trained if j.get("first_in_process")]
    starts = [r.info.start_time for r in runs]
    ends = [r.info.end_time for r in runs if r.info.end_time]
    net = (max(ends) - min(starts)) / 1000.0
    by_model: dict[str, list[float]] = defaultdict(list)
    for job in warm:
        by_model[job["model"]].append(job["seconds"])
    statuses = defaultdict(int)
    for job in jobs:
        statuses[job["status"]] += 1
    # MLflow time per run: every job's store time (a trained job's includes the runs it
    # logged for the other epoch budgets; a skipped job's is its lookup), per run logged.
    counted = [j for j in jobs if not j.get("first_in_process")] or jobs
    counted_runs = sum(j.get("runs_logged", 0) for j in counted)
    mean_mlflow = sum(j.get("mlflow_seconds", 0.0) for j in counted) / max(counted_runs, 1)

    sampled = not args.full
    print()
    print("=" * 72)
    print(f"sweep=grid throughput, {args.jobs} joblib workers, data {args.data}")
    if sampled:
        print(
            f"SAMPLE: {n} of {GRID_RUNS} grid jobs ({args.sample} configs drawn at random with"
            f" seed {args.seed}, each with its {GRID_RUNS // GRID_CONFIGS} max_epochs values);"
        )
        print("grid figures below are EXTRAPOLATED from this sample, net of start-up.")
    print(f"jobs: {n}  ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
    print(f"runs in MLflow: {len(runs)} ({len(finished)} FINISHED)")
    print(f"wall time of the command: {wall:.1f} s")
    print(f"  start-up (command start to first run, and last run to exit): {wall - net:.1f} s")
    print(f"  runs (first run start to last run end): {net:.1f} s")
    print(f"  per run, wall, all workers together: {net / len(runs):.3f} s")
    if first and len(warm) < len(trained):
        extra = statistics.mean(j["seconds"] for j in first)
        print(
            f"  first job of each of {len(first)} worker(s), with imports and store set-up: "
            f"{extra:.1f} s mean (left out of the per-job figures below)"
        )
    print("per-config seconds of the jobs that trained (one worker, one fit for all epoch")
    print("budgets, incl. MLflow; mean / median / max, count):")
    for model in GRID_MODELS:
        values = by_model.get(model, [])
        if values:
            print(
                f"  {model:6s} {statistics.mean(values):7.2f} / {statistics.median(values):7.2f}"
                f" / {max(values):7.2f} s  (n={len(values)})"
            )
        else:
            print(f"  {model:6s} not in the sample")
    skipped = [j for j in jobs if j["status"] == "SKIPPED"]
    if skipped:
        waited = statistics.mean(j.get("waited_seconds", 0.0) for j in skipped)
        print(
            f"jobs that found their run done: {statistics.mean(j['seconds'] for j in skipped):.3f}"
            f" s mean, of which {waited:.3f} s waiting for a sibling's fit to end"
        )
    print(
        f"MLflow seconds per run: {mean_mlflow:.3f} over {counted_runs} runs"
        f"  (target <= {TARGET_MLFLOW_S})"
    )
    print(
        "runs lacking params / per-epoch curves / test metrics: "
        + ", ".join(f"{v}" for v in missing.values())
    )
    by_run = net / len(runs) * GRID_RUNS / 60
    if sampled:
        per_model = [statistics.mean(by_model[m]) for m in GRID_MODELS if by_model.get(m)]
        if len(per_model) == len(GRID_MODELS):
            fits = sum(per_model) * (GRID_CONFIGS / 3) / args.jobs / 60
            print(
                f"EXTRAPOLATED full grid, fits only (per-model means x {GRID_CONFIGS // 3} "
                f"configs each / {args.jobs} workers): {fits:.1f} min"
            )
        print(f"EXTRAPOLATED full grid (sample's wall per run x {GRID_RUNS}): {by_run:.1f} min")
    else:
        print(f"full grid: {net / 60:.1f} min of runs, {wall / 60:.1f} min in all")
    verdict = "meets" if by_run <= TARGET_MINUTES else "MISSES"
    print(f"target: full grid <= {TARGET_MINUTES:.0f} min -> {verdict} ({by_run:.1f} min)")
    verdict = "meets" if mean_mlflow <= TARGET_MLFLOW_S else "MISSES"
    print(f"target: MLflow <= {TARGET_MLFLOW_S} s per run -> {verdict} ({mean_mlflow:.3f} s)")
    print(f"load average during the run: {os.getloadavg()}")
    print("=" * 72)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.data.exists():
        sys.exit(f"no such feature table: {args.data}")
    with tempfile.TemporaryDirectory(prefix="sweep-throughput-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        wall, sweep_dir = run_sweep(args, workdir)
        report(args, wall, sweep_dir, f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")


if __name__ == "__main__":
    main()
