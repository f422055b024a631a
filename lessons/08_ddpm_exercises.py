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
# # 08 · DDPM — exercises
#
# Six graded exercises: four warm-ups (10 points each) that implement one equation of the DDPM
# each, then Ho et al.'s two algorithms (20 points each): the training loss of Algorithm 1 and
# the ancestral sampler of Algorithm 2. The last cells train a digits model with **your** loss
# and sample it with **your** sampler. Write your code where it says
# `raise NotImplementedError`, then run the `check(...)` cell under it. Later cells use your
# function once it passes (the package's reference until then).
#
# **Indexing.** `alpha_bar` is a tensor of length $T+1$ indexed by $t$ itself:
# `alpha_bar[t]` $=\bar\alpha_t$ and `alpha_bar[0]` $= 1$. Time steps `t` are an int64 tensor
# of shape `[B]` with values in $1..T$, one per row of the batch. Recover
# $\alpha_t = \bar\alpha_t/\bar\alpha_{t-1}$ and $\beta_t = 1-\alpha_t$ from it when needed.
#
# Besides the values, `check` tests what every answer must keep: your function must not
# change its arguments in place, must return what the reference returns (a tensor of the
# inputs' dtype, a tuple of the same length, a Python `int` where one is asked for), must
# keep the gradient wherever the result is differentiable (no `.item()`, `.detach()` or
# `torch.no_grad()`), and must use each argument as given: one test changes each argument
# alone. Some exercises add extreme inputs, where only a stable formula stays finite, and the
# edge cases their text mentions. The feedback names the rule a test broke.

# %% tags=["setup"]
import time

import matplotlib.pyplot as plt
import torch

from edu_gen.core import config, rng
from edu_gen.course import viz
from edu_gen.course.grading import check
from edu_gen.data import digits
from edu_gen.evaluation import frechet as metrics
from edu_gen.models import diffusion as dm

rng.seed_everything(0)
print(config.banner())
sched = dm.make_schedule("linear", 1000)
x_test, _ = digits("test", "signed")

# %% [markdown]
# ## Exercise 1 — the closed form of $q(x_t\mid x_0)$ (10 points)
#
# Return $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ for a batch
# `x0` `[B, D]`, time steps `t` `[B]` and noise `[B, D]`.


# %%
def q_sample(alpha_bar, x0, t, noise):
    ### BEGIN SOLUTION
    ab = alpha_bar[t].reshape(-1, 1).to(x0.dtype)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    ### END SOLUTION


result_q = check("08.q_sample", q_sample)

# %% [markdown]
# Use it: noise one digit at increasing $t$ and watch the correlation with the clean image fall
# like $\sqrt{\bar\alpha_t}$ (for unit-variance noise and a centred image).

# %%
q_fn = result_q.choose(q_sample)
x0 = x_test[:1].double().expand(2000, 64)
x0c = x0 - x0.mean(1, keepdim=True)
for t in (10, 200, 500, 900):
    xt = q_fn(
        sched.alpha_bar, x0, torch.full((2000,), t), torch.randn(2000, 64, dtype=torch.float64)
    )
    corr = torch.nn.functional.cosine_similarity(xt - xt.mean(1, keepdim=True), x0c, dim=1).mean()
    print(f"t={t:4d}: mean correlation {corr:.3f}, √ᾱ_t = {sched.alpha_bar[t].sqrt():.3f}")

# %% [markdown]
# ## Exercise 2 — the posterior $q(x_{t-1}\mid x_t, x_0)$ (10 points)
#
# Return the pair `(mean, var)`, both of shape `[B, D]`:
# $\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0 +
# \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t$ and
# $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$ (repeated along $D$).
# At $t = 1$ the variance must come out exactly 0.


# %%
def q_posterior(alpha_bar, x0, xt, t):
    ### BEGIN SOLUTION
    ab_t = alpha_bar[t].reshape(-1, 1).to(x0.dtype)
    ab_prev = alpha_bar[t - 1].reshape(-1, 1).to(x0.dtype)
    alpha_t = ab_t / ab_prev
    beta_t = 1 - alpha_t
    mean = (
        ab_prev.sqrt() * beta_t / (1 - ab_t) * x0 + alpha_t.sqrt() * (1 - ab_prev) / (1 - ab_t) * xt
    )
    var = (1 - ab_prev) / (1 - ab_t) * beta_t
    return mean, var.expand_as(mean)
    ### END SOLUTION


result_post = check("08.q_posterior", q_posterior)

# %% [markdown]
# Use it: the posterior mean at $t=1$ is $x_0$ itself, and the variance grows towards $\beta_t$
# for large $t$ (where $x_0$ hardly constrains $x_{t-1}$).

