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

# %% [markdown]
# # 07 · GANs and the Jensen-Shannon divergence — exercises
#
# Seven graded exercises: five warm-ups (10 points each) on the pieces of the chapter, then
# the central algorithm in two parts (20 points each) — one alternating discriminator /
# generator step of a GAN (exercise 6) and one critic step of WGAN-GP (exercise 7) — which
# the last cells use to train GANs on the ring of 8 Gaussians. Write your code where it says
# `raise NotImplementedError`, then run the `check(...)` cell under it: it runs randomised
# tests against the reference implementation and prints your points, with a hint when your
# answer matches a common mistake. Later cells use your function once it passes (the
# reference until then).
#
# Use only `torch` operations; no loops over examples are needed.
#
# Besides the values, `check` tests what every answer must keep: your function must not
# change its arguments in place, must return what the reference returns (a tensor of the
# inputs' dtype, a tuple of the same length, a Python `int` where one is asked for), must
# keep the gradient wherever the result is differentiable (no `.item()`, `.detach()` or
# `torch.no_grad()`), and must use each argument as given: one test changes each argument
# alone. Some exercises add extreme inputs, where only a stable formula stays finite, and the
# edge cases their text mentions. The feedback names the rule a test broke.

# %% tags=["setup"]
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from edu_gen.core import config, rng
from edu_gen.core.nn import mlp
from edu_gen.course.grading import check
from edu_gen.models import gan
from edu_gen.models.likelihood import GaussianMixture1D, grid

rng.seed_everything(0)
print(config.banner())

# %% [markdown]
# ## Exercise 1 — the optimal discriminator (10 points)
#
# Given the two densities on a grid (tensors of the same shape, strictly positive), return
# $D^*(x) = p_{\text{data}}(x) / (p_{\text{data}}(x) + p_g(x))$ element-wise.


# %%
def optimal_discriminator(p_data, p_g):
    ### BEGIN SOLUTION
    return p_data / (p_data + p_g)
    ### END SOLUTION


result_dstar = check("07.optimal_discriminator", optimal_discriminator)

# %% [markdown]
# ## Exercise 2 — the Jensen-Shannon divergence (10 points)
#
# For densities `p`, `q` sampled on a uniform grid with spacing `dx` (positive everywhere),
# return, in nats,
# $\mathrm{JSD}(p\,\|\,q) = \tfrac12\mathrm{KL}(p\,\|\,m) + \tfrac12\mathrm{KL}(q\,\|\,m)$ with
# $m = \tfrac12(p+q)$ and $\mathrm{KL}(p\,\|\,m) = \sum_i p_i\log(p_i/m_i)\,\Delta x$.


# %%
def jsd(p, q, dx):
    ### BEGIN SOLUTION
    m = 0.5 * (p + q)
    kl_pm = (p * (torch.log(p) - torch.log(m))).sum() * dx
    kl_qm = (q * (torch.log(q) - torch.log(m))).sum() * dx
    return 0.5 * kl_pm + 0.5 * kl_qm
    ### END SOLUTION


result_jsd = check("07.jsd", jsd)

# %% [markdown]
# **Use them:** with your two functions, verify $V(G, D^*) = 2\,\mathrm{JSD} - \log 4$ for a
# data mixture and a Gaussian generator, and that the generator's best value is $-\log 4$.

# %%
d_star_fn = result_dstar.choose(optimal_discriminator)
jsd_fn = result_jsd.choose(jsd)
xs, dx = grid(-10.0, 10.0, 2000)
p_data = GaussianMixture1D(weights=(0.3, 0.7), means=(-2.0, 1.0), stds=(0.6, 0.8)).prob(xs)
p_data = p_data / (p_data.sum() * dx)
for mu in (-3.0, 0.0, 2.0):
    p_g = torch.exp(-0.5 * (xs - mu) ** 2) / math.sqrt(2 * math.pi)
    p_g = p_g / (p_g.sum() * dx)
    v = gan.value_on_grid(p_data, p_g, d_star_fn(p_data, p_g), dx)
    print(
        f"mu={mu:+.1f}: V(G,D*)={v:.6f}  2·JSD − log 4={2 * jsd_fn(p_data, p_g, dx) - math.log(4):.6f}"
    )
