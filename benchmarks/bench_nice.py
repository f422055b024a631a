"""NICE on the digits: ``edu_gen.models.nice`` vs the same model built in ``normflows``.

Both flows have the same size (the chapter's logit preprocessing, 4 additive couplings with
the same ``m`` networks, a diagonal scaling, a Gaussian prior — normflows has no logistic base
distribution) and start from the same weights; the script first checks that they give the same
log-likelihood. Timed, each in the same run:

* one training epoch over the dequantised training digits with ``edu_gen.core.train.fit``
  (batch 64, Adam), the loss being each library's own ``-log_prob``;
* one log-prob evaluation of the whole test split (no gradients).

Reported: median seconds over repeats and the normflows/edu_gen ratio.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch

from edu_gen.core import rng
from edu_gen.core.train import fit
from edu_gen.data import digits, digits_loader
from edu_gen.models import nice


class _Shift(torch.nn.Module):
    """normflows' shift network t(b * z): -m(z_I1) placed at the I2 positions."""

    def __init__(self, layer: nice.AdditiveCoupling) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, z_masked: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(z_masked)
        out[:, self.layer.i2] = -self.layer.m(z_masked[:, self.layer.i1])
        return out


def as_normflows(model: nice.NICE):
    """The same flow (copied weights) in normflows, whose flows run latent → data."""
    import normflows as nf

    model = copy.deepcopy(model)
    scale = nf.flows.AffineConstFlow((model.dim,), scale=True, shift=False)
    with torch.no_grad():
        scale.s.copy_(-model.scaling.log_scale.detach()[None])
    flows = [scale]
    for layer in reversed(model.couplings):
        mask = torch.zeros(model.dim)
        mask[layer.i1] = 1
        flows.append(nf.flows.MaskedAffineFlow(mask, t=_Shift(layer)))
    if model.logit_alpha is not None:  # the last step latent -> data is the inverse logit
        flows.append(nf.transforms.Logit(model.logit_alpha))
    return nf.NormalizingFlow(nf.distributions.DiagGaussian(model.dim, trainable=False), flows)


def make_model(hidden: int, n_hidden: int, logit_alpha: float | None) -> nice.NICE:
    torch.manual_seed(0)
    return nice.NICE(
        64,
        n_couplings=4,
        hidden=hidden,
        n_hidden=n_hidden,
        prior="gaussian",
        logit_alpha=logit_alpha,
    )


def loss_of(flow):
    noise = rng.generator(0)

    def loss_fn(model, batch):
        x = nice.dequantize(batch[0], 17, noise)
        return -model.log_prob(x).mean()

    return loss_fn


def time_epoch(flow) -> float:
    loader = digits_loader("train", "levels", batch_size=64, seed=0)
    start = time.perf_counter()
    fit(flow, loss_of(flow), loader, epochs=1, lr=1e-3, device="cpu", progress=False)
    return time.perf_counter() - start


def time_log_prob(flow, x: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        flow.log_prob(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128, help="width of m (chapter: 128)")
    parser.add_argument("--n-hidden", type=int, default=2, help="layers of m (chapter: 2)")
    parser.add_argument(
        "--logit-alpha", type=float, default=1e-3, help="logit preprocessing (0: none)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("command:", " ".join(sys.argv))

    levels, _ = digits("test", "levels")
    x_test = nice.dequantize(levels, 17, rng.generator(1))
    alpha = args.logit_alpha or None
    ours = make_model(args.hidden, args.n_hidden, alpha)
    oracle = as_normflows(ours)
    with torch.no_grad():
        gap = (ours.log_prob(x_test) - oracle.log_prob(x_test)).abs().max().item()
    print(f"same weights, max |log p difference| on the test digits: {gap:.2e}")
    if gap > 1e-3:
        raise SystemExit("the two flows disagree; the timing would compare different models")

    rows = []
    for name, build in (
        ("edu_gen.models.nice", lambda: make_model(args.hidden, args.n_hidden, alpha)),
        ("normflows", lambda: as_normflows(make_model(args.hidden, args.n_hidden, alpha))),
    ):
        epochs = [time_epoch(build()) for _ in range(args.repeats)]
        flow = build()
        evals = [time_log_prob(flow, x_test) for _ in range(args.repeats)]
        rows.append((name, statistics.median(epochs), statistics.median(evals)))

    pre = f"logit (alpha={alpha}) + " if alpha else ""
    print(f"\n{pre}NICE 4 couplings, m = {args.n_hidden} x {args.hidden} ReLU, D = 64, batch 64")
    print(f"{'library':14s} {'epoch s (median)':>18s} {'log-prob s (median)':>20s}")
    for name, epoch, evals in rows:
        print(f"{name:14s} {epoch:18.3f} {evals:20.4f}")
    (_, e0, l0), (_, e1, l1) = rows
    print(f"ratio normflows / edu_gen: epoch {e1 / e0:.2f}x, log-prob {l1 / l0:.2f}x")


if __name__ == "__main__":
    main()