# %%
post_fn = result_post.choose(q_posterior)
x0b, xtb = x_test[:3].double(), torch.randn(3, 64, dtype=torch.float64)
for t in (1, 2, 100, 1000):
    mean, var = post_fn(sched.alpha_bar, x0b, xtb, torch.full((3,), t))
    print(
        f"t={t:4d}: |mean - x0| = {(mean - x0b).abs().max():.3f}, "
        f"β̃_t/β_t = {var[0, 0] / sched.betas[t]:.3f}"
    )

# %% [markdown]
# ## Exercise 3 — the prior term $L_T$ in bits/dim (10 points)
#
# $L_T = D_{KL}\big(\mathcal N(\sqrt{\bar\alpha_T}x_0, (1-\bar\alpha_T)I)\,\|\,\mathcal N(0,I)\big)
# = \tfrac12\sum_d\big[\bar\alpha_T x_{0,d}^2 + (1-\bar\alpha_T) - 1 - \log(1-\bar\alpha_T)\big]$.
# Return it per example (shape `[B]`) in **bits per dimension**: divide by $D\ln 2$.
# $\bar\alpha_T$ is the last entry of `alpha_bar`.


# %%
def prior_kl_bpd(alpha_bar, x0):
    ### BEGIN SOLUTION
    ab = alpha_bar[-1].to(x0.dtype)
    nats = 0.5 * (ab * x0.pow(2) + (1 - ab) - 1 - torch.log1p(-ab)).sum(1)
    return nats / (x0.shape[1] * torch.log(torch.tensor(2.0, dtype=x0.dtype)))
    ### END SOLUTION


result_prior = check("08.prior_kl_bpd", prior_kl_bpd)

# %% [markdown]
# Use it: how many steps does the linear schedule (β from 1e-4 to 0.02) need before $L_T$ drops
# to the $10^{-5}$ bits/dim that Ho et al. report for $T = 1000$?

# %%
prior_fn = result_prior.choose(prior_kl_bpd)
for T in (50, 100, 250, 500, 1000):
    lt = prior_fn(dm.make_schedule("linear", T).alpha_bar, x_test.double()).mean()
    print(f"T={T:5d}: L_T = {lt:.2e} bits/dim")

# %% [markdown]
# ## Exercise 4 — the reverse mean from a predicted noise (10 points)
#
# With ε-prediction the reverse step has mean
# $\mu_\theta(x_t,t) = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}
# \,\varepsilon_\theta\Big)$. Return it for `xt` `[B, D]`, `t` `[B]`, `eps` `[B, D]`.


# %%
def reverse_mean(alpha_bar, xt, t, eps):
    ### BEGIN SOLUTION
    ab_t = alpha_bar[t].reshape(-1, 1).to(xt.dtype)
    alpha_t = ab_t / alpha_bar[t - 1].reshape(-1, 1).to(xt.dtype)
    return (xt - (1 - alpha_t) / (1 - ab_t).sqrt() * eps) / alpha_t.sqrt()
    ### END SOLUTION


result_mean = check("08.reverse_mean", reverse_mean)

# %% [markdown]
# Use it: with the *true* noise, the reverse mean equals the posterior mean
# $\tilde\mu_t(x_t, x_0)$ — the ε-parameterisation loses nothing.

# %%
mean_fn = result_mean.choose(reverse_mean)
t = torch.tensor([2, 10, 500, 1000])
x0b = x_test[:4].double()
eps = torch.randn(4, 64, dtype=torch.float64)
xt = dm.q_sample(sched, x0b, t, eps)
gap = (mean_fn(sched.alpha_bar, xt, t, eps) - dm.q_posterior(sched, x0b, xt, t)[0]).abs().max()
print(f"max |μ_θ(x_t, ε) - μ̃_t(x_t, x_0)| = {gap:.2e}")

# %% [markdown]
# ## Exercise 5 — Algorithm 1: the training loss (20 points)
#
# Ho et al.'s Algorithm 1 draws $t\sim\mathrm{Uniform}\{1..T\}$ and $\varepsilon\sim\mathcal N(0,I)$
# for every example of a batch $x_0$ and takes a gradient step on
#
# $$L_\text{simple} = \big\lVert\varepsilon - \varepsilon_\theta\big(\sqrt{\bar\alpha_t}\,x_0 +
# \sqrt{1-\bar\alpha_t}\,\varepsilon,\ t\big)\big\rVert^2,$$
#
# averaged over the batch and the pixels. Here the draws are given, so your function is
# deterministic: `x0` and `eps` are `[B, D]`, `t` is an int64 tensor `[B]` in $1..T$, and
# `model(x_t, t)` returns the predicted noise `[B, D]` (call it with the same `t`). Return a
# 0-d tensor that keeps its gradient to the model's parameters — the optimiser will step on it.


