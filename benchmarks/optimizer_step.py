"""Milliseconds per optimizer step, per-tensor loop against the fused kernel, on one thread.

Builds the grid's heads (``conf/model``) for the 174-value seed features at a few
widths and depths, gives every parameter a gradient, and times ``optimizer.step()``
with ``foreach=False`` (the loop torch picks on CPU by default) and with ``fused=True``
(what ``conf/optimizer`` sets) for Adam, AdamW and SGD::

    python benchmarks/optimizer_step.py
    python benchmarks/optimizer_step.py --steps 500
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from genreclf.models.heads import CNNHead, DenseHead, LSTMHead

HEADS = {"dense": DenseHead, "cnn": CNNHead, "rnn": LSTMHead}
SHAPES = ((64, 1), (128, 3), (256, 5))
OPTIMIZERS = {
    "adam": partial(torch.optim.Adam, lr=1e-3),
    "adamw": partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.01),
    "sgd": partial(torch.optim.SGD, lr=1e-2, momentum=0.9, nesterov=True),
}


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
    for name, head in HEADS.items():
        for width, depth in SHAPES:
            model = head((174,), 10, hidden_size=width, num_layers=depth)
            for p in model.parameters():
                p.grad = torch.randn_like(p)
            n = sum(p.numel() for p in model.parameters())
            for opt_name, make in OPTIMIZERS.items():
                loop = step_ms(make(model.parameters(), foreach=False), args.steps)
                fused = step_ms(make(model.parameters(), fused=True), args.steps)
                print(
                    f"{name:6} {f'{width} x {depth}':>13} {n:>9,} {opt_name:>9}"
                    f" {loop:>8.3f} {fused:>9.3f} {loop / fused:>7.1f}x"
                )


if __name__ == "__main__":
    main()
