"""Chapter 07 exercises: optimal discriminator, JSD, non-saturating loss, packing, WGAN-GP;
the central algorithm: one alternating discriminator/generator step (non-saturating GAN) and
one WGAN-GP critic step, graded by the losses they return and the parameters they leave.

Length: over 300 lines, kept as one module: one chapter's specs, each a reference, an input
generator and its planted mistakes; the two training steps plant six mistakes each.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edu_gen.core import rng
from edu_gen.core.nn import mlp
from edu_gen.course.grading.core import (
    Case,
    Exercise,
    perturb,
    register,
    seeded_generator,
    stale_gradients,
    state_after,
)
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


# ------------------------------------------------------------ the central algorithm
#
# Both steps are graded as training steps: the losses they return and the parameters they
# leave, against one reference step from the same start (float64 networks with gradients
# left over from an earlier backward pass, plain SGD so that every gradient shows).


def _nets(seed: int, g: torch.Generator) -> tuple[int, int, torch.nn.Module, torch.nn.Module]:
    """A small discriminator (logits ``[N, 1]``) and generator, float64, seeded by ``seed``."""
    d, k = 2 + seed % 3, 1 + seed % 3
    with rng.seeded(seed):
        D = mlp([d, 8, 1], "tanh").double()
        G = mlp([k, 8, d], "tanh").double()
    return d, k, D, G


def _gan_step_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    d, k, D, G = _nets(seed, g)
    stale_gradients(D, g)
    stale_gradients(G, g)
    lr = [0.05, 0.1, 0.2][seed % 3]
    n = 6 + seed % 5
    return {
        "D": D,
        "G": G,
        "opt_d": torch.optim.SGD(D.parameters(), lr=lr),
        "opt_g": torch.optim.SGD(G.parameters(), lr=lr),
        "x_real": 1 + torch.randn(n, d, generator=g, dtype=torch.float64),
        "z_d": torch.randn(n, k, generator=g, dtype=torch.float64),
        "z_g": torch.randn(n, k, generator=g, dtype=torch.float64),
    }


def _bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def ref_gan_step(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """Goodfellow et al. (2014), Algorithm 1 with the non-saturating generator loss.

    The discriminator ascends V on real vs a detached G(z_d); then the generator, against
    the *updated* discriminator, descends -E[log D(G(z_g))]."""
    opt_d.zero_grad()
    loss_d = gan.discriminator_loss(D(x_real).squeeze(-1), D(G(z_d).detach()).squeeze(-1))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = gan.generator_loss_nonsaturating(D(G(z_g)).squeeze(-1))
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


def _d_step(D, G, opt_d, x_real, z_d, *, real=1.0, fake=0.0, detach=True, zero=True):
    if zero:
        opt_d.zero_grad()
    x_fake = G(z_d).detach() if detach else G(z_d)
    loss_d = _bce(D(x_real), real) + _bce(D(x_fake), fake)
    loss_d.backward()
    opt_d.step()
    return loss_d


def _g_step(D, G, opt_g, z_g, *, zero=True, saturating=False):
    if zero:
        opt_g.zero_grad()
    logits = D(G(z_g))
    loss_g = F.logsigmoid(-logits).mean() if saturating else _bce(logits, 1.0)
    loss_g.backward()
    opt_g.step()
    return loss_g


def _step_saturating(D, G, opt_d, opt_g, x_real, z_d, z_g):
    loss_d = _d_step(D, G, opt_d, x_real, z_d)
    loss_g = _g_step(D, G, opt_g, z_g, saturating=True)  # minimises E[log(1 - D(G(z)))]
    return loss_d.item(), loss_g.item()


def _step_simultaneous(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """Both losses at the starting parameters: the generator's gradient comes from the
    discriminator *before* its update (simultaneous gradient descent)."""
    opt_d.zero_grad()
    opt_g.zero_grad()
    loss_g = _bce(D(G(z_g)), 1.0)
    grads_g = torch.autograd.grad(loss_g, list(G.parameters()))
    loss_d = _bce(D(x_real), 1.0) + _bce(D(G(z_d).detach()), 0.0)
    loss_d.backward()
    opt_d.step()
    for p, grad in zip(G.parameters(), grads_g, strict=True):
        p.grad = grad
    opt_g.step()
    return loss_d.item(), loss_g.item()


def _step_fake_not_detached(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """Both optimisers cleared once at the top, the fake batch not detached: the
    discriminator's loss leaves its gradient on G, and the generator's step adds to it."""
    opt_d.zero_grad()
    opt_g.zero_grad()
    loss_d = _d_step(D, G, opt_d, x_real, z_d, detach=False, zero=False)
    loss_g = _g_step(D, G, opt_g, z_g, zero=False)
    return loss_d.item(), loss_g.item()


def _step_no_zero_grad(D, G, opt_d, opt_g, x_real, z_d, z_g):
    loss_d = _d_step(D, G, opt_d, x_real, z_d, zero=False)  # adds to the stale gradients
    loss_g = _g_step(D, G, opt_g, z_g, zero=False)
    return loss_d.item(), loss_g.item()


def _step_swapped_labels(D, G, opt_d, opt_g, x_real, z_d, z_g):
    loss_d = _d_step(D, G, opt_d, x_real, z_d, real=0.0, fake=1.0)
    loss_g = _g_step(D, G, opt_g, z_g)
    return loss_d.item(), loss_g.item()


def _step_g_on_d_loss(D, G, opt_d, opt_g, x_real, z_d, z_g):
    """The generator steps on the discriminator's own loss (fake = 0): it helps D."""
    loss_d = _d_step(D, G, opt_d, x_real, z_d)
    opt_g.zero_grad()
    loss_g = _bce(D(x_real), 1.0) + _bce(D(G(z_g)), 0.0)
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


