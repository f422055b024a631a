"""Chapter 07 exercises: optimal discriminator, JSD, non-saturating loss, packing, WGAN-GP."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.course.grading.core import Case, Exercise, perturb, register, seeded_generator
from edu_gen.models import gan


def _two_densities(seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Two Gaussian mixtures on a grid (float64), with some cells where one of them is ~0."""
    g = seeded_generator(seed)
    n = 400 + 10 * (seed % 7)
    x = torch.linspace(-8, 8, n, dtype=torch.float64)
    dx = float(x[1] - x[0])

    def mixture() -> torch.Tensor:
        mu = 6 * torch.rand(2, generator=g, dtype=torch.float64) - 3
        sd = 0.3 + torch.rand(2, generator=g, dtype=torch.float64)
        p = torch.exp(-0.5 * ((x[:, None] - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        p = p.mean(1)
        return p / (p.sum() * dx)

    return mixture(), mixture(), dx


def _dstar_inputs(seed: int) -> dict:
    p_data, p_g, _ = _two_densities(seed)
    return {"p_data": p_data, "p_g": p_g}


register(
    Exercise(
        id="07.optimal_discriminator",
        title="The optimal discriminator D* = p_data / (p_data + p_g)",
        inputs=_dstar_inputs,
        reference=gan.optimal_discriminator,
        # D* is analysed, never trained; in the far tails, where both densities are ~1e-300,
        # its gradient is ~1e300 and means nothing
        grad_inputs=(),
        mistakes={
            "D* is the probability of *real*: p_data goes on top": lambda p, q: q / (p + q),
            "divide by the sum p_data + p_g, not by p_g": lambda p, q: p / q,
            "D* is a ratio of densities, not of their logs": lambda p, q: (
                torch.log(p) / (torch.log(p) + torch.log(q))
            ),
        },
    )
)


def _jsd_inputs(seed: int) -> dict:
    """The densities integrate to within 0.5% of one (as on a truncated grid), so ``dx``
    cannot be recomputed as ``1 / p.sum()``."""
    p, q, dx = _two_densities(seed)
    g = seeded_generator(seed + 1)
    mass = 1 + 0.01 * (torch.rand(2, generator=g, dtype=torch.float64) - 0.5)
    return {"p": p * mass[0], "q": q * mass[1], "dx": dx}


def _changed_density(name: str):
    def change(inputs, g):
        new = perturb(inputs[name], g)
        return new * (inputs[name].sum() / new.sum())  # the same mass

    return change


def _kl(p: torch.Tensor, q: torch.Tensor, dx: float) -> torch.Tensor:
    return (p * (torch.log(p) - torch.log(q))).sum() * dx


register(
    Exercise(
        id="07.jsd",
        title="Jensen-Shannon divergence on a grid (nats)",
        inputs=_jsd_inputs,
        reference=gan.jsd,
        perturb={
            "p": _changed_density("p"),
            "q": _changed_density("q"),
            "dx": lambda inputs, g: inputs["dx"] * 1.004,  # the masses stay within 1% of one
        },
        mistakes={
            "compare each density with the mixture m = (p + q) / 2, not with the other one": (
                lambda p, q, dx: 0.5 * _kl(p, q, dx) + 0.5 * _kl(q, p, dx)
            ),
            "each KL term is weighted by 1/2": lambda p, q, dx: (
                _kl(p, (p + q) / 2, dx) + _kl(q, (p + q) / 2, dx)
            ),
            "multiply the sum by the grid spacing dx": lambda p, q, dx: gan.jsd(p, q, dx) / dx,
            "use the natural log (nats), not log base 2": lambda p, q, dx: (
                gan.jsd(p, q, dx) / math.log(2)
            ),
        },
    )
)


def _logit_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    return {"fake_logits": 6 * torch.randn(20 + seed % 9, generator=g)}


def _logits_extreme(seed: int) -> dict:
    """Confidently rejected and accepted samples: logits of ±10⁴ (float32)."""
    logits = _logit_inputs(seed)["fake_logits"]
    return {"fake_logits": torch.where(logits > 0, 1e4, -1e4)}


def _log_of_sigmoid(fake_logits):
    """Right on ordinary logits, inf once sigmoid(a) rounds to 0."""
    return -torch.log(torch.sigmoid(fake_logits)).mean()


register(
    Exercise(
        id="07.generator_loss_nonsaturating",
        title="Non-saturating generator loss -E[log D(G(z))] from logits",
        inputs=_logit_inputs,
        reference=gan.generator_loss_nonsaturating,
        stability=(
            Case(
                "logits of ±10⁴",
                _logits_extreme,
                "sigmoid(-10⁴) is 0 in float32: use softplus(-a) = -log σ(a)",
            ),
        ),
        unstable=_log_of_sigmoid,
        mistakes={
            "that is the saturating loss E[log(1 - D(G(z)))]": lambda a: F.logsigmoid(-a).mean(),
            "the loss is a *negative* log-probability": lambda a: F.logsigmoid(a).mean(),
            "average over the batch, do not sum": lambda a: F.softplus(-a).sum(),
        },
    )
)


def _pack_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    pac = 2 + seed % 3
    n, d = pac * (2 + seed % 4), 1 + seed % 5
    return {"x": torch.randn(n, d, generator=g), "pac": pac}


def _other_pac(inputs, g):
    """Another divisor of the batch size (the number of packs, or 1)."""
    batch, pac = inputs["x"].shape[0], inputs["pac"]
    return batch // pac if batch // pac != pac else 1


register(
    Exercise(
        id="07.pack",
        title="PacGAN packing: [n * pac, d] → [n, pac * d], consecutive rows together",
        inputs=_pack_inputs,
        reference=gan.pack,
        perturb={"pac": _other_pac},
        mistakes={
            "a pack is `pac` *consecutive* rows (rows 0..pac-1 form pack 0)": lambda x, pac: (
                x.reshape(pac, x.shape[0] // pac, -1).transpose(0, 1).reshape(x.shape[0] // pac, -1)
            ),
            "the result has n = batch / pac rows": lambda x, pac: x.reshape(pac, -1),
        },
    )
)


class _Critic(torch.nn.Module):
    """A fixed smooth critic (its weights come from the case seed)."""

    def __init__(self, d: int, seed: int) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # leave the notebook's random stream alone
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(d, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
            ).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def _gp_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d = 4 + seed % 5, 2 + seed % 3
    return {
        "critic": _Critic(d, seed),
        "real": torch.randn(n, d, generator=g, dtype=torch.float64),
        "fake": 2 + torch.randn(n, d, generator=g, dtype=torch.float64),
        "eps": torch.rand(n, generator=g, dtype=torch.float64),
    }


def _ref_gp(critic, real, fake, eps):
    return gan.gradient_penalty(critic, real, fake, eps=eps)


def _gp_at(critic, real, fake, eps, power: int, weight: float = 10.0):
    x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return weight * ((grad.norm(dim=1) ** power - 1) ** 2).mean()


def _gp_squared_norm(critic, real, fake, eps):
    return _gp_at(critic, real, fake, eps, power=2)


def _gp_at_real(critic, real, fake, eps):
    return _gp_at(critic, real, real, eps, power=1)


def _gp_no_lambda(critic, real, fake, eps):
    return _gp_at(critic, real, fake, eps, power=1, weight=1.0)


register(
    Exercise(
        id="07.gradient_penalty",
        title="WGAN-GP gradient penalty λ E[(‖∇f(x̂)‖ − 1)²] at x̂ = εx + (1−ε)x̃",
        inputs=_gp_inputs,
        reference=_ref_gp,
        grad_inputs=(),  # the critic's parameters: the penalty trains the critic
        gradient_note=(
            "The penalty trains the critic only if torch.autograd.grad(..., "
            "create_graph=True) keeps the graph of the gradient."
        ),
        mistakes={
            "penalise the norm ‖∇f‖, not the squared norm": _gp_squared_norm,
            "evaluate the gradient between real and fake samples, not at the real ones": (
                _gp_at_real
            ),
            "multiply by λ = 10": _gp_no_lambda,
        },
    )
)
