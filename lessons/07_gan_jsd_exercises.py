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
# Five graded exercises. Write your code where it says `raise NotImplementedError`, then
# run the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then).
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

import torch
import torch.nn.functional as F

from edu_gen.core import config, rng
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
