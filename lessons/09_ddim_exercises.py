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
# # 09 · DDIM — exercises
#
# Four graded exercises: three warm-ups (10 points each) — σ(η), one DDIM update, slerp — and
# the whole DDIM sampler over a sub-sequence τ (20 points), which the last cells run on
# chapter 08's digits model over a grid of step counts S and η. Write your code where it says
# `raise NotImplementedError`, then run the `check(...)` cell under it. Later cells use your
# function once it passes (the package's reference until then).
#
# **Indexing** as in chapter 08: `alpha_bar[t]` $=\bar\alpha_t$ for $t = 0..T$, with
# `alpha_bar[0]` $= 1$. A DDIM step goes from step $t$ to an earlier step $s < t$ (possibly
# $s = 0$, the data).
#
# The warm-ups need no trained network: their "model" is the exact optimal noise predictor
# $\mathbb E[\varepsilon\mid x_t]$ for Gaussian data, `edu_gen.models.diffusion.gaussian_eps`.
# The last exercise runs on chapter 08's trained digits model (loaded from its checkpoint, or
# trained here if chapter 08 has not run in this folder).
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
from edu_gen.evaluation import frechet as metrics
from edu_gen.models import diffusion as dm

rng.seed_everything(0)
print(config.banner())
sched = dm.make_schedule("linear", 1000)
mu = torch.linspace(-0.5, 0.5, 16, dtype=torch.float64)
exact = dm.gaussian_eps(sched, mu, 0.05)

# %% [markdown]
# ## Exercise 1 — the noise level $\sigma_{t\to s}(\eta)$ (10 points)
#
# $$\sigma_{t\to s}(\eta) = \eta\,\sqrt{\frac{1-\bar\alpha_s}{1-\bar\alpha_t}}\,
# \sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_s}}.$$
#
# `t` and `s` are int64 tensors of shape `[B]` (pairs of steps, $s<t$), `eta` a float. Return the
# `[B]` tensor of σ's.


# %%
def ddim_sigma(alpha_bar, t, s, eta):
    ### BEGIN SOLUTION
    at, as_ = alpha_bar[t], alpha_bar[s]
    return eta * ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
    ### END SOLUTION


result_sigma = check("09.ddim_sigma", ddim_sigma)

# %% [markdown]
# Use it: with η = 1 and $s = t-1$ the DDIM noise is the DDPM posterior variance
# $\tilde\beta_t$; with η = 0 there is no noise at all.

# %%
sigma_fn = result_sigma.choose(ddim_sigma)
t = torch.tensor([2, 10, 500, 1000])
print("σ² (η=1, s=t-1):", sigma_fn(sched.alpha_bar, t, t - 1, 1.0) ** 2)
print("β̃_t           :", sched.posterior_variance[t])
print("σ  (η=0)       :", sigma_fn(sched.alpha_bar, t, t - 1, 0.0))

# %% [markdown]
# ## Exercise 2 — one DDIM update (10 points)
#
# $$x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\sigma^2}\,\hat\varepsilon +
# \sigma z,\qquad \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}},$$
#
# with $\sigma = \sigma_{t\to s}(\eta)$. Here `t`, `s` are Python ints (one step for the whole
# batch), `xt`, `eps`, `z` tensors `[B, D]`. Return $x_s$.


# %%
def ddim_step(alpha_bar, xt, eps, t, s, eta, z):
    ### BEGIN SOLUTION
    at, as_ = alpha_bar[t], alpha_bar[s]
    x0 = (xt - (1 - at).sqrt() * eps) / at.sqrt()
    sigma = eta * ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
    return as_.sqrt() * x0 + (1 - as_ - sigma**2).clamp(min=0).sqrt() * eps + sigma * z
    ### END SOLUTION


result_step = check("09.ddim_step", ddim_step)

# %% [markdown]
# Use it: write a 10-step deterministic sampler with your update and compare it with the
# package's `ddim_sample` from the same $x_T$.

# %%
step_fn = result_step.choose(ddim_step)
taus = [0, *dm.ddim_timesteps(1000, 10)]
x = torch.randn(8, 16, dtype=torch.float64, generator=rng.generator(0))
x_T = x.clone()
for i in range(len(taus) - 1, 0, -1):
    t_i, s_i = taus[i], taus[i - 1]
    eps = exact(x, torch.full((8,), t_i))
    x = step_fn(sched.alpha_bar, x, eps, t_i, s_i, 0.0, torch.zeros_like(x))
ref = dm.ddim_sample(exact, sched, x.shape, S=10, x_T=x_T, dtype=torch.float64)
print(f"max |yours - package| = {(x - ref).abs().max():.2e}")

# %% [markdown]
# ## Exercise 3 — slerp (10 points)
#
# For two batches of codes `z0`, `z1` `[B, D]` and a float `alpha`, return
# $\frac{\sin((1-\alpha)\theta)}{\sin\theta}z_0 + \frac{\sin(\alpha\theta)}{\sin\theta}z_1$ with
# $\theta$ the angle between the rows $z_{0,b}$ and $z_{1,b}$ (one angle per row).


