"""The report at scale: peak memory and time with two configuration runs of N paired rows.

For each row count, a fresh SQLite store gets two configuration runs (tag
``genreclf.sweep_role=config``), logged with MLflow's client directly, each with its
selection metrics and a ``predictions.parquet`` of N rows (track, fold, seed, true genre
and ten genre probabilities) on the same tracks, folds and seeds: N paired rows. Then
the real ``python -m genreclf.report`` runs as a subprocess, and its peak resident memory
(``os.wait4``'s ``ru_maxrss``) and wall time are printed.

    python benchmarks/report_scale.py                       # 1,000, 10,000, 100,000 rows
    python benchmarks/report_scale.py --rows 1000 --keep /tmp/scale

Target (issue 29): under 1 GB and under 60 s at 100,000 rows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric

from genreclf.tracking import names

GENRES = [f"genre{i}" for i in range(10)]
EXPERIMENT = "scale"


def predictions(rows: int, accuracy: float, seed: int) -> pd.DataFrame:
    """``rows`` pooled test predictions: 5 folds, 3 seeds, right about ``accuracy`` of the time."""
    rng = np.random.default_rng(seed)
    true = np.arange(rows) % len(GENRES)
    probs = rng.random((rows, len(GENRES)))
    right = rng.random(rows) < accuracy
    probs[right, true[right]] += 10.0  # the true genre wins on the rows it gets right
    probs /= probs.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {
            "track": [f"track{i // 3:07d}.wav" for i in range(rows)],
            "fold": (np.arange(rows) // 3) % 5,
            "seed": 42 + np.arange(rows) % 3,
            "true_genre": np.asarray(GENRES)[true],
        }
    )
    return pd.concat([frame, pd.DataFrame(probs, columns=GENRES)], axis=1)


def make_store(folder: Path, rows: int) -> str:
    """A SQLite store under ``folder`` with two configuration runs of ``rows`` rows each."""
    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    (folder / "mlruns").mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(EXPERIMENT, (folder / "mlruns" / "art").as_uri())
    for index, accuracy in enumerate((0.72, 0.70)):
        run = client.create_run(
            experiment,
            run_name=f"config-{index}",
            tags={names.ROLE_TAG: names.CONFIG_ROLE, names.MODEL_TAG: "dense"},
        )
        now = int(time.time() * 1000)
        scores = {
            names.BEST_VAL_ACC: accuracy,
            names.BEST_VAL_LOSS: 1.0 - accuracy,
            names.TEST_ACC: accuracy,
            names.TEST_F1: accuracy,
        }
        metrics = [Metric(key, value, now, 0) for key, value in scores.items()]
        client.log_batch(run.info.run_id, metrics=metrics)
        path = folder / names.PREDICTIONS_ARTIFACT
        predictions(rows, accuracy, seed=index).to_parquet(path, index=False)
        client.log_artifact(run.info.run_id, str(path))
        path.unlink()
        client.set_terminated(run.info.run_id, names.FINISHED)
    return uri


def measure(folder: Path, uri: str) -> tuple[float, float, int, str]:
    """Run the report; return its wall seconds, peak RSS in MiB, exit status and output."""
    command = [
        sys.executable, "-m", "genreclf.report", f"tracking.uri={uri}",
        f"experiment={EXPERIMENT}", "pca=false", "log_to_mlflow=false",
        f"output_dir={folder / 'report'}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    log = folder / "report.log"
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode, log.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--keep", type=Path, help="keep the stores and reports in this folder")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="report_scale-"))
    print(f"{'paired rows':>12} {'wall s':>8} {'peak MiB':>9}  paired table")
    for rows in args.rows:
        folder = base / f"rows{rows}"
        uri = make_store(folder, rows)
        seconds, peak, status, output = measure(folder, uri)
        if status != 0:
            sys.exit(f"report failed at {rows} rows (exit {status}):\n{output[-3000:]}")
        table = folder / "report" / "paired.csv"
        paired = pd.read_csv(table)["paired"].iloc[0] if table.is_file() else "missing"
        print(f"{rows:>12,} {seconds:>8.1f} {peak:>9.0f}  {paired} pairs")


if __name__ == "__main__":
    main()
