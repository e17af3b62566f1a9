"""Where a grid job's time goes: milliseconds per epoch, plain torch against Lightning.

For each of the grid's heads and shapes (``sweep=grid``: rnn, cnn, dense; widths 64,
128, 256; depths 1 to 5), on ``../shared/data/seed_features.csv`` with one torch thread,
it times one epoch (training batches, then validation) two ways, with the same
datamodule, head and optimizer that ``python -m genreclf.train sweep=grid`` builds:

- **torch**: a bare loop (forward, loss, backward, optimizer step; then the
  validation forward pass), the floor of what any training loop pays;
- **lightning**: ``Trainer.fit`` with the sweep's callbacks (early stopping that never
  triggers here, in-memory best weights) and no logger.

Each figure is the median of ``--epochs`` epochs after a warm-up epoch. The gap is the
loop's own cost per epoch. It prints both per shape, and the means over the grid's 15
shapes of each head::

    python benchmarks/epoch_cost.py                 # all 45 shapes, median of 7 epochs each
    python benchmarks/epoch_cost.py --quick         # widths 64 and 256, depths 1 and 5
    python benchmarks/epoch_cost.py -- optimizer.fused=false
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from itertools import product
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from pytorch_lightning import Callback
from torch import nn

from genreclf import build
from genreclf.config.checks import check_train_config
from genreclf.config.runconfig import CONFIG_DIR
from genreclf.features.table import FeatureTable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "seed_features.csv"
HEADS = ("rnn", "cnn", "dense")


def grid_config(head: str, width: int, depth: int, epochs: int, extra: list[str]):
    """``sweep=grid``'s config for one shape, with ``epochs`` epochs and no early stop."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                "sweep=grid",
                f"model={head}",
                f"model.hidden_size={width}",
                f"model.num_layers={depth}",
                f"trainer.max_epochs={epochs}",
                f"callbacks.early_stopping.patience={epochs}",
                "trainer.default_root_dir=null",
                *extra,
            ],
        )


def torch_epoch_ms(module: nn.Module, datamodule, epochs: int) -> float:
    """Median milliseconds of a bare epoch (train batches, then validation), after a warm-up."""
    optimizer = module.configure_optimizers()
    loss = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        module.train()
        for x, y, _ in datamodule.train_dataloader():
            optimizer.zero_grad()
            loss(module(x), y).backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            for x, _, _ in datamodule.val_dataloader():
                module(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1e3


class EpochTimer(Callback):
    """Wall time of each training epoch, its validation included."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # after validation
        self.times.append(time.perf_counter() - self.start)


def lightning_epoch_ms(config, module, datamodule, epochs: int) -> float:
    """Median milliseconds of an epoch of ``Trainer.fit``, after a warm-up epoch."""
    timer = EpochTimer()
    callbacks = [*build.callbacks(config), timer]
    trainer = build.trainer(config, logger=False, callbacks=callbacks, max_epochs=epochs + 1)
    trainer.fit(module, datamodule=datamodule)
    return statistics.median(timer.times[1:]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="feature table")
    parser.add_argument("--epochs", type=int, default=7, help="timed epochs per shape")
    parser.add_argument("--quick", action="store_true", help="4 shapes per head")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # Lightning's notes on every fit
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # as in a sweep job

    import pandas as pd

    table = FeatureTable.from_frame(pd.read_csv(args.data), track_column="filename")
    widths, depths = ((64, 256), (1, 5)) if args.quick else ((64, 128, 256), range(1, 6))
    print(f"{'head':6} {'shape':>8} {'torch ms':>9} {'lightning ms':>13} {'loop ms':>8}")
    rows: dict[str, list[tuple[float, float]]] = {head: [] for head in HEADS}
    for head, width, depth in product(HEADS, widths, depths):
        config = check_train_config(grid_config(head, width, depth, args.epochs, args.overrides))
        datamodule = build.datamodule(config, table)
        torch.manual_seed(config.seed)
        bare = torch_epoch_ms(build.classifier(config, datamodule), datamodule, args.epochs)
        torch.manual_seed(config.seed)
        module = build.classifier(config, datamodule)
        fit = lightning_epoch_ms(config, module, datamodule, args.epochs)
        rows[head].append((bare, fit))
        print(f"{head:6} {f'{width}x{depth}':>8} {bare:9.1f} {fit:13.1f} {fit - bare:8.1f}")
    print(f"\nmean over the {len(widths) * len(depths)} shapes of each head (ms per epoch):")
    for head, pairs in rows.items():
        bare = statistics.mean(b for b, _ in pairs)
        fit = statistics.mean(f for _, f in pairs)
        print(f"  {head:6} torch {bare:7.1f}   lightning {fit:7.1f}   loop {fit - bare:6.1f}")


if __name__ == "__main__":
    main()
