"""One discriminator step: DP-SGD (``edu_gen.tabular.privacy``) vs a non-private step vs opacus.

The model is a CTGAN-style discriminator MLP (input 100, two hidden layers of 256 with
LeakyReLU(0.2), one logit) on a batch of 500 rows, one CPU thread. Timed, each as the
median over repeats of the mean time of a few Adam steps after a warm-up:

* ``plain``: ``loss.mean().backward(); optimizer.step()``;
* ``edu_gen``: :func:`edu_gen.tabular.privacy.dp_step` (per-example gradients with
  ``torch.func``, joint clipping, Gaussian noise);
* ``opacus``: ``GradSampleModule`` + ``DPOptimizer`` (oracles extra), same clip and noise.

Two losses: a per-row logistic loss (all three methods), and the WGAN-GP critic loss of
CTAB-GAN+ with the per-row gradient penalty (opacus cannot differentiate the penalty per
example, so that row compares edu_gen with the plain step only). Ratios are to ``plain``
(and to opacus) measured in the same run, with the repeats interleaved across methods.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.tabular import privacy

D_IN, HIDDEN, BATCH, CLIP, SIGMA = 100, 256, 500, 1.0, 1.0


def discriminator() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(D_IN, HIDDEN), nn.LeakyReLU(0.2),
        nn.Linear(HIDDEN, HIDDEN), nn.LeakyReLU(0.2),
        nn.Linear(HIDDEN, 1),
    )  # fmt: skip


def logistic_rows(d, x, y, *_):
    return F.binary_cross_entropy_with_logits(d(x).squeeze(-1), y, reduction="none")


def wgan_gp_rows(d, real, fake, eps):
    critic = (d(fake) - d(real)).squeeze(-1)
    return critic + privacy.gradient_penalty_per_row(d, real, fake, eps)


def make_batch(loss: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, D_IN, generator=g)
    if loss == "logistic":
        return x, (torch.rand(BATCH, generator=g) < 0.5).float()
    return x, torch.randn(BATCH, D_IN, generator=g), torch.rand(BATCH, generator=g)


def stepper(method: str, loss: str):
    """A zero-argument function taking one training step of a fresh model."""
    rows = logistic_rows if loss == "logistic" else wgan_gp_rows
    batch = make_batch(loss)
    if method == "plain":
        model = discriminator()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            rows(model, *batch).mean().backward()
            opt.step()

    elif method == "edu_gen":
        model = discriminator()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(1)

        def step():
            privacy.dp_step(
                model, rows, batch, opt, clip_norm=CLIP, noise_multiplier=SIGMA,
                expected_batch_size=BATCH, generator=g,
            )  # fmt: skip

    else:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        model = GradSampleModule(discriminator(), loss_reduction="mean")
        opt = DPOptimizer(
            torch.optim.Adam(model.parameters(), lr=1e-3), noise_multiplier=SIGMA,
            max_grad_norm=CLIP, expected_batch_size=BATCH, loss_reduction="mean",
        )  # fmt: skip

        def step():
            opt.zero_grad(set_to_none=True)
            rows(model, *batch).mean().backward()
            opt.step()

    return step


def seconds_per_step(methods: list[str], loss: str, steps: int, repeats: int) -> dict[str, float]:
    """Median seconds per step of each method; the repeats are interleaved across methods so
    that load from other processes hits all of them alike."""
    steppers = {m: stepper(m, loss) for m in methods}
    for step in steppers.values():
        step()  # warm-up
    times: dict[str, list[float]] = {m: [] for m in methods}
    for _ in range(repeats):
        for method, step in steppers.items():
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times[method].append((time.perf_counter() - start) / steps)
    return {m: statistics.median(t) for m, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)  # opacus' backward-hook notice
    try:
        import opacus  # noqa: F401

        has_opacus = True
    except ImportError:
        has_opacus = False
        print("opacus is not installed (pip install -e '.[oracles]'): its column is skipped")
    print(" ".join(sys.argv), f"| MLP {D_IN}-{HIDDEN}-{HIDDEN}-1, batch {BATCH}, 1 thread")
    print(f"{'loss':<10}{'method':<9}{'ms/step':>9}{'vs plain':>10}{'vs opacus':>11}")
    for loss in ("logistic", "wgan-gp"):
        methods = ["plain", "edu_gen"] + (["opacus"] if has_opacus and loss == "logistic" else [])
        seconds = seconds_per_step(methods, loss, args.steps, args.repeats)
        for method, t in seconds.items():
            vs_opacus = f"{t / seconds['opacus']:>10.2f}x" if "opacus" in seconds else ""
            print(f"{loss:<10}{method:<9}{1e3 * t:>9.2f}{t / seconds['plain']:>9.2f}x{vs_opacus}")


if __name__ == "__main__":
    main()
