"""ASHA against the exhaustive grid: wall time, epochs trained, and the configuration picked.

Runs the real command, ``python -m genreclf.train --multirun sweep=grid`` with the joblib
launcher (2 workers), on the seed feature table, each sweep into a fresh SQLite MLflow
store (and its Optuna study), one after another on this machine:

1. the exhaustive grid over a subgrid of ``sweep=grid``'s space with the CNN and LSTM
   heads, spanning its widths, depths, dropouts and learning rates (2 x 3 x 3 x 2 x 2 = 72
   configurations, ``trainer.max_epochs=100``);
2. the same subgrid with ``sweep.pruner=asha`` (the defaults of ``conf/sweep/_common.yaml``);
3. the whole grid's 900 configurations with ``sweep.pruner=asha`` (its ``max_epochs``
   values 50, 100, 200 are the pruner's budget: every job may train 200 epochs).

It prints each sweep's wall time, the ratio ASHA over exhaustive, the epochs trained
(the points of every job run's validation curve), the share of the workers' time spent in
jobs (``sweep_job.json``: how busy the slots were), the validation and test accuracy of
each sweep's pick (``best_run``: validation only), and the rank of ASHA's pick in the
exhaustive sweep's validation ranking::

    python benchmarks/pruning.py              # all three
    python benchmarks/pruning.py --no-full    # the subgrid only

Targets (issue 26): on the subgrid, ASHA in at most 35% of the exhaustive wall time, its
pick within 0.01 validation accuracy of the exhaustive best; the 900 configurations with
ASHA in at most 20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "seed_features.csv"
#: The subgrid: the CNN and LSTM heads over part of the grid's space (72 configurations);
#: command-line values replace those of ``hydra.sweeper.params``, key by key.
SUBGRID = [
    "model=rnn,cnn",
    "model.hidden_size=64,128,256",
    "model.num_layers=1,3,5",
    "model.dropout=0.1,0.5",
    "optimizer.lr=0.001,0.0002",
    "trainer.max_epochs=100",
    # each job trains its own 100 epochs: the params' max_epochs values would otherwise
    # make every job also log the 50- and 200-epoch runs (conf/sweep/grid.yaml)
    "sweep.share_epoch_budgets=false",
]
TARGET_RATIO, TARGET_GAP, TARGET_FULL_MIN = 0.35, 0.01, 20.0


def sweep(folder: Path, data: Path, jobs: int, *overrides: str) -> float:
    """Run one sweep in ``folder``; its wall time in seconds."""
    folder.mkdir(parents=True)
    command = [
        sys.executable, "-m", "genreclf.train", "--multirun", "sweep=grid", "data=table",
        f"data.path={data}", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}",
        *overrides,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"sweep in {folder} failed:\n{result.stderr[-3000:]}")
    return seconds


def job_runs(folder: Path) -> tuple[Any, list]:
    """The store and the job runs of the sweep in ``folder``."""
    from genreclf.tracking import names
    from genreclf.tracking.store import Store

    store = Store(f"sqlite:///{folder}/mlruns/mlflow.db")
    experiment = store.experiment_id("genreclf-grid", create=False)
    return store, store.find_runs(experiment, tags={names.ROLE_TAG: "job"})


def busy_share(folder: Path, seconds: float, jobs: int) -> float:
    """The share of the slots' time spent in jobs (each job's ``sweep_job.json`` seconds)."""
    import json

    spent = sum(json.loads(p.read_text())["seconds"] for p in folder.rglob("sweep_job.json"))
    return spent / (seconds * jobs)


def summary(name: str, folder: Path, seconds: float, jobs: int = 2) -> dict[str, Any]:
    """What one sweep cost and picked."""
    from genreclf.tracking import names
    from genreclf.tracking.selection import best_run

    store, runs = job_runs(folder)
    epochs = sum(len(store.metric_history(r.info.run_id, [names.VAL_ACC])) for r in runs)
    pick = best_run(runs)
    row = {
        "sweep": name,
        "seconds": seconds,
        "runs": len(runs),
        "pruned": sum(names.PRUNED_TAG in r.data.tags for r in runs),
        "epochs": epochs,
        "val_acc": pick.data.metrics[names.BEST_VAL_ACC],
        "test_acc": pick.data.metrics[names.TEST_ACC],
        "hash": pick.data.tags[names.HASH_TAG],
        "runs_list": runs,
    }
    print(
        f"{name}: {seconds / 60:.1f} min, {row['runs']} runs ({row['pruned']} pruned), "
        f"{epochs} epochs, slots busy {busy_share(folder, seconds, jobs):.0%}, "
        f"pick val_acc {row['val_acc']:.4f} test_acc {row['test_acc']:.4f}",
        flush=True,
    )
    return row


def rank_in(runs: list, digest: str) -> int | None:
    """The 1-based rank of the run with config hash ``digest`` in ``runs``' validation ranking."""
    from genreclf.tracking import names
    from genreclf.tracking.selection import score_of, selection_key

    ranked = sorted(
        (r for r in runs if score_of(r).ranked), key=lambda r: selection_key(score_of(r))
    )
    hashes = [r.data.tags[names.HASH_TAG] for r in ranked]
    return hashes.index(digest) + 1 if digest in hashes else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="feature table")
    parser.add_argument("--jobs", type=int, default=2, help="joblib workers (cores)")
    parser.add_argument("--no-full", action="store_true", help="skip the 900-config ASHA sweep")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="genreclf-pruning-"))
    print(f"data {args.data}, {args.jobs} workers, folders under {base}", flush=True)
    rows = []
    for name, extra in (("exhaustive subgrid", []), ("asha subgrid", ["sweep.pruner=asha"])):
        folder = base / name.replace(" ", "_")
        seconds = sweep(folder, args.data, args.jobs, *SUBGRID, *extra)
        rows.append(summary(name, folder, seconds, args.jobs))
    full = None
    if not args.no_full:
        folder = base / "asha_full"
        seconds = sweep(folder, args.data, args.jobs, "sweep.pruner=asha")
        full = summary("asha 900", folder, seconds, args.jobs)
    report(rows[0], rows[1], full)


def report(exhaustive: dict, asha: dict, full: dict | None) -> None:
    """Print the comparison and each target, met or missed."""
    ratio = asha["seconds"] / exhaustive["seconds"]
    gap = exhaustive["val_acc"] - asha["val_acc"]
    rank = rank_in(exhaustive["runs_list"], asha["hash"])
    print(f"\nASHA / exhaustive wall time: {ratio:.1%} (target <= {TARGET_RATIO:.0%}): "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}")  # fmt: skip
    print(f"epochs trained: exhaustive {exhaustive['epochs']}, asha {asha['epochs']} "
          f"({asha['epochs'] / max(exhaustive['epochs'], 1):.1%})")  # fmt: skip
    print(f"pick: exhaustive val {exhaustive['val_acc']:.4f} test {exhaustive['test_acc']:.4f}; "
          f"asha val {asha['val_acc']:.4f} test {asha['test_acc']:.4f}; asha's pick ranks "
          f"{rank} of {exhaustive['runs']} in the exhaustive validation ranking")  # fmt: skip
    print(f"validation gap {gap:+.4f} (target <= {TARGET_GAP}): "
          f"{'met' if gap <= TARGET_GAP else 'MISSED'}")  # fmt: skip
    if full is not None:
        minutes = full["seconds"] / 60
        print(f"900 configurations with ASHA: {minutes:.1f} min (target <= {TARGET_FULL_MIN:.0f}): "
              f"{'met' if minutes <= TARGET_FULL_MIN else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
