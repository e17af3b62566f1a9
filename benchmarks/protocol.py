"""Validation-only model selection with genreclf's own pipeline, shared by the benchmarks.

Each run composes ``conf/config.yaml`` with Hydra overrides and calls
``genreclf.train.train`` in-process, quietly (no progress bar, no model or artifacts
logged, MLflow in a sqlite store under the benchmark's temporary ``workdir``). The
protocols:

- :func:`choose`: train every candidate setting on the same split; the candidate with
  the best validation accuracy (the earlier one on ties) is picked, and only the pick's
  test accuracy is reported by the callers;
- :func:`nested_kfold`: :func:`choose` on each outer fold of ``split=kfold`` (validation
  carved out of the training folds), so that each fold's test part never chooses.

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
from genreclf.split import KFoldSplit
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


def run(overrides: list[str], workdir: Path) -> dict:
    """Compose the config with ``overrides`` (quietly, tracked under ``workdir``) and train."""
    quiet = [
        *QUIET,
        f"tracking.uri=sqlite:///{workdir}/mlflow.db",
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
    """Train every candidate; return the validation-chosen name, its result, and all val scores."""
    # the candidate's overrides come last, so they override the base's
    results = {name: run([*extra, *candidates[name]], workdir) for name in names}
    val = {name: r["val_acc"] for name, r in results.items()}
    best = max(names, key=lambda name: val[name])  # max keeps the first of ties
    return best, results[best], val


def nested_kfold(
    candidates: dict[str, list[str]],
    base: list[str],
    workdir: Path,
    names: list[str],
    n_folds: int,
) -> Iterator[tuple[int, list[str], str, dict, dict]]:
    """:func:`choose` on outer folds ``0 .. n_folds-1`` of ``split=kfold``.

    Yields ``(fold, fold_overrides, chosen_name, chosen_result, validation_scores)``,
    where ``fold_overrides`` is ``base`` with the fold's split (to rerun the pick).
    """
    for fold in range(n_folds):
        extra = [*base, *KFOLD, f"split.fold={fold}"]
        yield fold, extra, *choose(candidates, extra, workdir, names)


def val_scores(val: dict[str, float]) -> str:
    """``name=0.123  name=0.456`` for a candidate-to-validation-accuracy dict."""
    return "  ".join(f"{n}={v:.3f}" for n, v in val.items())


def mean_std(scores: list[float]) -> str:
    """``0.123 ± 0.045``."""
    return f"{np.mean(scores):.3f} ± {np.std(scores):.3f}"


def outer_folds(
    labels: np.ndarray, tracks: np.ndarray, folds: list[int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows of ``split=kfold``'s outer folds: (training + validation rows, test rows)."""
    outer = []
    for fold in folds:  # the default kfold split (5 folds, 0.15 validation, seed 42)
        train_rows, val_rows, test_rows = KFoldSplit(5, fold, 0.15, 42)(labels, tracks)
        outer.append((np.concatenate([train_rows, val_rows]), test_rows))
    return outer


#: A chosen candidate run again with a refit (genreclf/refit.py): the same first fit
#: (deterministic), then 5 seeds fit on training + validation rows for the epochs it chose.
REFIT = ["refit=train_val", "refit.seeds=5"]
REFIT_LABEL = "refit on train + validation, 5-seed ensemble"
