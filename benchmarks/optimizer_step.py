"""Milliseconds per optimizer step, per-tensor loop against the fused kernel, on one thread.

Builds the grid's heads from ``conf/model`` for the 174-value seed features at a few
widths and depths, gives every parameter a gradient, and times ``optimizer.step()`` of
each ``conf/optimizer`` option (Adam, AdamW, SGD) as configured (``fused: true``) and
with ``fused=False, foreach=False`` (the per-tensor loop torch picks on CPU by default)::

    python benchmarks/optimizer_step.py
    python benchmarks/optimizer_step.py --steps 500
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from genreclf.cli import CONFIG_DIR

HEADS = ("dense", "cnn", "rnn")
SHAPES = ((64, 1), (128, 3), (256, 5))
OPTIMIZERS = ("adam", "adamw", "sgd")


def step_ms(optimizer: torch.optim.Optimizer, steps: int) -> float:
    """Mean milliseconds of ``optimizer.step()`` over ``steps`` steps (after 5 warm-up)."""
    for _ in range(5):
        optimizer.step()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per case")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(
        f"{'head':6} {'width x depth':>13} {'params':>9} {'optimizer':>9}"
        f" {'loop ms':>8} {'fused ms':>9} {'speed-up':>8}"
    )
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        heads = {name: compose("config", [f"model={name}"]).model for name in HEADS}
        optimizers = {
            name: instantiate(compose("config", [f"optimizer={name}"]).optimizer)
            for name in OPTIMIZERS
        }
    for name, head in heads.items():
        for width, depth in SHAPES:
            model = instantiate(head, hidden_size=width, num_layers=depth)((174,), 10)
            for p in model.parameters():
                p.grad = torch.randn_like(p)
            n = sum(p.numel() for p in model.parameters())
            for opt_name, make in optimizers.items():
                loop = step_ms(make(model.parameters(), fused=False, foreach=False), args.steps)
                fused = step_ms(make(model.parameters()), args.steps)
                print(
                    f"{name:6} {f'{width} x {depth}':>13} {n:>9,} {opt_name:>9}"
                    f" {loop:>8.3f} {fused:>9.3f} {loop / fused:>7.1f}x"
                )


if __name__ == "__main__":
    main()
