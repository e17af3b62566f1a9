"""Validation-only model selection with genreclf's own pipeline, shared by the benchmarks.

Each run composes ``conf/config.yaml`` with Hydra overrides and calls
``genreclf.train.train`` in-process, quietly (no progress bar, no model or artifacts
logged, MLflow in a sqlite store under the benchmark's temporary ``workdir``). A run is
whatever its overrides name: one model, or a *configuration* across folds and seeds
(``split=kfold`` without ``split.fold``, ``repeats=N``; see :mod:`genreclf.protocol`),
whose result holds its means, standard deviations and test interval.

- :func:`choose`: train every candidate on the same split(s); the pick is the run that
  :func:`genreclf.tracking.selection.best_run` ranks first in the benchmark's store
  (validation accuracy, a configuration's mean; then validation loss, then the earlier
  run), and only the pick's test accuracy is reported by the callers;
- :func:`nested_kfold` (``benchmarks/accuracy.py``): :func:`choose` on each outer fold of
  ``split=kfold split.fold=i``, so that each fold's test part never chooses.

Every run also scores its test part (``train`` always does), but those numbers are never
used to choose.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from genreclf.cli import CONFIG_DIR
from genreclf.split import SPLITS
from genreclf.tracking.selection import best_run
from genreclf.tracking.store import Store
from genreclf.train import train

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PARTS = ("train", "valid", "test")
FAULT_LISTS = SHARED / "gtzan_splits" / "fault_filtered"

KFOLD = ["split=kfold"]
FILES = ["split=files"]

#: Overrides that make a run quiet and cheap to track (besides the MLflow store).
QUIET = [
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "tracking.log_model=false",
    "tracking.log_artifacts=false",
    "++tracking.flush_every_s=60",  # metrics in a few batches, not one write per step
]


def quiet_logging() -> None:
    """Silence Lightning's info lines and library warnings (the benchmarks print summaries)."""
    import mlflow  # noqa: F401  (their imports set their loggers' levels: set ours after)
    import pytorch_lightning  # noqa: F401

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "mlflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def tracking_uri(workdir: Path) -> str:
    """The MLflow store of the runs under ``workdir``."""
    return f"sqlite:///{workdir}/mlflow.db"


def run(overrides: list[str], workdir: Path) -> dict:
    """Compose the config with ``overrides`` (quietly, tracked under ``workdir``) and train."""
    quiet = [
        *QUIET,
        f"tracking.uri={tracking_uri(workdir)}",
        f"hydra.runtime.output_dir={tempfile.mkdtemp(dir=workdir)}",
    ]
    if "split=files" in overrides:  # absolute list paths, whatever the cwd
        quiet += [f"split.{part}={FAULT_LISTS / f'{part}_filtered.txt'}" for part in PARTS]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[*quiet, *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):  # a Hydra app's task sees no `hydra` node
        del cfg["hydra"]
    with contextlib.redirect_stdout(io.StringIO()):  # each run's report; callers summarize
        return train(cfg)


def choose(
    candidates: dict[str, list[str]], extra: list[str], workdir: Path, names: list[str]
) -> tuple[str, dict, dict]:
    """Train every candidate; return the chosen name, its result, and all results.

    The choice is :func:`~genreclf.tracking.selection.best_run` over the candidates'
    runs in the ``workdir`` store (validation only; see the module docstring).
    """
    # the candidate's overrides come last, so they override the base's
    results = {name: run([*extra, *candidates[name]], workdir) for name in names}
    by_run = {result["run_id"]: name for name, result in results.items()}
    store = Store(tracking_uri(workdir))
    best = by_run[best_run(store.get_run(run_id) for run_id in by_run).info.run_id]
    return best, results[best], results


def nested_kfold(
    candidates: dict[str, list[str]],
    base: list[str],
    workdir: Path,
    names: list[str],
    n_folds: int,
) -> Iterator[tuple[int, list[str], str, dict, dict]]:
    """:func:`choose` on outer folds ``0 .. n_folds-1`` of ``split=kfold``, one at a time.

    Yields ``(fold, fold_overrides, chosen_name, chosen_result, all_results)``, where
    ``fold_overrides`` is ``base`` with the fold's split (to rerun the pick).
    """
    for fold in range(n_folds):
        extra = [*base, *KFOLD, f"split.fold={fold}"]
        yield fold, extra, *choose(candidates, extra, workdir, names)


def val_scores(results: dict[str, dict]) -> str:
    """``name=0.123  name=0.456``: each candidate's validation accuracy (a mean for a
    configuration)."""
    return "  ".join(f"{n}={r['val_acc']:.3f}" for n, r in results.items())


def mean_std(scores: list[float]) -> str:
    """``0.123 ± 0.045``."""
    return f"{np.mean(scores):.3f} ± {np.std(scores):.3f}"


def outer_folds(
    labels: np.ndarray, tracks: np.ndarray, folds: list[int], n_splits: int = 5
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows of ``split=kfold``'s outer folds: (training + validation rows, test rows)."""
    outer = []
    for fold in folds:  # conf/split/kfold.yaml's split (its validation share and seed)
        split = SPLITS.option("kfold", n_splits=n_splits, fold=fold)
        train_rows, val_rows, test_rows = split(labels, tracks)
        outer.append((np.concatenate([train_rows, val_rows]), test_rows))
    return outer


#: A chosen candidate run again with a refit (genreclf/refit.py): the same first fit
#: (deterministic), then 5 seeds fit on training + validation rows for the epochs it chose.
#: One model only: ``refit`` is refused for a configuration of several folds or seeds.
REFIT = ["refit=train_val", "refit.seeds=5"]
REFIT_LABEL = "refit on train + validation, 5-seed ensemble"