print(f"p_g = p_data: V = {gan.value_on_grid(p_data, p_data, d_star_fn(p_data, p_data), dx):.6f}")
print(f"−log 4       = {-math.log(4):.6f}")

# %% [markdown]
# ## Exercise 3 — the non-saturating generator loss (10 points)
#
# Given the discriminator's logits $a$ on a batch of generated samples ($D = \sigma(a)$),
# return $-\frac1N\sum_n\log D(G(z_n))$. Avoid `log(sigmoid(a))` (it underflows); use
# $-\log\sigma(a) = \mathrm{softplus}(-a)$.


# %%
def generator_loss_nonsaturating(fake_logits):
    ### BEGIN SOLUTION
    return F.softplus(-fake_logits).mean()
    ### END SOLUTION


result_ns = check("07.generator_loss_nonsaturating", generator_loss_nonsaturating)

# %% [markdown]
# **Use it:** the gradient with respect to a confidently rejected logit ($a = -8$) under your
# loss and under the saturating loss $\mathbb E[\log(1 - D)]$.

# %%
ns_fn = result_ns.choose(generator_loss_nonsaturating)
a = torch.tensor([-8.0], requires_grad=True)
(g_ns,) = torch.autograd.grad(ns_fn(a), a)
(g_sat,) = torch.autograd.grad(gan.generator_loss_saturating(a), a)
print(f"d/da non-saturating: {g_ns.item():.4f}   d/da saturating: {g_sat.item():.6f}")

# %% [markdown]
# ## Exercise 4 — PacGAN packing (10 points)
#
# Reshape a batch `x` of shape `[n * pac, d]` into `[n, pac * d]` so that rows
# `0 .. pac-1` become pack 0, rows `pac .. 2 pac - 1` pack 1, and so on (Lin et al. 2018).