register(
    Exercise(
        id="07.gan_step",
        title="One alternating GAN step: the discriminator, then the generator (non-saturating)",
        points=20,
        inputs=_gan_step_inputs,
        reference=ref_gan_step,
        changes=("D", "G", "opt_d", "opt_g"),  # a step updates them: that is its job
        outcome=state_after("D", "G"),  # graded: both losses and both networks after the step
        perturb={"D": None, "G": None, "opt_d": None, "opt_g": None},  # optimisers hold them
        mistakes={
            "the generator minimises -log D(G(z)) (non-saturating), not log(1 - D(G(z)))": (
                _step_saturating
            ),
            "alternate: the generator's loss uses the discriminator *after* its update": (
                _step_simultaneous
            ),
            "detach the generated batch in the discriminator's step (G(z_d).detach()), or "
            "clear G's gradients before its own step": _step_fake_not_detached,
            "clear old gradients (opt_d.zero_grad(), opt_g.zero_grad()) before each backward": (
                _step_no_zero_grad
            ),
            "real samples get label 1 and generated samples label 0": _step_swapped_labels,
            "the generator wants D(G(z)) → 1: it does not descend the discriminator's loss": (
                _step_g_on_d_loss
            ),
        },
    )
)


def _critic_step_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    d, k, D, G = _nets(seed, g)
    stale_gradients(D, g)  # G has no gradient: the critic's step must leave it so
    n = 6 + seed % 5
    return {
        "D": D,
        "G": G,
        "opt_d": torch.optim.SGD(D.parameters(), lr=[0.05, 0.1, 0.2][seed % 3]),
        "x_real": 1 + torch.randn(n, d, generator=g, dtype=torch.float64),
        "z": torch.randn(n, k, generator=g, dtype=torch.float64),
        "u": torch.rand(n, generator=g, dtype=torch.float64),
        "lam": [1.0, 5.0, 10.0][seed % 3],
    }


