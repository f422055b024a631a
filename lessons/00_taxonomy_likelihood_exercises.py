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
# # 00 · Taxonomy and maximum likelihood — exercises
#
# Four graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then).
#
# Use only `torch` operations; no loops over grid cells or data points are needed.
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

from edu_gen.core import config, rng
from edu_gen.course.grading import check
from edu_gen.models import likelihood as lik

g = rng.seed_everything(0)
print(config.banner())

p_data = lik.GaussianMixture1D(weights=(0.3, 0.7), means=(-2.0, 1.5), stds=(0.6, 0.8))

# %% [markdown]
# ## Exercise 1 — KL divergence on a grid (10 points)
#
# `p` and `q` are densities evaluated at the centres of grid cells of width `dx` (1-D
# tensors of the same length, each integrating to about one: $\sum_i p_i\,\Delta x \approx 1$,
# as on a grid that cuts off the tails, so use `dx` as given). Return
# the Riemann sum
#
# $$\mathrm{KL}(p\,\|\,q) = \sum_i p_i \log\frac{p_i}{q_i}\,\Delta x$$
#
# as a 0-dimensional tensor. Cells with $p_i = 0$ contribute $0$ (the limit of
# $t\log t$); make sure they do not produce `nan`. Hint: `torch.where`.


