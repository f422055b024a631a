"""DP training overhead of CTAB-GAN+ on the Fair table: private vs non-private ``fit``.

Three configurations of :class:`CTABGANPlus`, same networks,
batch size, epochs and classifier epochs, torch set to one thread, timed in one run with the
repeats interleaved (median of ``--repeat`` runs, default 3):

* ``plain``: non-private defaults (PacGAN packs of 10, information loss on);
* ``plain-matched``: non-private with what DP mode forces (``pac=1``, no information loss),
  so the ratio to it isolates the cost of DP-SGD itself;
* ``dp``: ``epsilon=3`` (delta = 1/n): per-row gradients of the critic (gradient penalty
  inside) and of the classifier, clipping, noise and accounting.

Prints the seconds of each ``fit`` and the ratios dp / plain and dp / plain-matched.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from edu_gen.data.tables import fair, train_test_split_table
from edu_gen.tabular.synthesizers import CTABGANPlus

NETS = dict(
    embedding_dim=64,
    generator_dims=(128, 128),
    discriminator_dims=(128, 128),
    classifier_dims=(64,),
    batch_size=500,
)


def configurations(epochs: int, classifier_epochs: int) -> dict[str, dict]:
    common = dict(NETS, epochs=epochs, classifier_epochs=classifier_epochs, seed=0)
    return {
        "plain": dict(common),
        "plain-matched": dict(common, pac=1, info_weight=0.0),
        "dp": dict(common, epsilon=3.0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--classifier-epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    frame, schema = fair()
    train, _ = train_test_split_table(frame, 0.2, seed=0)
    configs = configurations(args.epochs, args.classifier_epochs)
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeat):
        for name, kwargs in configs.items():
            model = CTABGANPlus(schema, **kwargs)
            start = time.perf_counter()
            model.fit(train, progress=False)
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"CTAB-GAN+ fit on fair ({len(train)} rows), {args.epochs} epochs, 1 thread")
    for name, t in times.items():
        print(f"  {name:14s} median {median[name]:7.2f} s   runs {[round(x, 2) for x in t]}")
    print(f"  ratio dp / plain         {median['dp'] / median['plain']:.2f}")
    print(f"  ratio dp / plain-matched {median['dp'] / median['plain-matched']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