# %%
def pack(x, pac):
    ### BEGIN SOLUTION
    return x.reshape(x.shape[0] // pac, pac * x.shape[1])
    ### END SOLUTION


result_pack = check("07.pack", pack)

# %% [markdown]
# **Use it:** a collapsed batch (one point repeated) gives packs whose entries are identical;
# a discriminator that sees packs can detect that, one that sees single samples cannot.

# %%
pack_fn = result_pack.choose(pack)
collapsed = gan.ring_centres()[[0] * 8]
varied = gan.sample_ring(8, generator=torch.Generator().manual_seed(0))
for name, batch in (("collapsed", collapsed), ("varied", varied)):
    packs = pack_fn(batch, 4).reshape(2, 4, 2)
    print(f"{name:9s}: within-pack spread {packs.std(dim=1).mean():.3f}")

# %% [markdown]
# ## Exercise 5 — the WGAN-GP gradient penalty (10 points)
#
# For a `critic` (a function from `[N, d]` to scores `[N]`), real and fake batches `[N, d]`
# and mixing weights `eps` `[N]`, form $\hat x_n = \epsilon_n x_n + (1-\epsilon_n)\tilde x_n$,
# compute $\nabla_{\hat x} f(\hat x)$ with `torch.autograd.grad(..., create_graph=True)` and
# return $\lambda\,\frac1N\sum_n(\lVert\nabla f(\hat x_n)\rVert_2 - 1)^2$ with $\lambda = 10$
# (Gulrajani et al. 2017).


# %%
def gradient_penalty(critic, real, fake, eps):
    ### BEGIN SOLUTION
    x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return 10 * ((grad.norm(dim=1) - 1) ** 2).mean()
    ### END SOLUTION


result_gp = check("07.gradient_penalty", gradient_penalty)

# %% [markdown]
# **Use it:** a linear critic $f(x) = w^\top x$ has $\lVert\nabla f\rVert = \lVert w\rVert$
# everywhere, so the penalty is $10(\lVert w\rVert - 1)^2$ — zero exactly for unit-norm $w$.

# %%
gp_fn = result_gp.choose(gradient_penalty)
real, fake, eps = torch.randn(16, 2), torch.randn(16, 2), torch.rand(16)
for scale in (0.5, 1.0, 2.0):
    w = scale * torch.tensor([0.6, 0.8])
    value = gp_fn(lambda x, w=w: x @ w, real, fake, eps)
    print(f"|w| = {scale}: penalty {float(value):.4f}  (expected {10 * (scale - 1) ** 2:.4f})")

# %% [markdown]
# ## Exercise 6 — one alternating GAN step (20 points)
#
# The training loop of Goodfellow et al. (2014, Algorithm 1), with the non-saturating
# generator loss, is a sequence of *alternating* updates. Write one of them:
# `gan_step(D, G, opt_d, opt_g, x_real, z_d, z_g)`.
#
# * `D` maps a batch `[N, d]` to logits `[N, 1]` ($D(x) = \sigma(\text{logit})$), `G` maps
#   noise `[N, k]` to samples `[N, d]`; `opt_d` holds `D`'s parameters, `opt_g` `G`'s.
# 1. **Discriminator step.** With the generated batch $\tilde x = G(z_d)$ *detached*, the loss
#    is the binary cross-entropy with logits, real = 1 and generated = 0, each term a batch
#    mean: $L_D = -\frac1N\sum_n\log D(x_n) - \frac1N\sum_n\log(1 - D(\tilde x_n))$. Clear the
#    old gradients, back-propagate, step `opt_d`.
# 2. **Generator step**, against the discriminator *as it is now* (after its step): the
#    non-saturating loss on fresh noise `z_g`, $L_G = -\frac1N\sum_n\log D(G(z_{g,n}))$.
#    Clear the old gradients, back-propagate, step `opt_g`.
# 3. Return `(loss_d, loss_g)` as two Python floats (`.item()`), each the loss *before* its
#    own step.
#
# The networks arrive with gradients left over from an earlier backward pass. The grader
# checks the two floats you return and the parameters your step leaves in `D` and `G`,
# against one reference step from the same start.


# %%
def gan_step(D, G, opt_d, opt_g, x_real, z_d, z_g):
    ### BEGIN SOLUTION
    opt_d.zero_grad()
    real_logits, fake_logits = D(x_real), D(G(z_d).detach())
    loss_d = F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    loss_d.backward()
    opt_d.step()

    opt_g.zero_grad()
    loss_g = F.softplus(-D(G(z_g))).mean()  # -log sigmoid(a) = softplus(-a)
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()
    ### END SOLUTION


result_gan_step = check("07.gan_step", gan_step)

# %% [markdown]
# ## Exercise 7 — one WGAN-GP critic step (20 points)
#
# WGAN-GP (Gulrajani et al. 2017, Algorithm 1) replaces the discriminator by a *critic*
# $D$ with unbounded scores `[N, 1]` and trains it on
#
# $$L_D = \frac1N\sum_n D(\tilde x_n) - \frac1N\sum_n D(x_n)
#   + \lambda\,\frac1N\sum_n\big(\lVert\nabla_{\hat x}D(\hat x_n)\rVert_2 - 1\big)^2,
#   \qquad \hat x_n = u_n x_n + (1 - u_n)\,\tilde x_n,$$
#
# with $\tilde x = G(z)$ and one mixing weight $u_n\in[0,1]$ per sample (`u`, shape `[N]`).
# Write `wgan_gp_critic_step(D, G, opt_d, x_real, z, u, lam)`: clear the old gradients,
# compute $L_D$, back-propagate, step `opt_d`, return $L_D$ as a Python float.
#
# * The penalty is a function of a *gradient*: compute it with
#   `torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)` so that the backward
#   pass can differentiate it with respect to the critic's parameters.
# * This is the critic's turn only: the generator must be left alone — no change to its
#   parameters and no gradient left on them (make $\tilde x$ under `torch.no_grad()`).
#
# The grader checks the float you return, the critic's parameters after your step, and
# that the generator received no gradient.


# %%
def wgan_gp_critic_step(D, G, opt_d, x_real, z, u, lam):
    ### BEGIN SOLUTION
    opt_d.zero_grad()
    with torch.no_grad():
        fake = G(z)
    u = u[:, None]
    x_hat = (u * x_real + (1 - u) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
    loss = D(fake).mean() - D(x_real).mean() + lam * penalty
    loss.backward()
    opt_d.step()
    return loss.item()
    ### END SOLUTION


result_critic_step = check("07.wgan_gp_critic_step", wgan_gp_critic_step)

# %% [markdown]
# **Use them:** train two GANs on the ring of 8 Gaussians (the lesson's data: radius 2,
# standard deviation 0.05) with *your* steps — the reference until yours pass. Both use
# ReLU networks with two hidden layers of 64 units, a 2-D latent, batches of 128 and Adam
# (betas $(0.5, 0.9)$):
#
# * **GAN** — your `gan_step`, one discriminator step per generator step;
# * **WGAN-GP** — five calls of your `wgan_gp_critic_step` ($\lambda = 1$, as in the lesson)
#   per generator step on $-\frac1N\sum_n D(G(z_n))$ (the generator's step is given below).
#
# The same 2,500 latent codes are drawn through each generator at four points of training
# (the snapshots below), and each snapshot is scored as in the lesson: a mode is *covered*
# when at least 2 % of the samples lie within $3\sigma$ of its centre; the *high-quality
# share* is the fraction of samples within $3\sigma$ of some centre.

# %%
gan_step_fn = result_gan_step.choose(gan_step)
critic_step_fn = result_critic_step.choose(wgan_gp_critic_step)

ring_std, n_eval = 0.05, 2500
centres = gan.ring_centres(8, 2.0)
z_eval = torch.randn(n_eval, 2, generator=torch.Generator().manual_seed(99))
ring_lr = config.pick(1e-3, 2e-3)
g_steps = {"GAN": config.pick(2000, 600), "WGAN-GP": config.pick(600, 200)}  # generator steps


def wgan_generator_step(D, G, opt_g, z):
    opt_g.zero_grad()
    loss = -D(G(z)).mean()
    loss.backward()
    opt_g.step()
    return loss.item()


def train_on_ring(name, n_snapshots=4):
    """Train one GAN with the steps above; return the samples of z_eval at each snapshot."""
    rng.seed_everything(0)
    D, G = mlp([2, 64, 64, 1], "relu"), mlp([2, 64, 64, 2], "relu")
    opt_d = torch.optim.Adam(D.parameters(), lr=ring_lr, betas=(0.5, 0.9))
    opt_g = torch.optim.Adam(G.parameters(), lr=ring_lr, betas=(0.5, 0.9))
    g = torch.Generator().manual_seed(0)

    def batch():
        return gan.sample_ring(128, std=ring_std, generator=g)

    def noise():
        return torch.randn(128, 2, generator=g)

    steps = g_steps[name]
    snapshot_at = [steps * (i + 1) // n_snapshots for i in range(n_snapshots)]
    snapshots = {}
    for step in range(1, steps + 1):
        if name == "GAN":
            gan_step_fn(D, G, opt_d, opt_g, batch(), noise(), noise())
        else:
            for _ in range(5):
                critic_step_fn(D, G, opt_d, batch(), noise(), torch.rand(128, generator=g), 1.0)
            wgan_generator_step(D, G, opt_g, noise())
        if step in snapshot_at:
            with torch.no_grad():
                snapshots[step] = G(z_eval)
    return snapshots


runs = {name: train_on_ring(name) for name in g_steps}
fig, axes = plt.subplots(len(runs), 4, figsize=(12, 3.2 * len(runs)), squeeze=False)
for row, (name, snapshots) in enumerate(runs.items()):
    for ax, (step, samples) in zip(axes[row], snapshots.items(), strict=True):
        modes = gan.count_modes(samples, centres, 3 * ring_std)
        share = gan.mode_counts(samples, centres, 3 * ring_std).sum().item() / n_eval
        print(
            f"{name:8s} after {step:5d} generator steps: {modes} of 8 modes covered, "
            f"high-quality share {share:.0%}"
        )
        ax.scatter(*samples.T, s=1, alpha=0.3)
        ax.scatter(*centres.T, c="r", marker="x")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
        ax.set_title(f"{name}, {step} G steps: {modes} modes", fontsize=10)
plt.suptitle("samples of the same 2,500 codes over training (red: the 8 centres)")
plt.tight_layout()
plt.show()

# %% [markdown]
# What to look for: over training the samples move from a cloud over the plane onto the
# circle, then gather on the centres; compare the printed counts of covered modes and the high-quality share from
# snapshot to snapshot. The plain GAN here takes one discriminator step per generator step;
# the lesson's 5:1 schedule is the one that pushed it off modes. Try other settings —
# `ring_lr`, `g_steps`, or λ in the critic step — and watch the counts.
