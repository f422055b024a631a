"""Overhead of ``edu_gen.core.train.fit`` against a plain PyTorch loop on the chapter-01 model.

Both loops train the same autoencoder on the same digits DataLoader for the same number
of steps; ``fit`` additionally logs history, checks every loss for NaN, and (second row)
writes an atomic checkpoint every 100 steps. Reported: median seconds over repeats and
the ratio to the plain loop measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

import torch

from edu_gen.core.train import fit
from edu_gen.data import digits_loader
from edu_gen.models import autoencoder as ae


def objective(model, batch):
    x, _ = batch
    return ae.l2_loss(x, model(x))


def plain(steps: int) -> float:
    torch.manual_seed(0)
    model = ae.Autoencoder(64, 2, hidden=(128, 64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = digits_loader("train", "unit", batch_size=64, seed=0)
    start = time.perf_counter()
    for batch in islice(cycle(loader), steps):
        loss = objective(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def with_fit(steps: int, checkpoint: bool) -> float:
    torch.manual_seed(0)
    model = ae.Autoencoder(64, 2, hidden=(128, 64))
    loader = digits_loader("train", "unit", batch_size=64, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ckpt.pt" if checkpoint else None
        start = time.perf_counter()
        fit(model, objective, loader, steps=steps, checkpoint=path, progress=False, device="cpu")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with_fit(20, False)  # warm-up (first optimizer construction imports extra modules)
    rows = {"plain torch loop": [], "fit": [], "fit + checkpoint/100 steps": []}
    for _ in range(args.repeats):
        rows["plain torch loop"].append(plain(args.steps))
        rows["fit"].append(with_fit(args.steps, False))
        rows["fit + checkpoint/100 steps"].append(with_fit(args.steps, True))
    base = statistics.median(rows["plain torch loop"])
    print(
        f"{args.steps} steps, median of {args.repeats}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s)"
    )
    for name, times in rows.items():
        median = statistics.median(times)
        print(f"  {name:<28} {median:7.3f} s   ratio {median / base:5.2f}")


if __name__ == "__main__":
    main()
