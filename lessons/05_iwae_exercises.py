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
# # 05 · Importance sampling and IWAE — exercises
#
# Five graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then); the last
# cells train a small IWAE built from *your* functions.
#
# Work with log-densities and `torch.logsumexp`: weights of real models are $e^{-100}$ or
# smaller and underflow if you exponentiate them.
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

import scipy.stats as st
import torch

from edu_gen.core import config, rng
from edu_gen.core.distributions import log_normal
from edu_gen.core.train import fit
from edu_gen.course.grading import check
from edu_gen.data import digits, digits_loader
from edu_gen.models import vae

rng.seed_everything(0)
print(config.banner())

# %% [markdown]
# ## Exercise 1 — importance sampling (eq. 17.20, 10 points)
#
# Draws $z^1,\dots,z^L$ come from a proposal $q$. Given $f(z^l)$, $\log p(z^l)$ and
# $\log q(z^l)$ (all shape `[L]`), return the estimate
# $\frac1L\sum_l \frac{p(z^l)}{q(z^l)}\,f(z^l)$ of $\mathbb E_p[f]$ (a 0-d tensor). The
# log-densities may each be around $-800$ (their difference is what matters).


# %%
def importance_estimate(f_z, log_p, log_q):
    ### BEGIN SOLUTION
    return (torch.exp(log_p - log_q) * f_z).mean()
    ### END SOLUTION


result_is = check("05.importance_estimate", importance_estimate)

# %% [markdown]
# Use it: $P(Z > 2)$ for $Z\sim\mathcal N(0,1)$ with the proposal $q = \mathcal N(2, 1)$ (eq. 17.21).

# %%
is_fn = result_is.choose(importance_estimate)
z = 2.0 + torch.randn(20_000, 1, dtype=torch.float64)
estimate = is_fn((z[:, 0] > 2).double(), log_normal(z, 0.0, 0.0), log_normal(z, 2.0, 0.0))
print(f"importance sampling {estimate.item():.5f}   exact {st.norm.sf(2.0):.5f}")

# %% [markdown]
# ## Exercise 2 — rejection sampling (10 points)
#
# With an envelope $M q(z) \ge p(z)$, a proposal $z$ is kept when $u < p(z)/(M q(z))$ for
# $u\sim U(0,1)$. Given `u`, `log_p`, `log_q` (shape `[n]`) and the number `log_m`
# $=\log M$, return the boolean mask of kept proposals. Compare in log space.


# %%
def accept(u, log_p, log_q, log_m):
    ### BEGIN SOLUTION
    return torch.log(u) < log_p - log_m - log_q
    ### END SOLUTION


result_accept = check("05.accept", accept)

# %% [markdown]
# Use it: sample $\mathcal N(0,1)$ from a Cauchy proposal, where $M = \sqrt{2\pi/e}$; the
# acceptance rate should be $1/M \approx 0.658$.

# %%
accept_fn = result_accept.choose(accept)
cauchy = torch.distributions.Cauchy(0.0, 1.0)
proposals = cauchy.sample((40_000,)).double()
log_m = 0.5 * math.log(2 * math.pi) - 0.5
keep = accept_fn(
    torch.rand(40_000, dtype=torch.float64),
    log_normal(proposals[:, None], 0.0, 0.0),
    cauchy.log_prob(proposals),
    log_m,
)
print(f"acceptance rate {keep.double().mean():.4f}   1/M = {math.exp(-log_m):.4f}")
print("KS p-value of the kept draws:", st.kstest(proposals[keep].numpy(), st.norm.cdf).pvalue)

# %% [markdown]
# ## Exercise 3 — the importance weight of a VAE (eq. 17.23, 10 points)
#
# For $k$ samples $z_i\sim q(z\mid x) = \mathcal N(\mu, \mathrm{diag}\,e^{\ell})$ return
# $$\log w_i = \log p(x\mid z_i) + \log \mathcal N(z_i; 0, I) - \log\mathcal N(z_i;\mu, \mathrm{diag}\,e^{\ell}).$$
# Shapes: `log_px_z` `[k, N]`, `z` `[k, N, d]`, `mu`, `logvar` `[N, d]`; return `[k, N]`.
# `log_normal(x, mean, logvar)` from `edu_gen.core.distributions` (imported above) sums a diagonal
# Gaussian log-density over the last dimension.


# %%
def log_weight(log_px_z, z, mu, logvar):
    ### BEGIN SOLUTION
    return log_px_z + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
    ### END SOLUTION


result_weight = check("05.log_weight", log_weight)

# %% [markdown]
# ## Exercise 4 — the IWAE bound (eq. 17.24, 10 points)
#
# From log-weights `log_w` of shape `[k, N]` return one sample of the bound per example,
# $\log\frac1k\sum_{i=1}^k w_i$ (shape `[N]`). The test inputs are around $-800$ nats.


# %%
def iwae_bound(log_w):
    ### BEGIN SOLUTION
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
    ### END SOLUTION


result_bound = check("05.iwae_bound", iwae_bound)

# %% [markdown]
# ## Exercise 5 — effective sample size (10 points)
#
# How many of the $k$ weights matter? Return Kish's $(\sum_i w_i)^2/\sum_i w_i^2$ for each
# column of `log_w` `[k, N]` (shape `[N]`). The test log-weights are around $+600$, so
# $w^2$ would overflow: compute it from `logsumexp`s.


# %%
def effective_sample_size(log_w):
    ### BEGIN SOLUTION
    return torch.exp(2 * torch.logsumexp(log_w, dim=0) - torch.logsumexp(2 * log_w, dim=0))
    ### END SOLUTION


result_ess = check("05.effective_sample_size", effective_sample_size)

# %% [markdown]
# ## Use them together: an IWAE built from your functions
#
# The loss below draws $k=5$ reparameterised samples per digit, scores them with your
# `log_weight`, and maximises your `iwae_bound`. After training, the bounds for
# $k = 1, 5, 50$ on the test digits should increase with $k$, and the effective sample size
# shows how few of the 50 weights carry the average.

# %%
weight_fn = result_weight.choose(log_weight)
bound_fn = result_bound.choose(iwae_bound)
ess_fn = result_ess.choose(effective_sample_size)


def my_log_weights(model, x, k):
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, torch.randn(k, *mu.shape))
    return weight_fn(model.decoder.log_prob(x, z), z, mu, logvar)


def my_iwae_loss(model, batch):
    x, _ = batch
    return -bound_fn(my_log_weights(model, x, 5)).mean()


rng.seed_everything(0)
model = vae.make_vae(64, latent_dim=8, hidden=(128,))
fit(
    model,
    my_iwae_loss,
    digits_loader("train", "binary"),
    steps=config.pick(2000, 300),
    lr=3e-3,
    progress=False,
)
model = model.cpu().eval()
x_test, _ = digits("test", "binary")
with torch.no_grad():
    log_w = my_log_weights(model, x_test, 50)
for k in (1, 5, 50):
    groups = log_w[: (50 // k) * k].reshape(50 // k, k, -1)
    bound = torch.stack([bound_fn(group) for group in groups]).mean()
    print(f"L_{k:<3} on test digits: {bound:.3f} nats")
print(f"ESS of 50 weights: {ess_fn(log_w).mean():.1f} on average")