# %%
def slerp(z0, z1, alpha):
    ### BEGIN SOLUTION
    cos = (z0 * z1).sum(1, keepdim=True) / (
        z0.norm(dim=1, keepdim=True) * z1.norm(dim=1, keepdim=True)
    )
    theta = torch.arccos(cos.clamp(-1, 1))
    return (torch.sin((1 - alpha) * theta) * z0 + torch.sin(alpha * theta) * z1) / torch.sin(theta)
    ### END SOLUTION


result_slerp = check("09.slerp", slerp)

# %% [markdown]
# Use it: slerp keeps codes at the typical norm $\approx\sqrt D$ of Gaussian noise, while the
# straight line shrinks them by about $1/\sqrt2$ halfway.

# %%
slerp_fn = result_slerp.choose(slerp)
z0, z1 = torch.randn(2, 256, 64, dtype=torch.float64, generator=rng.generator(1))
for a in (0.0, 0.25, 0.5):
    print(
        f"α={a:.2f}: slerp norm {slerp_fn(z0, z1, a).norm(dim=1).mean():.2f}, "
        f"lerp norm {((1 - a) * z0 + a * z1).norm(dim=1).mean():.2f}"
    )

# %% [markdown]
# ## Exercise 4 — the DDIM sampler over a sub-sequence τ (20 points)
#
# `taus` is a Python list of increasing steps $\tau_1 < \dots < \tau_S$ in $1..T$ (what
# `dm.ddim_timesteps(T, S)` returns). Put $\tau_0 = 0$ in front (`alpha_bar[0]` $= 1$), treat
# `x_T` as $x_{\tau_S}$, and for $i = S, S-1, \dots, 1$, with $t = \tau_i$ and $s = \tau_{i-1}$:
#
# $$\hat\varepsilon = \varepsilon_\theta(x_t, t),\quad
# \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}},\quad
# x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\sigma^2}\,\hat\varepsilon
# + \sigma z,\quad \sigma = \sigma_{t\to s}(\eta).$$
#
# Return $x_0$. The noises are given: `z` has shape `[S, B, D]` and `z[i - 1]` is the noise of
# the step that leaves $\tau_i$ (`z[0]` belongs to the last step, to $s = 0$, where
# $\sigma = 0$). Call the model with an int64 tensor `[B]` holding $t$, e.g.
# `torch.full((len(x),), t)`. `eta` is a float in $[0, 1]$. No gradient is needed: work inside
# `with torch.no_grad():`. Your `ddim_sigma` and `ddim_step` from above are the pieces.


# %%
def ddim_sample(model, x_T, taus, alpha_bar, eta, z):  # noqa: N803
    ### BEGIN SOLUTION
    steps = [0, *taus]
    x = x_T
    with torch.no_grad():
        for i in range(len(steps) - 1, 0, -1):
            t, s = steps[i], steps[i - 1]
            at, as_ = alpha_bar[t], alpha_bar[s]
            eps = model(x, torch.full((len(x),), t, dtype=torch.int64))
            x0 = (x - (1 - at).sqrt() * eps) / at.sqrt()
            sigma = eta * ((1 - as_) / (1 - at) * (1 - at / as_)).sqrt()
            direction = (1 - as_ - sigma**2).clamp(min=0).sqrt()
            x = as_.sqrt() * x0 + direction * eps + sigma * z[i - 1]
    return x
    ### END SOLUTION


result_sampler = check("09.ddim_sampler", ddim_sample)

# %% [markdown]
# ## Use it: fewer steps, and the role of η, on chapter 08's digits model
#
# Your sampler (the package's until yours passes) on the trained ε-model, for several step
# counts S and η ∈ {0, 1}: every cell of the grid starts from the same $x_T$ and the same
# noises. The table prints the wall time of each run and the digits feature-Fréchet distance
# of its samples (lower is better), next to the real-vs-real floor at the same sample size.

# %%
sampler = result_sampler.choose(ddim_sample)
model, sched_08, _ = dm.train_digits_denoiser(
    **dm.digits_denoiser_kwargs(), checkpoint=dm.digits_denoiser_checkpoint()
)
alpha_bar = sched_08.alpha_bar.float()  # the model runs in float32
n = config.pick(1000, 360)
S_list, eta_list = config.pick([10, 20, 50, 100], [10, 20, 50]), [0.0, 1.0]
g = rng.generator(1)
x_T = torch.randn(n, 64, generator=g)
z_all = torch.randn(max(S_list), n, 64, generator=g)
rows, table = {}, []
for S in S_list:
    for eta in eta_list:
        start = time.perf_counter()
        x0 = sampler(model, x_T, dm.ddim_timesteps(sched_08.T, S), alpha_bar, eta, z_all[:S])
        seconds = time.perf_counter() - start
        table.append((S, eta, seconds, metrics.digits_fd(x0)))
        rows[f"S={S}, η={eta:.0f}"] = (x0[:12].clamp(-1, 1) + 1) / 2
print(f"{n} samples per run; real-vs-real floor {metrics.real_floor(n):.1f}")
print("   S |   η | seconds | feature FD")
for S, eta, seconds, fd in table:
    print(f"{S:4d} | {eta:3.1f} | {seconds:7.2f} | {fd:10.1f}")
fig = viz.compare_rows(rows, ncol=12, vmin=0, vmax=1)
fig.suptitle("your DDIM sampler: one row per (S, η), the same x_T and noises", y=1.0)
plt.show()