def _critic_outcome(result, inputs):
    """The loss, the critic's parameters after the step, and the gradient left on G (none:
    the critic's step must not reach the generator)."""
    grads = [
        torch.zeros(p.numel(), dtype=p.dtype) if p.grad is None else p.grad.reshape(-1)
        for p in inputs["G"].parameters()
    ]
    return (*state_after("D")(result, inputs), torch.cat(grads))


def ref_wgan_gp_critic_step(D, G, opt_d, x_real, z, u, lam):
    """Gulrajani et al. (2017), Algorithm 1, one critic iteration:
    E[D(fake)] - E[D(real)] + lam * E[(||grad D(x_hat)|| - 1)^2]."""
    opt_d.zero_grad()
    with torch.no_grad():
        fake = G(z)
    loss = gan.critic_loss_wasserstein(
        D(x_real).squeeze(-1), D(fake).squeeze(-1)
    ) + gan.gradient_penalty(D, x_real, fake, weight=lam, eps=u)
    loss.backward()
    opt_d.step()
    return loss.item()


def _critic_step(
    D,
    G,
    opt_d,
    x_real,
    z,
    u,
    lam,
    *,
    detach=True,
    zero=True,
    at_real=False,
    create_graph=True,
    squared=False,
    sign=1.0,
):
    if zero:
        opt_d.zero_grad()
    fake = G(z).detach() if detach else G(z)
    x_hat = x_real.clone() if at_real else u[:, None] * x_real + (1 - u[:, None]) * fake
    if not x_hat.requires_grad:
        x_hat.requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=create_graph)
    norm = grad.norm(dim=1)
    penalty = (norm**2).mean() if squared else ((norm - 1) ** 2).mean()
    loss = sign * (D(fake).mean() - D(x_real).mean()) + lam * penalty
    loss.backward()
    opt_d.step()
    return loss.item()


def _critic_no_create_graph(D, G, opt_d, x_real, z, u, lam):
    return _critic_step(D, G, opt_d, x_real, z, u, lam, create_graph=False)


def _critic_at_real(D, G, opt_d, x_real, z, u, lam):
    return _critic_step(D, G, opt_d, x_real, z, u, lam, at_real=True)


def _critic_squared_norm(D, G, opt_d, x_real, z, u, lam):
    return _critic_step(D, G, opt_d, x_real, z, u, lam, squared=True)


def _critic_wrong_sign(D, G, opt_d, x_real, z, u, lam):
    return _critic_step(D, G, opt_d, x_real, z, u, lam, sign=-1.0)


def _critic_not_detached(D, G, opt_d, x_real, z, u, lam):
    return _critic_step(D, G, opt_d, x_real, z, u, lam, detach=False)


def _critic_no_zero_grad(D, G, opt_d, x_real, z, u, lam):
    return _critic_step(D, G, opt_d, x_real, z, u, lam, zero=False)


register(
    Exercise(
        id="07.wgan_gp_critic_step",
        title="One WGAN-GP critic step: Wasserstein loss plus the gradient penalty",
        points=20,
        inputs=_critic_step_inputs,
        reference=ref_wgan_gp_critic_step,
        changes=("D", "opt_d"),
        outcome=_critic_outcome,
        perturb={"D": None, "G": None, "opt_d": None},
        mistakes={
            "keep the graph of the gradient: torch.autograd.grad(..., create_graph=True), or "
            "the penalty does not train the critic": _critic_no_create_graph,
            "evaluate the penalty at x_hat = u * real + (1 - u) * fake, not at the real "
            "points": _critic_at_real,
            "penalise (‖∇D(x_hat)‖ - 1)², not ‖∇D(x_hat)‖²": _critic_squared_norm,
            "the critic minimises E[D(fake)] - E[D(real)] (real samples score high)": (
                _critic_wrong_sign
            ),
            "make the fake batch without a graph to G (torch.no_grad() or .detach()): the "
            "critic's step must leave no gradient on the generator": _critic_not_detached,
            "clear old gradients (opt_d.zero_grad()) before the backward pass": (
                _critic_no_zero_grad
            ),
        },
    )
)
