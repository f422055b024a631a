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
# Three graded exercises, then each is used on a sampler. Write your code where it says
# `raise NotImplementedError`, then run the `check(...)` cell under it. Later cells use your
# function once it passes (the package's reference until then).
#
# **Indexing** as in chapter 08: `alpha_bar[t]` $=\bar\alpha_t$ for $t = 0..T$, with
# `alpha_bar[0]` $= 1$. A DDIM step goes from step $t$ to an earlier step $s < t$ (possibly
# $s = 0$, the data).
#
# No trained network is needed here: the "model" is the exact optimal noise predictor
# $\mathbb E[\varepsilon\mid x_t]$ for Gaussian data, `edu_gen.models.diffusion.gaussian_eps`.
#
# Besides the values, `check` tests what every answer must keep: your function must not
# change its arguments in place, must return what the reference returns (a tensor of the
# inputs' dtype, a tuple of the same length, a Python `int` where one is asked for), must
# keep the gradient wherever the result is differentiable (no `.item()`, `.detach()` or
# `torch.no_grad()`), and must use each argument as given: one test changes each argument
# alone. Some exercises add extreme inputs, where only a stable formula stays finite, and the
# edge cases their text mentions. The feedback names the rule a test broke.

# %% tags=["setup"]
import torch

from edu_gen.core import config, rng
from edu_gen.course.grading import check
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
