"""Chapter 10b exercises: the mixed-type encoding of one column, the information loss, the
noisy gradient of one DP-SGD step (per-row clipping + Gaussian noise) and, the central one,
the RDP accountant that composes those steps and converts them to (ε, δ)."""

from __future__ import annotations

import numpy as np
import torch

from edu_gen.course.grading.core import Case, Exercise, register, seeded_generator
from edu_gen.tabular import privacy
from edu_gen.tabular.encoding import mixed_encode
from edu_gen.tabular.synthesizers import information_loss


def _mixed_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n_mass, k = 1 + seed % 2, 3
    masses = torch.tensor([0.0, -1.0][:n_mass], dtype=torch.float64)
    means = 2 + 6 * torch.rand(k, generator=g, dtype=torch.float64)
    stds = 0.5 + torch.rand(k, generator=g, dtype=torch.float64)
    n = 40
    modes = torch.randint(k, (n,), generator=g)
    x = means[modes] + stds[modes] * torch.randn(n, generator=g, dtype=torch.float64)
    mass_rows = torch.rand(n, generator=g) < 0.4
    x[mass_rows] = masses[torch.randint(n_mass, (int(mass_rows.sum()),), generator=g)]
    return {"x": x, "point_masses": masses, "means": means, "stds": stds, "modes": modes}


def _mixed_no_offset(x, point_masses, means, stds, modes):
    alpha, beta = mixed_encode(x, point_masses, means, stds, modes)
    hit = (x[:, None] == point_masses).any(1)
    index = torch.where(hit, beta.argmax(1), modes)  # mixture modes not shifted past the masses
    return alpha, torch.nn.functional.one_hot(index, beta.shape[1]).to(x.dtype)


def _mixed_no_four(x, point_masses, means, stds, modes):
    alpha, beta = mixed_encode(x, point_masses, means, stds, modes)
    return alpha * 4, beta


def _mixed_mass_through_mixture(x, point_masses, means, stds, modes):
    _, beta = mixed_encode(x, point_masses, means, stds, modes)
    return (x - means[modes]) / (4 * stds[modes]), beta


register(
    Exercise(
        id="10b.mixed_encode",
        title="Mixed-type encoding of one column: point masses as modes, alpha for the rest",
        inputs=_mixed_inputs,
        reference=mixed_encode,
        grad_inputs=(),  # an encoding of data: never differentiated
        # masses moved off every value of x: each value then goes through the mixture
        perturb={"point_masses": lambda inputs, g: inputs["point_masses"] + 0.5},
        mistakes={
            "mixture mode k goes after the point masses: index M + k, not k": _mixed_no_offset,
            "alpha divides by 4 sigma_k, not by sigma_k": _mixed_no_four,
            "a point mass is its own mode with alpha = 0; it does not go through the mixture": (
                _mixed_mass_through_mixture
            ),
        },
    )
)


def _features_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    b, h = 16 + seed % 5, 6
    real = torch.randn(b, h, generator=g, dtype=torch.float64)
    fake = 0.5 + 1.5 * torch.randn(b, h, generator=g, dtype=torch.float64)
    return {"real_features": real, "fake_features": fake}


def _info_no_sd(real, fake):
    return (real.mean(0) - fake.mean(0)).norm()


def _info_squared(real, fake):
    mean = real.mean(0) - fake.mean(0)
    sd = real.std(0, correction=0) - fake.std(0, correction=0)
    return mean.pow(2).sum() + sd.pow(2).sum()


def _info_unbiased(real, fake):
    return (real.mean(0) - fake.mean(0)).norm() + (real.std(0) - fake.std(0)).norm()


def _info_over_rows(real, fake):
    mean = real.mean(1) - fake.mean(1)
    sd = real.std(1, correction=0) - fake.std(1, correction=0)
    return mean.norm() + sd.norm()


register(
    Exercise(
        id="10b.information_loss",
        title="The information loss: match the mean and std of discriminator features",
        inputs=_features_inputs,
        reference=information_loss,
        mistakes={
            "add the standard-deviation term": _info_no_sd,
            "take the Euclidean norms, not their squares": _info_squared,
            "use the batch (population) std, correction=0": _info_unbiased,
            "moments are over the batch (dim 0), one per feature": _info_over_rows,
        },
    )
)


def _dp_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    b, p = 12, 7
    scale = torch.tensor([0.2, 3.0], dtype=torch.float64)[torch.randint(2, (b, 1), generator=g)]
    grads = scale * torch.randn(b, p, generator=g, dtype=torch.float64)
    return {
        "per_example_grads": grads,
        "clip_norm": 1.0 + seed % 3,
        "noise": torch.randn(p, generator=g, dtype=torch.float64),
        "noise_multiplier": [0.8, 1.1, 0.5][seed % 3],
        "expected_batch_size": 9.0 + seed % 4,
    }


def _dp_zero_row(seed: int) -> dict:
    """A row whose gradient is exactly 0 (min(1, C / 0) = 1: it adds nothing)."""
    inputs = _dp_inputs(seed)
    inputs["per_example_grads"][3] = 0.0
    return inputs


def dp_noisy_gradient(per_example_grads, clip_norm, noise, noise_multiplier, expected_batch_size):
    """Reference: :func:`edu_gen.tabular.privacy.clip_and_sum` plus the scaled noise."""
    summed, _ = privacy.clip_and_sum({"g": per_example_grads}, clip_norm)
    return (summed["g"] + noise_multiplier * clip_norm * noise) / expected_batch_size


