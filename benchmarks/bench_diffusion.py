"""DDIM (20 steps) vs DDPM (1000 steps) on the chapter-08 digits ε-model, and sampler overhead.

Part 1 — speed-up at equal model: network calls, wall time and the digits feature-Fréchet
distance (``edu_gen.metrics.digits_fd``; lower is better, reported with the real-vs-real floor)
of DDPM ancestral sampling with T = 1000 steps and deterministic DDIM (η = 0) with S = 20 steps,
both drawing as many samples as the digits test split. Goal (issue 5): DDIM's FD within 10 % of
DDPM's at ≥ 50× fewer calls.

Part 2 — per-step sampler overhead: the same model and x_T run through ``edu_gen``'s DDIM loop
and through ``diffusers.DDIMScheduler`` (configured to agree: clip_sample=False,
set_alpha_to_one=True, timestep_spacing="leading", steps_offset=0; ``diffusers`` counts steps
from 0, so its timestep k is our t = k + 1). The model is a constant ε (no network cost), so the
times are the schedulers' own bookkeeping; both outputs are checked to agree first. Reported:
median seconds per step over repeats, and the ratio edu_gen / diffusers from the same run.

Run: ``.venv/bin/python benchmarks/bench_diffusion.py [--fast] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from edu_gen import config, metrics
from edu_gen import diffusion as dm
from edu_gen.data import digits


class Counter:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.model(x, t)


def quality(model, sched, n: int, seed: int) -> list[dict]:
    rows = []
    for name, run in [
        ("DDPM T=1000", lambda f, g: dm.ddpm_sample(f, sched, (n, 64), generator=g)),
        ("DDIM S=20 η=0", lambda f, g: dm.ddim_sample(f, sched, (n, 64), S=20, generator=g)),
    ]:
        counted = Counter(model)
        start = time.perf_counter()
        x, _ = run(counted, torch.Generator().manual_seed(seed))
        seconds = time.perf_counter() - start
        rows.append(
            {
                "sampler": name,
                "calls": counted.calls,
                "seconds": seconds,
                "fd": metrics.digits_fd(x),
            }
        )
    return rows


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
    eps = 0.1 * torch.randn(batch, 64, generator=torch.Generator().manual_seed(0))

    def model(x, t):
        return eps

    x_T = torch.randn(batch, 64, generator=torch.Generator().manual_seed(1))  # noqa: N806

    def run_ours():
        return dm.ddim_sample(model, sched, x_T.shape, S=steps, x_T=x_T)[0]

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
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.fast:
        import os

        os.environ["EDU_GEN_FAST"] = "1"
    print("command:", " ".join(sys.argv), "|", config.banner())
    model, sched, _ = dm.train_digits_denoiser(
        **dm.digits_denoiser_kwargs(), checkpoint=dm.digits_denoiser_checkpoint(), progress=False
    )
    n = len(digits("test", "signed")[0])
    rows = quality(model, sched, n, args.seed)
    floor = metrics.real_floor()
    print(f"\n{n} samples each; real-vs-real feature FD floor {floor:.2f}")
    print(f"{'sampler':15s} {'calls':>6s} {'seconds':>8s} {'feature FD':>11s}")
    for r in rows:
        print(f"{r['sampler']:15s} {r['calls']:6d} {r['seconds']:8.2f} {r['fd']:11.2f}")
    ddpm, ddim = rows
    print(
        f"calls ratio DDPM/DDIM = {ddpm['calls'] / ddim['calls']:.0f}x, "
        f"wall-time ratio = {ddpm['seconds'] / ddim['seconds']:.1f}x, "
        f"FD ratio DDIM/DDPM = {ddim['fd'] / ddpm['fd']:.3f} (goal <= 1.10)"
    )
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
