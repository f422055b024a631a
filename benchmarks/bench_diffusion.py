"""DDIM (20 steps) vs DDPM (1000 steps) on the chapter-08 digits ε-model, and sampler overhead.

Part 1 — speed-up at equal model: network calls, wall time and the digits feature-Fréchet
distance (``frechet.digits_fd`` against the 360 held-out test digits; lower is better)
of DDPM ancestral sampling with T = 1000 steps and deterministic DDIM (η = 0) with S = 20 steps.
Goal (issue 5): DDIM's FD within 10 % of DDPM's at ≥ 50× fewer calls.

The FD of a few hundred samples is noisy (with 360 samples the DDIM20/DDPM1000 ratio of the
earlier 256 × 3 model ranged from 1.10 to 1.61 over three sampling seeds), so every sampler draws
``--n`` samples (default 1437, the size of the training split, so the real-vs-real floor exists
at the same size) for each of ``--seeds`` sampling seeds, and the table reports mean ± standard
deviation over seeds. Extra rows separate the causes of a gap: DDIM η = 0 with S = 1000 (the
limit of the deterministic sampler, so "DDIM20 / DDIM1000" is the pure step-count loss), DDIM20
with x̂_0 clipped into [-1, 1] (``clip=1.0``), quadratic τ and the stochastic η = 1 at S = 20.
``--table`` adds the chapter-09 S × η table on the same samples budget.

Part 2 — per-step sampler overhead: the same model and x_T run through ``edu_gen``'s DDIM loop
and through ``diffusers.DDIMScheduler`` (configured to agree: clip_sample=False,
set_alpha_to_one=True, timestep_spacing="leading", steps_offset=0; ``diffusers`` counts steps
from 0, so its timestep k is our t = k + 1). The model is a constant ε (no network cost), so the
times are the schedulers' own bookkeeping; both outputs are checked to agree first. Reported:
median seconds per step over repeats, and the ratio edu_gen / diffusers from the same run.

Run (single-threaded, as the notebooks): ``.venv/bin/python benchmarks/bench_diffusion.py
[--fast] [--seeds 1 2 3] [--n 1437] [--table] [--train-seed 0] [--repeats 5]`` from
``notebooks/`` (so the chapter-08 checkpoint is reused).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from edu_gen.core import config, rng
from edu_gen.evaluation import frechet as metrics
from edu_gen.models import diffusion as dm


class Counter:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.model(x, t)


def samplers(sched, n: int) -> dict:
    """name → run(model, generator); DDPM first, DDIM S=20 η=0 second (the goal's pair)."""
    shape = (n, 64)

    def ddim(**kw):
        return lambda f, g: dm.ddim_sample(f, sched, shape, generator=g, **kw)

    return {
        "DDPM T=1000": lambda f, g: dm.ddpm_sample(f, sched, shape, generator=g),
        "DDIM S=20 η=0": ddim(S=20),
        "DDIM S=20 η=0 clip": ddim(S=20, clip=1.0),
        "DDIM S=20 η=0 quad τ": ddim(S=20, spacing="quadratic"),
        "DDIM S=20 η=1": ddim(S=20, eta=1.0),
        "DDIM S=50 η=0": ddim(S=50),
        "DDIM S=1000 η=0": ddim(S=1000),
    }


def quality(model, sched, n: int, seeds: list[int]) -> list[dict]:
    rows = []
    for name, run in samplers(sched, n).items():
        fds, secs = [], []
        for seed in seeds:
            counted = Counter(model)
            start = time.perf_counter()
            x = run(counted, rng.generator(seed))
            secs.append(time.perf_counter() - start)
            fds.append(metrics.digits_fd(x))
        rows.append({"sampler": name, "calls": counted.calls, "seconds": min(secs), "fd": fds})
        print(f"  {name}: FD {' '.join(f'{v:.2f}' for v in fds)}", flush=True)
    return rows


def eta_s_table(model, sched, n: int, seeds: list[int]) -> None:
    S_list, eta_list = [10, 20, 50, 100], [0.0, 0.2, 0.5, 1.0]  # noqa: N806
    print(f"\nS × η table: feature FD, mean ± sd over sampling seeds {seeds}, {n} samples")
    print("   S | " + " | ".join(f"    η={e:.1f}    " for e in eta_list))
    for S in S_list:  # noqa: N806
        cells = []
        for eta in eta_list:
            fds = [
                metrics.digits_fd(
                    dm.ddim_sample(
                        model,
                        sched,
                        (n, 64),
                        S=S,
                        eta=eta,
                        generator=rng.generator(seed),
                    )
                )
                for seed in seeds
            ]
            cells.append(f"{_mean(fds):6.2f} ± {_sd(fds):4.2f}")
        print(f"{S:4d} | " + " | ".join(cells), flush=True)


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def overhead(sched, repeats: int, steps: int = 50, batch: int = 64) -> tuple[float, float]:
    import diffusers

    theirs = diffusers.DDIMScheduler(
        num_train_timesteps=sched.T,
        beta_start=1e-4,
        beta_end=0.02,
        beta_schedule="linear",
        clip_sample=False,
        set_alpha_to_one=True,
        steps_offset=0,
        timestep_spacing="leading",
        prediction_type="epsilon",
    )
    theirs.set_timesteps(steps)
    eps = 0.1 * torch.randn(batch, 64, generator=rng.generator(0))

    def model(x, t):
        return eps

    x_T = torch.randn(batch, 64, generator=rng.generator(1))  # noqa: N806

    def run_ours():
        return dm.ddim_sample(model, sched, x_T.shape, S=steps, x_T=x_T)

    def run_theirs():
        x = x_T.clone()
        for k in theirs.timesteps:
            x = theirs.step(model(x, k), k, x, eta=0.0).prev_sample
        return x

    err = (run_ours() - run_theirs()).abs().max().item()
    if err > 1e-3:  # float32 ᾱ in diffusers: ~2e-4 after 50 steps (oracle tests: 1e-4 at S=20)
        raise SystemExit(f"samplers disagree (max abs diff {err:.2e}); not timing them")
    times = {"edu_gen": [], "diffusers": []}
    for _ in range(repeats):
        for name, fn in (("edu_gen", run_ours), ("diffusers", run_theirs)):
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) / steps)
    return statistics.median(times["edu_gen"]), statistics.median(times["diffusers"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="FAST-mode model (fewer steps)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--n", type=int, default=1437, help="samples per sampler and seed")
    parser.add_argument("--train-seed", type=int, default=0, help="seed of the ε-model")
    parser.add_argument("--table", action="store_true", help="also print the S × η table")
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["EDU_GEN_FAST"] = "1"
    print(
        "command:", " ".join(sys.argv), "|", config.banner(), "| threads", torch.get_num_threads()
    )
    ckpt = dm.digits_denoiser_checkpoint(args.train_seed)
    model, sched, _ = dm.train_digits_denoiser(
        **dm.digits_denoiser_kwargs(), seed=args.train_seed, checkpoint=ckpt, progress=False
    )
    print(f"ε-model {ckpt}; {args.n} samples per sampler and seed, seeds {args.seeds}")
    rows = quality(model, sched, args.n, args.seeds)
    print(
        f"\nreal-vs-real feature FD floor: {metrics.real_floor(min(args.n, 1437)):.2f} at "
        f"{min(args.n, 1437)} samples, {metrics.real_floor():.2f} at 360"
    )
    print(f"{'sampler':22s} {'calls':>6s} {'seconds':>8s} {'feature FD (mean ± sd)':>23s}")
    for r in rows:
        print(
            f"{r['sampler']:22s} {r['calls']:6d} {r['seconds']:8.2f} "
            f"{_mean(r['fd']):14.2f} ± {_sd(r['fd']):4.2f}"
        )
    by_name = {r["sampler"]: r for r in rows}
    ddpm, ddim, limit = by_name["DDPM T=1000"], by_name["DDIM S=20 η=0"], by_name["DDIM S=1000 η=0"]
    ratios = [b / a for a, b in zip(ddpm["fd"], ddim["fd"], strict=True)]
    print(
        f"calls ratio DDPM/DDIM20 = {ddpm['calls'] / ddim['calls']:.0f}x, "
        f"wall-time ratio = {ddpm['seconds'] / ddim['seconds']:.1f}x, "
        f"FD ratio DDIM20/DDPM1000 = {_mean(ratios):.3f} (per seed "
        f"{', '.join(f'{v:.2f}' for v in ratios)}; goal <= 1.10); "
        f"DDIM20/DDIM1000 (η=0) = {_mean(ddim['fd']) / _mean(limit['fd']):.3f}"
    )
    if args.table:
        eta_s_table(model, sched, args.n, args.seeds)
    try:
        ours, theirs = overhead(sched, args.repeats)
    except ImportError:
        print("\ndiffusers is not installed: skipping the per-step overhead comparison")
        return
    print(
        f"\nper-step DDIM scheduler overhead (constant ε, batch 64, median of {args.repeats}): "
        f"edu_gen {ours * 1e6:.0f} µs, diffusers {theirs * 1e6:.0f} µs, "
        f"ratio edu_gen/diffusers = {ours / theirs:.2f}"
    )


if __name__ == "__main__":
    main()
