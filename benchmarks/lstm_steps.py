"""Test accuracy of the LSTM head by how it cuts the 174-value summary vector into steps.

A summary vector has no time axis; ``model=rnn`` reads it as a sequence of
``model.step_size``-wide chunks. This trains ``+preset=seed_rnn_cv`` (LSTM 128 x 2,
standardized features, early stopping and selection on validation loss) on the first
stratified folds of ``../shared/data/seed_features.csv`` for a few step sizes, and
prints each one's mean test accuracy and time::

    python benchmarks/lstm_steps.py             # 3 folds, step sizes 6, 29, 58
    python benchmarks/lstm_steps.py --folds 5
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from accuracy import run

STEP_SIZES = (6, 29, 58)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=3, help="outer folds to run (of 5)")
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        for step in STEP_SIZES:
            start = time.perf_counter()
            accs = [
                run("seed_rnn_cv", [f"model.step_size={step}", f"split.fold={fold}"], Path(tmp))[
                    "test_acc"
                ]
                for fold in range(args.folds)
            ]
            folds = ", ".join(f"{a:.3f}" for a in accs)
            print(
                f"step_size={step} ({math.ceil(174 / step)} steps): mean test accuracy "
                f"{np.mean(accs):.3f} over {args.folds} folds ({folds})"
                f"  [{time.perf_counter() - start:.0f} s]",
                flush=True,
            )


if __name__ == "__main__":
    main()