# %%
def kl_divergence(p, q, dx):
    ### BEGIN SOLUTION
    safe_p = torch.where(p > 0, p, torch.ones_like(p))
    terms = torch.where(p > 0, p * (torch.log(safe_p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum() * dx
    ### END SOLUTION


result_kl = check("00.kl_divergence", kl_divergence)

# %% [markdown]
# Use it: for the location family $\mathcal N(\theta, 1)$, find the $\theta$ that minimises
# $\mathrm{KL}(p_{\text{data}}\|p_\theta)$ on a grid of $\theta$ values. It should be the
# mean of $p_{\text{data}}$.

# %%
kl_fn = result_kl.choose(kl_divergence)
x_grid, dx = lik.grid(-10.0, 10.0, 2000)
p_grid = p_data.prob(x_grid)
thetas = torch.linspace(-3, 3, 121, dtype=torch.float64)
kls = torch.stack(
    [kl_fn(p_grid, torch.exp(lik.gaussian_log_prob(x_grid, t, 1.0)), dx) for t in thetas]
)
print(f"argmin KL: θ = {float(thetas[kls.argmin()]):.2f}; mean of p_data = {p_data.mean():.2f}")

# %% [markdown]
# ## Exercise 2 — cross-entropy against a Gaussian, in closed form (10 points)
#
# For any distribution $p$ with mean $m$ (`mean_p`) and variance $v$ (`var_p`), and a
# Gaussian model $\mathcal N(\mu, \sigma^2)$ with $\sigma^2 = e^{\ell}$ (`logvar`), return
#
# $$-\mathbb E_{x\sim p}\big[\log\mathcal N(x;\mu,\sigma^2)\big]
#   = \tfrac12\Big[\log 2\pi + \ell + \frac{v + (m-\mu)^2}{\sigma^2}\Big].$$
#
# All arguments are tensors of the same shape; compute element-wise.
# (Derive it: expand $\mathbb E[(x-\mu)^2]$ around $m$.)


# %%
def gaussian_cross_entropy(mean_p, var_p, mu, logvar):
    ### BEGIN SOLUTION
    return 0.5 * (
        math.log(2 * math.pi) + logvar + (var_p + (mean_p - mu) ** 2) * torch.exp(-logvar)
    )
    ### END SOLUTION


result_ce = check("00.gaussian_cross_entropy", gaussian_cross_entropy)

# %% [markdown]
# Use it: over *all* Gaussians $\mathcal N(\mu, \sigma^2)$, the cross-entropy is minimised by
# matching the mean and the variance of $p_{\text{data}}$. Scan $\sigma^2$ with $\mu = m$ and
# compare the minimum with $\tfrac12\log(2\pi e\,v)$ and with the entropy $H(p_{\text{data}})$:
# the difference is the KL that no Gaussian can remove.

# %%
ce_fn = result_ce.choose(gaussian_cross_entropy)
m, v = torch.tensor(p_data.mean()), torch.tensor(p_data.var())
logvars = torch.linspace(-1, 3, 401, dtype=torch.float64)
ce = ce_fn(m.expand(401), v.expand(401), m.expand(401), logvars)
h = lik.entropy(p_grid, dx)
print(f"best σ² = {math.exp(float(logvars[ce.argmin()])):.3f} (variance of p_data: {float(v):.3f})")
print(
    f"min cross-entropy {float(ce.min()):.4f}, ½log(2πe v) = {0.5 * math.log(2 * math.pi * math.e * float(v)):.4f}"
)
print(f"H(p_data) = {float(h):.4f}  →  smallest KL to a Gaussian ≈ {float(ce.min() - h):.4f} nats")

# %% [markdown]
# ## Exercise 3 — the maximum-likelihood Gaussian (10 points)
#
# For a 1-D sample `x` return the tuple `(mean, var)` of 0-d tensors that maximises
# $\frac1N\sum_n\log\mathcal N(x_n;\mu,\sigma^2)$. Set the derivatives with respect to $\mu$
# and $\sigma^2$ to zero to find them (note which denominator you get).


# %%
def gaussian_mle(x):
    ### BEGIN SOLUTION
    mean = x.mean()
    return mean, ((x - mean) ** 2).mean()
    ### END SOLUTION


result_mle = check("00.gaussian_mle", gaussian_mle)

# %% [markdown]
# Use it: fit a Gaussian to 20 and to 2,000 points and compare the training and held-out
# log-likelihoods. The restricted family hardly over-fits, but it under-fits: even with
# many points it stays near $-\tfrac12\log(2\pi e\,v)$.

# %%
mle_fn = result_mle.choose(gaussian_mle)
x_test = p_data.sample(5000, g)
for n in (20, 2000):
    x_train = p_data.sample(n, g)
    mean, var = mle_fn(x_train)

    def log_prob(t, mean=mean, var=var):
        return lik.gaussian_log_prob(t, mean, var)

    train_ll = float(lik.empirical_log_likelihood(log_prob, x_train))
    test_ll = float(lik.empirical_log_likelihood(log_prob, x_test))
    print(f"N = {n:>4}: train LL {train_ll:.3f}, test LL {test_ll:.3f}")

# %% [markdown]
# ## Exercise 4 — the maximum-likelihood histogram (10 points)
#
# `edges` holds the $B+1$ increasing bin edges (bins may have **different** widths
# $w_b$) and every point of `x` lies in $[\text{edges}_0, \text{edges}_B]$. A point equal to
# an inner edge belongs to the bin on its right; the last edge belongs to the last bin.
# Return the $B$ densities $\hat p_b = n_b / (N\,w_b)$ that maximise the likelihood among
# piecewise-constant densities. Hint: `torch.bucketize(x, edges, right=True) - 1`, clamp,
# then `torch.bincount(..., minlength=B)`.


# %%
def histogram_mle(x, edges):
    ### BEGIN SOLUTION
    n_bins = len(edges) - 1
    index = (torch.bucketize(x, edges, right=True) - 1).clamp(0, n_bins - 1)
    counts = torch.bincount(index, minlength=n_bins).to(edges.dtype)
    return counts / (len(x) * (edges[1:] - edges[:-1]))
    ### END SOLUTION


result_hist = check("00.histogram_mle", histogram_mle)

# %% [markdown]
# ## Use it: ERM over histograms
#
# With your histogram fit, sweep the number of bins $B$ for $N = 30$ training points. The
# training log-likelihood keeps growing with $B$ (a bigger hypothesis space always fits the
# training set at least as well), while the share of held-out points that get density
# zero — log-likelihood $-\infty$ — grows too.

# %%
hist_fn = result_hist.choose(histogram_mle)
x_train = p_data.sample(30, g)
for bins in (2, 4, 8, 16, 32, 64):
    edges = torch.linspace(-7.0, 7.0, bins + 1, dtype=torch.float64)
    model = lik.HistogramDensity(edges, hist_fn(x_train, edges))
    train_ll = float(lik.empirical_log_likelihood(model.log_prob, x_train))
    zero = float(torch.isinf(model.log_prob(x_test)).double().mean())
    print(f"B = {bins:>2}: train LL {train_ll:6.3f}, held-out points with density 0: {zero:6.1%}")
