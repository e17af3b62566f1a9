"""fp32 against bf16-mixed, side by side: seconds per epoch, and the accuracy of each.

Both parts run genreclf's own pipeline on ``../shared/data/seed_features.csv`` with one
torch thread (as a sweep job on a parallel launcher), ``trainer.precision=32-true``
against ``trainer.precision=bf16-mixed`` (Lightning's autocast: weights, optimizer and
loss stay fp32), the two precisions interleaved (A/B/A/B) so that any other load on the
machine hits both alike:

1. **speed**: the grid's largest shapes (``model=rnn``, ``model=cnn`` and ``model=dense``
   at ``model.hidden_size=256 model.num_layers=5``), timed as ``benchmarks/epoch_cost.py``
   times them (``sweep=grid``'s config, datamodule, head and optimizer, ``Trainer.fit``
   with the sweep's callbacks, early stopping off): milliseconds per epoch (training +
   validation), the median of ``--epochs`` epochs after a warm-up, then the median
   over ``--rounds`` alternating rounds; and the speed-up fp32 / bf16;
2. **accuracy**: a seeded random sample of the ``sweep=grid`` configs (model, width,
   depth, dropout, learning rate, drawn from the grid's own sweeper params), each
   trained end to end by ``genreclf.train.train`` in both precisions with
   ``trainer.max_epochs=--max-epochs`` and the grid's early stopping (``data=table
   data.recipe=seed174``, the grid's split and transforms, MLflow in a temporary sqlite
   store). The weights are selected on validation as genreclf always does; the test
   accuracy of the selected weights is only reported. Per config: seconds per epoch
   (median of the epochs after the first) and validation / test accuracy in each
   precision; then the Spearman rank correlations of the configs' test and validation
   accuracies between the precisions, the mean speed-up and the mean accuracy
   differences (bf16 - fp32)::

    python benchmarks/precision.py                       # 3 shapes x 3 rounds, 12 configs
    python benchmarks/precision.py --quick               # 2 shapes, 3 configs
    python benchmarks/precision.py --sample 20 --seed 1 --max-epochs 100
    python benchmarks/precision.py -- optimizer.fused=false   # extra overrides (both parts)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from itertools import product
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_cost import (  # noqa: E402  (benchmarks/epoch_cost.py, beside this script)
    DEFAULT_DATA,
    HEADS,
    EpochTimer,
    grid_config,
    lightning_epoch_ms,
)

from genreclf.cli import CONFIG_DIR  # noqa: E402

FP32, BF16 = "32-true", "bf16-mixed"
PRECISIONS = (FP32, BF16)
#: The grid's largest shape, timed for every head.
WIDTH, DEPTH = 256, 5
#: Swept by the grid but not sampled: every run here gets ``--max-epochs``.
BUDGET_KEY = "trainer.max_epochs"


class RunTimer(EpochTimer):
    """:class:`EpochTimer` given to ``train`` through the config; keeps the latest instance."""

    latest: RunTimer | None = None

    def __init__(self) -> None:
        super().__init__()
        RunTimer.latest = self


def grid_space() -> tuple[list[dict[str, str]], int]:
    """``sweep=grid``'s configs (its sweeper params but the epoch budget), and its patience."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["sweep=grid"], return_hydra_config=True)
    parser = OverridesParser.create()
    axes = {
        key: [str(v) for v in parser.parse_override(f"{key}={value}").sweep_string_iterator()]
        for key, value in cfg.hydra.sweeper.params.items()
        if key != BUDGET_KEY
    }
    configs = [dict(zip(axes, values, strict=True)) for values in product(*axes.values())]
    return configs, int(cfg.callbacks.early_stopping.patience)


def label(config: dict[str, str]) -> str:
    """``rnn 256x5 d0.3 lr0.0005``."""
    shape = f"{config['model.hidden_size']}x{config['model.num_layers']}"
    return f"{config['model']} {shape} d{config['model.dropout']} lr{config['optimizer.lr']}"


def train_config(config: dict[str, str], precision: str, args, patience: int, workdir: Path):
    """Train one grid config end to end in ``precision``: (result, seconds per epoch, epochs)."""
    from genreclf.train import train

    name = label(config).replace(" ", "-")
    cfg = grid_config(
        config["model"],
        int(config["model.hidden_size"]),
        int(config["model.num_layers"]),
        args.max_epochs,
        [
            f"callbacks.early_stopping.patience={patience}",  # the grid's, not epoch_cost's
            f"+callbacks.epoch_timer._target_={__name__}.RunTimer",
            "data=table",
            f"data.path={args.data.resolve()}",
            "data.recipe=seed174",
            f"model.dropout={config['model.dropout']}",
            f"optimizer.lr={config['optimizer.lr']}",
            f"trainer.precision={precision}",
            f"tracking.uri=sqlite:///{workdir / 'mlflow.db'}",
            f"tracking.run_name={name}-{precision}",  # no Hydra run here to name it
            *args.overrides,
        ],
    )
    with contextlib.redirect_stdout(io.StringIO()):  # train's report; printed in summary
        result = train(cfg)
    times = RunTimer.latest.times
    return result, statistics.median(times[1:] or times), len(times)


