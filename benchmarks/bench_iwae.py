"""One IWAE training epoch: the vectorised bound of ``edu_gen.models.iwae`` vs a per-sample loop.

Both versions train the same chapter-05 VAE (Bernoulli decoder, 16 latent units) for one
epoch over the binarised digits with ``edu_gen.core.train.fit`` and the same seed. The
vectorised loss draws all ``k`` samples as one ``[k, N, d]`` tensor and runs the decoder
once; the loop draws and decodes one sample at a time and stacks the ``k`` log-weights
before the same ``logsumexp``. Before timing, both are checked to give the same bound on
the same noise. Reported: median seconds per epoch over repeats and the loop/vectorised
ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from edu_gen.core.distributions import log_normal
from edu_gen.core.train import fit
from edu_gen.data import digits, digits_loader
from edu_gen.models import iwae, vae


def looped_log_weights(model, x, k, eps=None):
    """The straightforward version: one reparameterised sample per iteration."""
    mu, logvar = model.encode(x)
    rows = []
    for i in range(k):
        noise = torch.randn_like(mu) if eps is None else eps[i]
        z = vae.reparameterize(mu, logvar, noise)
        rows.append(
            model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
        )
    return torch.stack(rows)


def looped_loss(model, batch, k):
    x, _ = batch
    return -iwae.iwae_bound(looped_log_weights(model, x, k)).mean()


def check_same_bound(k: int) -> float:
    torch.manual_seed(0)
    model = vae.make_vae(64, 16, (128,))
    x, _ = digits("test", "binary")
    eps = torch.randn(k, len(x), 16)
    with torch.no_grad():
        a = iwae.iwae_bound(iwae.log_importance_weights(model, x, k, eps))
        b = iwae.iwae_bound(looped_log_weights(model, x, k, eps))
    return (a - b).abs().max().item()


def one_epoch(k: int, looped: bool) -> float:
    torch.manual_seed(0)
    model = vae.make_vae(64, 16, (128,))
    loader = digits_loader("train", "binary", batch_size=64, seed=0)
    if looped:

        def loss(m, b):
            return looped_loss(m, b, k)
    else:

        def loss(m, b):
            return iwae.iwae_loss(m, b, k)

    start = time.perf_counter()
    fit(model, loss, loader, epochs=1, lr=3e-3, progress=False, device="cpu")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[5, 50])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for k in args.ks:
        error = check_same_bound(k)
        if error > 1e-4:
            raise SystemExit(f"k={k}: the loop and the vectorised bound differ by {error}")
    one_epoch(2, False)  # warm-up
    print(
        f"one epoch of digits (1437 images, batch 64), median of {args.repeats}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
    print(f"  {'k':>4} {'vectorised':>12} {'per-sample loop':>17} {'loop / vectorised':>19}")
    for k in args.ks:
        fast = statistics.median(one_epoch(k, False) for _ in range(args.repeats))
        slow = statistics.median(one_epoch(k, True) for _ in range(args.repeats))
        print(f"  {k:>4} {fast:>10.3f} s {slow:>15.3f} s {slow / fast:>19.2f}")


if __name__ == "__main__":
    main()