# %%
def ddpm_loss(model, x0, t, eps, alpha_bar):
    ### BEGIN SOLUTION
    ab = alpha_bar[t].reshape(-1, 1).to(x0.dtype)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    return (eps - model(x_t, t)).pow(2).mean()
    ### END SOLUTION


result_loss = check("08.ddpm_loss", ddpm_loss)

# %% [markdown]
# ## Exercise 6 — Algorithm 2: ancestral sampling (20 points)
#
# Start from `x_T` and, for $t = T, T-1, \dots, 1$,
#
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
# \varepsilon_\theta(x_t, t)\Big) + \sigma_t z_t,\qquad \sigma_t = \sqrt{\beta_t},$$
#
# with **no noise at the last step** ($t = 1$). Return $x_0$.
#
# * `betas` has length $T+1$ with `betas[0]` $= 0$ and `betas[t]` $=\beta_t$: compute
#   $\alpha_t = 1-\beta_t$ and $\bar\alpha_t = \prod_{s\le t}\alpha_s$ from it (`torch.cumprod`).
# * The noises are given: `z` has shape `[T, B, D]` and `z[t - 1]` is the $z_t$ of step $t$
#   (so `z[0]`, the one of $t = 1$, is never used).
# * Call the model with an int64 tensor `[B]` holding $t$, e.g.
#   `torch.full((len(x),), t)`.
# * No gradient is needed: work inside `with torch.no_grad():`.


# %%
def ddpm_sample(model, x_T, z, betas):  # noqa: N803
    ### BEGIN SOLUTION
    with torch.no_grad():
        T = len(betas) - 1  # noqa: N806
        alphas = 1 - betas
        alpha_bar = torch.cumprod(alphas, 0)
        x = x_T
        for t in range(T, 0, -1):
            eps = model(x, torch.full((len(x),), t, dtype=torch.int64))
            x = (x - betas[t] / (1 - alpha_bar[t]).sqrt() * eps) / alphas[t].sqrt()
            if t > 1:
                x = x + betas[t].sqrt() * z[t - 1]
        return x
    ### END SOLUTION


result_sample = check("08.ddpm_sample", ddpm_sample)

# %% [markdown]
# ## Use them: train a digits model with your loss, sample it with your sampler
#
# `train_digits_denoiser(loss=...)` runs Algorithm 1 with your loss: every step it draws $t$ and
# $\varepsilon$ for the batch and hands them to `loss(model, x0, t, eps, alpha_bar)` (with
# `alpha_bar` in the batch's float32). `snapshots` keeps a copy of the model at a few steps. From
# each snapshot we then draw samples with your sampler — the same $x_T$ and the same noises for
# every row — and score them with the digits feature-Fréchet distance (lower is better; compare
# with the real-vs-real floor and with pure noise, printed below). This is a smaller network
# and a shorter run than the lesson's.

# %%
loss_fn = result_loss.choose(ddpm_loss)
sample_fn = result_sample.choose(ddpm_sample)
steps = config.pick(3000, 1200)
snapshots = dict.fromkeys(config.pick([250, 750, 1500, 3000], [200, 400, 800, 1200]))
start = time.perf_counter()
model, sched_tr, history = dm.train_digits_denoiser(
    steps=steps, hidden=config.pick(256, 128), depth=2, loss=loss_fn, snapshots=snapshots
)
print(f"trained {steps} steps with your loss in {time.perf_counter() - start:.0f} s")
ax = viz.plot_losses(history, smooth=50)
ax.set(title="your L_simple during training", xlabel="training step", ylabel="L_simple")
plt.show()

# %%
n = config.pick(360, 200)
g = rng.generator(1)
x_T = torch.randn(n, 64, generator=g)
z = torch.randn(sched_tr.T, n, 64, generator=g)
betas = sched_tr.betas.float()  # the model runs in float32
rows, scores = {}, {}
for step, snapshot in snapshots.items():
    start = time.perf_counter()
    x0 = sample_fn(snapshot, x_T, z, betas)
    seconds = time.perf_counter() - start
    scores[step] = metrics.digits_fd(x0)
    rows[f"after {step} steps"] = (x0[:12].clamp(-1, 1) + 1) / 2
    print(
        f"after {step:5d} steps: feature FD {scores[step]:6.1f} ({n} samples, "
        f"{sched_tr.T} sampling steps in {seconds:.1f} s)"
    )
print(
    f"real-vs-real floor {metrics.real_floor(n):.1f}, pure noise "
    f"{metrics.digits_fd(torch.randn(n, 64, generator=rng.generator(2))):.1f}"
)
fig = viz.compare_rows(rows, ncol=12, vmin=0, vmax=1)
fig.suptitle("your sampler on your model, over training: the same x_T and noises per row", y=1.0)
plt.show()