def speed(args, table) -> None:
    """Part 1: ms per epoch of the largest shapes in both precisions, interleaved."""
    from genreclf import build
    from genreclf.config.checks import check_train_config

    heads = HEADS[:2] if args.quick else HEADS
    print(
        f"\n1. ms per epoch (train + validation), {WIDTH}x{DEPTH} shapes, Trainer.fit; median of "
        f"{args.epochs} epochs after a warm-up, median over {args.rounds} round(s) A/B/A/B"
    )
    print(f"{'head':6} {'shape':>6} {'fp32 ms':>9} {'bf16 ms':>9} {'speed-up':>9}   rounds")
    for head in heads:
        ms: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        for _, precision in product(range(args.rounds), PRECISIONS):
            overrides = [f"trainer.precision={precision}", *args.overrides]
            config = check_train_config(grid_config(head, WIDTH, DEPTH, args.epochs, overrides))
            datamodule = build.datamodule(config, table)
            torch.manual_seed(config.seed)
            module = build.classifier(config, datamodule)
            ms[precision].append(lightning_epoch_ms(config, module, datamodule, args.epochs))
        fp32, bf16 = (statistics.median(ms[p]) for p in PRECISIONS)
        rounds = "  ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(ms[FP32], ms[BF16], strict=True))
        print(
            f"{head:6} {f'{WIDTH}x{DEPTH}':>6} {fp32:9.1f} {bf16:9.1f} {fp32 / bf16:8.2f}x"
            f"   {rounds}",
            flush=True,
        )


def accuracy(args, workdir: Path) -> None:
    """Part 2: a seeded sample of grid configs, trained end to end in both precisions."""
    from scipy.stats import spearmanr

    configs, patience = grid_space()
    sample = random.Random(args.seed).sample(configs, min(args.sample, len(configs)))
    print(
        f"\n2. {len(sample)} of the grid's {len(configs)} configs (seed {args.seed}), each "
        f"trained by genreclf.train.train in both precisions: {BUDGET_KEY}={args.max_epochs}, "
        f"early stopping patience {patience}; s/epoch = median of the epochs after the first"
    )
    print(
        f"{'config':26} {'s/ep fp32':>9} {'bf16':>6} {'x':>5} {'epochs':>7}"
        f" {'val fp32':>9} {'bf16':>6} {'test fp32':>10} {'bf16':>6}"
    )
    rows = []
    for config in sample:
        runs = {p: train_config(config, p, args, patience, workdir) for p in PRECISIONS}
        (a, sa, ea), (b, sb, eb) = runs[FP32], runs[BF16]
        rows.append((config, a, b, sa / sb))
        print(
            f"{label(config):26} {sa:9.3f} {sb:6.3f} {sa / sb:5.2f} {f'{ea}/{eb}':>7}"
            f" {a['val_acc']:9.3f} {b['val_acc']:6.3f} {a['test_acc']:10.3f} {b['test_acc']:6.3f}",
            flush=True,
        )
    print()
    for metric in ("test_acc", "val_acc"):
        fp32 = [a[metric] for _, a, _, _ in rows]
        bf16 = [b[metric] for _, _, b, _ in rows]
        rho, p = spearmanr(fp32, bf16) if len(rows) > 2 else (float("nan"),) * 2
        diffs = [y - x for x, y in zip(fp32, bf16, strict=True)]
        print(
            f"{metric}: Spearman rho fp32 vs bf16 {rho:.3f} (p {p:.3g}); mean bf16 - fp32 "
            f"{statistics.mean(diffs):+.4f} (mean |diff| {statistics.mean(map(abs, diffs)):.4f})"
        )
    speedup = statistics.mean(r for *_, r in rows)
    by_head = {
        head: [f"{r:.2f}" for config, *_, r in rows if config["model"] == head] for head in HEADS
    }
    print(
        f"mean speed-up (fp32 s/epoch / bf16 s/epoch): {speedup:.2f}x; by head: "
        + "; ".join(f"{head} {' '.join(values)}" for head, values in by_head.items() if values)
    )
    for index, precision in ((1, FP32), (2, BF16)):  # what each precision's grid would pick
        row = max(rows, key=lambda r: r[index]["val_acc"])  # max keeps the first of ties
        print(
            f"best validation accuracy in {precision}: {label(row[0])} "
            f"(val {row[index]['val_acc']:.3f}, test {row[index]['test_acc']:.3f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="feature table")
    parser.add_argument("--quick", action="store_true", help="2 shapes, 3 configs")
    parser.add_argument("--sample", type=int, default=12, help="grid configs to train")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--max-epochs", type=int, default=50, help="epoch budget of each run")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per shape and round")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds per shape")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = parser.parse_args()
    if args.quick:
        args.sample, args.rounds, args.epochs = min(args.sample, 3), 1, 3
    if not args.data.exists():
        sys.exit(f"no such feature table: {args.data}")
    import mlflow  # noqa: F401  (their imports set their loggers' levels: set ours after)
    import pandas as pd
    import pytorch_lightning  # noqa: F401

    from genreclf.features.table import FeatureTable

    logging.disable(logging.WARNING)  # Lightning's notes on every fit
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # as in a sweep job
    start = time.perf_counter()
    bf16_cpu = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    print(
        f"fp32 (trainer.precision={FP32}) vs bf16 (trainer.precision={BF16}), CPU, 1 torch "
        f"thread, torch {torch.__version__}, oneDNN bf16 {'yes' if bf16_cpu else 'no'}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"data {args.data}; {'QUICK: ' if args.quick else ''}{args.sample} sampled configs, "
        f"max_epochs {args.max_epochs}; overrides {args.overrides or 'none'}"
    )
    table = FeatureTable.from_frame(pd.read_csv(args.data), track_column="filename")
    speed(args, table)
    with tempfile.TemporaryDirectory(prefix="precision-") as tmp:
        accuracy(args, Path(tmp))
    print(
        f"\nelapsed: {time.perf_counter() - start:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
