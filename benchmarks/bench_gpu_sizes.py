"""The `gpu`-size training steps of the 28×28 sections, timed on the CPU, with a T4 estimate.

No GPU was lent while these sections were written, so their budgets (chosen for ≤ 10 minutes
per chapter on a Colab T4) rest on an estimate; this script makes the estimate checkable.
For each section it builds the model at its `gpu` size, times one training step at its `gpu`
batch size on this CPU (median over repeats after a warm-up), counts the step's floating-point
operations with ``torch.utils.flop_counter.FlopCounterMode`` and reports:

* CPU ms per step, and the section's whole `gpu` budget at that speed (CPU minutes);
* the expected T4 time: FLOPs / (T4 fp32 peak 8.1 TFLOP/s × an assumed 30 % utilisation), but
  at least ``--launch-ms`` per optimiser step (kernel launches dominate small steps), times
  the steps. Sampling and evaluation are not included (09's η × S table adds about 360
  U-Net passes over 1,000 images: roughly 1 minute more on a T4 by the same estimate).

The tabular sections (10a, 10b on UCI Adult) train through their synthesizer's ``fit``, whose
conditional sampling stays on the CPU on any machine: they are timed per epoch on the full
Adult training split, once with the `gpu`-size networks and once with 8-unit networks (the
host-side cost of an epoch, which a GPU does not remove); their T4 estimate is that host cost
plus the launch floor for every optimiser turn.

Run from the repository root: ``.venv/bin/python benchmarks/bench_gpu_sizes.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from edu_gen.core import rng
from edu_gen.core.train.players import Player
from edu_gen.data import tables
from edu_gen.models import autoencoder as ae
from edu_gen.models import diffusion as dm
from edu_gen.models import gan, iwae, nice, vae

T4_FLOPS = 8.1e12 * 0.30


def _adam_step(model: torch.nn.Module, loss_of: Callable[[], torch.Tensor]) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad()
        loss_of().backward()
        opt.step()

    return step


def sections() -> dict[str, tuple[Callable[[], None], int]]:
    """Section -> (one `gpu`-size training step, number of such steps in its `gpu` budget).

    The GAN's step is a round of three optimiser turns (two critic, one generator).
    """
    x784 = torch.rand(128, 784)
    deep = ae.Autoencoder(784, 30, hidden=(1000, 500, 250), out_activation="identity")
    one = ae.Autoencoder(784, 500, hidden=(), code_activation="sigmoid", out_activation="identity")
    binary = (torch.rand(100, 784) < 0.2).float()
    vae_model = vae.make_vae(784, 50, (200, 200), likelihood="bernoulli")
    flow = nice.NICE(784, n_couplings=4, hidden=1000, n_hidden=5, logit_alpha=1e-3)
    levels = torch.randint(0, 256, (100, 784)).float()
    nll = nice.nll_objective(256, rng.generator(0))
    model_gan = gan.GAN(784, latent_dim=100, hidden=(512, 512), out=torch.nn.Sigmoid())
    players = gan.gan_players(model_gan, "wgan-gp", lr=1e-4, betas=(0.5, 0.9), gp_weight=10.0)
    vae_50 = vae.make_vae(784, 50, (200, 200), likelihood="bernoulli")
    vae_kw = vae.make_vae(784, 20, (500,), likelihood="bernoulli")
    unet = dm.UNet(channels=1, base=32)
    sched = dm.make_schedule("linear", 1000)
    images = torch.rand(128, 1, 28, 28) * 2 - 1

    def unet_passes() -> None:  # 08's sampling / bound / rate-distortion: forward passes only
        with torch.no_grad():
            unet(torch.rand(250, 1, 28, 28), torch.randint(1, 1001, (250,)))

    def gan_round() -> None:  # two critic turns and one generator turn: one G step
        real = torch.rand(64, 784)
        for name in ("critic", "critic", "generator"):
            player: Player = players[name]
            player.update(model_gan, real)

    return {
        "01 deep AE 784-1000-500-250-30, batch 128": (
            _adam_step(deep, lambda: ae.autoencoder_loss(deep, x784, loss="ce")),
            20_000,
        ),
        "02 one-layer AE/DAE, 500 units, batch 128 (×2 models)": (
            _adam_step(one, lambda: ae.autoencoder_loss(one, x784, loss="ce")),
            2 * 20_000,
        ),
        "03 VAE 200-200-50, batch 100": (
            _adam_step(vae_50, lambda: vae.vae_loss(vae_50, binary)["loss"]),
            30_000,
        ),
        "04 K&W VAE 500 units, d=20, batch 100 (×3 models: d=2,10,20)": (
            _adam_step(vae_kw, lambda: vae.vae_loss(vae_kw, binary)["loss"]),
            3 * 20_000,
        ),
        "05 IWAE k=50, 200-200-50, batch 100 (×2 models of k=50 cost)": (
            _adam_step(vae_model, lambda: iwae.iwae_loss(vae_model, binary, 50)["loss"]),
            2 * 30 * 600,
        ),
        "06 NICE 4 × (5 × 1000), batch 100": (
            _adam_step(flow, lambda: nll(flow, (levels,))["loss"]),
            30_000,
        ),
        "07 WGAN-GP 512-512, batch 64 (2 critic + 1 G turn)": (gan_round, 10_000),
        "08 U-Net forward passes of 250 (samples, bound, R-D)": (
            unet_passes,
            (200_000 + 500_000 + 26_500) // 250,
        ),
        "09 U-Net, 32 channels, batch 128 (also 08's model)": (
            _adam_step(unet, lambda: dm.l_simple(unet, sched, images)),
            8_000,
        ),
    }


def tabular_sections() -> dict[str, tuple[Callable[[bool], object], int, int]]:
    """Section -> (a synthesizer maker ``make(tiny)``, epochs in its `gpu` budget, optimiser
    turns per step: critic + generator, + the auxiliary classifier for CTAB-GAN+)."""
    from edu_gen.tabular.synthesizers import CTGAN, TVAE, CTABGANPlus

    _, schema = tables.adult("train")
    continuous = schema.override(dict.fromkeys(("capital_gain", "capital_loss"), "continuous"))

    def nets(tiny: bool, *names: str) -> dict[str, tuple[int, ...]]:
        return {name: (8,) for name in names} if tiny else {}

    gan = ("generator_dims", "discriminator_dims")
    return {
        "10a CTGAN 256-256, batch 500 (Adult)": (
            lambda tiny: CTGAN(schema, seed=0, **nets(tiny, *gan)),
            150,
            2,
        ),
        "10a TVAE 128-128, batch 500 (Adult)": (
            lambda tiny: TVAE(schema, seed=0, **nets(tiny, "compress_dims", "decompress_dims")),
            150,
            1,
        ),
        "10b CTGAN, capital continuous (Adult)": (
            lambda tiny: CTGAN(continuous, seed=0, **nets(tiny, *gan)),
            100,
            2,
        ),
        "10b CTAB-GAN+ (Adult)": (
            lambda tiny: CTABGANPlus(
                schema, seed=0, classifier_epochs=1, **nets(tiny, *gan, "classifier_dims")
            ),
            100,
            3,
        ),
    }


def time_tabular(launch_ms: float, repeats: int) -> None:
    """Per-epoch CPU times of the tabular sections and their T4 estimate (see the docstring)."""
    train, _ = tables.adult("train")
    steps = len(train) // 500
    print(f"\n{'section (gpu size, full Adult)':<42}{'s/epoch':>9}{'host s/epoch':>14}"
          f"{'epochs':>8}{'CPU min':>9}{'T4 min (est.)':>15}")  # fmt: skip
    for name, (make, epochs, turns) in tabular_sections().items():
        seconds = {}
        for tiny in (False, True):
            runs = []
            for _ in range(repeats):
                took = []
                for epochs_run in (1, 3):  # the difference removes the encoder's fitting
                    start = time.perf_counter()
                    make(tiny).fit(train, epochs=epochs_run, progress=False)
                    took.append(time.perf_counter() - start)
                runs.append((took[1] - took[0]) / 2)
            seconds[tiny] = statistics.median(runs)
        t4 = epochs * (seconds[True] + steps * turns * launch_ms / 1000)
        print(f"{name:<42}{seconds[False]:>9.2f}{seconds[True]:>14.2f}{epochs:>8}"
              f"{epochs * seconds[False] / 60:>9.1f}{t4 / 60:>15.1f}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per section")
    parser.add_argument(
        "--launch-ms", type=float, default=3.0, help="floor on a T4 step's time (ms)"
    )
    parser.add_argument(
        "--tabular",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the Adult sections of 10a/10b (needs the Adult files)",
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(f"command: {' '.join(sys.argv)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)")  # fmt: skip
    header = f"{'section (gpu size)':<62}{'CPU ms/step':>12}{'GFLOP':>8}{'steps':>8}"
    print(header + f"{'CPU min':>9}{'T4 min (est.)':>15}")
    for name, (step, steps) in sections().items():
        step()  # warm-up
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        ms = 1000 * statistics.median(times)
        turns = 3 if name.startswith("07") else 1  # each optimiser turn pays the launch floor
        t4_ms = max(turns * args.launch_ms, 1000 * flops / T4_FLOPS)
        print(
            f"{name:<62}{ms:>12.1f}{flops / 1e9:>8.2f}{steps:>8}"
            f"{ms * steps / 60_000:>9.1f}{t4_ms * steps / 60_000:>15.1f}"
        )
    if args.tabular:
        time_tabular(args.launch_ms, max(1, args.repeats // 2))


if __name__ == "__main__":
    main()