def _dp_clip_batch(grads, c, noise, sigma, qn):
    total = grads.sum(0)
    total = total * torch.clamp(c / total.norm(), max=1.0)  # one clip per batch (published code)
    return (total + sigma * c * noise) / qn


def _dp_actual_batch(grads, c, noise, sigma, qn):
    return dp_noisy_gradient(grads, c, noise, sigma, qn) * qn / grads.shape[0]


def _dp_noise_std(grads, c, noise, sigma, qn):
    summed, _ = privacy.clip_and_sum({"g": grads}, c)
    return (summed["g"] + sigma * noise) / qn


def _dp_rescale_all(grads, c, noise, sigma, qn):
    scaled = grads * (c / grads.norm(dim=1, keepdim=True))
    return (scaled.sum(0) + sigma * c * noise) / qn


register(
    Exercise(
        id="10b.dp_noisy_gradient",
        title="One DP-SGD step: clip every row's gradient, sum, add noise, divide by qn",
        inputs=_dp_inputs,
        reference=dp_noisy_gradient,
        grad_inputs=(),  # a parameter update, never differentiated
        edge_cases=(
            Case(
                "a row whose gradient is exactly 0",
                _dp_zero_row,
                "C / 0 is inf: the factor min(1, C/‖g‖) must still give 0 · 1 = 0 for that row",
            ),
        ),
        mistakes={
            "clip each row's gradient, not the batch sum": _dp_clip_batch,
            "divide by the expected batch size qn, not the sampled size": _dp_actual_batch,
            "the noise std is sigma * C": _dp_noise_std,
            "min(1, C/||g||): small gradients are not scaled up": _dp_rescale_all,
        },
    )
)


# ------------------------------------------------------------------ the central algorithm


def _epsilon_inputs(seed: int) -> dict:
    """A DP-SGD run: steps, Poisson rate, noise multiplier, delta, and a grid of Rényi orders
    (fractional and integer ones, like the accountant's default grid)."""
    g = seeded_generator(seed)
    grid = np.asarray(privacy.DEFAULT_ORDERS)
    pick = torch.randperm(len(grid), generator=g)[: 12 + seed % 6].sort().values.numpy()
    return {
        "steps": [60, 400, 1500][seed % 3],
        "sample_rate": [0.01, 0.04, 0.1][(seed // 3) % 3],
        "noise_multiplier": [0.8, 1.1, 1.6, 2.5][seed % 4],
        "delta": [1e-5, 1e-6, 1e-3][(seed // 2) % 3],
        "orders": np.concatenate([grid[pick], [2.0, 8.0, 32.0]]),
    }


def ref_epsilon_after(steps, sample_rate, noise_multiplier, delta, orders):
    """The package's accountant with the classic conversion (Mironov 2017, Prop. 3)."""
    accountant = privacy.RdpAccountant(orders=tuple(orders), conversion="classic")
    accountant.step(sample_rate, noise_multiplier, steps)
    return accountant.get_epsilon(delta)


def _rdp_one_step(q, sigma, orders):
    return privacy.rdp_sampled_gaussian(q, sigma, orders)


def _eps_linear(steps, q, sigma, delta, orders):
    one = _rdp_one_step(q, sigma, orders) - np.log(delta) / (orders - 1)
    return float(steps * one.min())  # each step's (ε, δ) added up


def _eps_no_delta(steps, q, sigma, delta, orders):
    return float((steps * _rdp_one_step(q, sigma, orders)).min())


def _eps_over_alpha(steps, q, sigma, delta, orders):
    return float((steps * _rdp_one_step(q, sigma, orders) - np.log(delta) / orders).min())


def _eps_min_rdp_first(steps, q, sigma, delta, orders):
    rdp = steps * _rdp_one_step(q, sigma, orders)
    best = int(np.argmin(rdp))  # the order of the smallest RDP, then converted there
    return float(rdp[best] - np.log(delta) / (orders[best] - 1))


def _eps_no_sampling(steps, q, sigma, delta, orders):
    rdp = steps * orders / (2 * sigma**2)  # the Gaussian mechanism on the whole data set
    return float((rdp - np.log(delta) / (orders - 1)).min())


register(
    Exercise(
        id="10b.epsilon_after",
        title="The RDP accountant: compose T sampled-Gaussian steps, convert to (ε, δ)",
        points=20,
        inputs=_epsilon_inputs,
        reference=ref_epsilon_after,
        perturb={
            "steps": lambda inputs, g: 2 * inputs["steps"],
            "delta": lambda inputs, g: inputs["delta"] / 10,
            "orders": lambda inputs, g: inputs["orders"] + 0.5,  # another grid, all > 1
        },
        mistakes={
            "add up the RDP curves of the steps (T · ε_step(α)) and convert once; adding "
            "each step's ε is far too pessimistic": _eps_linear,
            "add log(1/δ)/(α − 1) before taking the minimum over the orders": _eps_no_delta,
            "the conversion term is log(1/δ)/(α − 1), not log(1/δ)/α": _eps_over_alpha,
            "minimise ε(α) + log(1/δ)/(α − 1) over the orders, not the RDP alone": (
                _eps_min_rdp_first
            ),
            "each step is the *sampled* Gaussian mechanism: use rdp_sampled_gaussian with the "
            "sampling rate q, not α/(2σ²)": _eps_no_sampling,
        },
    )
)
