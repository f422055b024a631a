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
# Six graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then).
#
# Exercises 1-5 (10 points each) are the pieces; exercise 6 (20 points) puts them together
# into the chapter's algorithm, the complete IWAE loss of a VAE on a batch. The last cells
# train a VAE and an IWAE with *your* loss and compare their bounds on the test digits.
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

import matplotlib.pyplot as plt
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
# ## Exercise 6 — the IWAE loss (eq. 17.22-17.24, 20 points)
#
# Now the whole algorithm. For a VAE `model` and a batch `x` (`[N, D]`, binary pixels), the
# IWAE loss is minus the batch mean of one sample of the bound,
# $$\text{loss} = -\frac1N\sum_{n=1}^N \log\frac1k\sum_{i=1}^k w_{i,n},\qquad
#   w_{i,n} = \frac{p(x_n\mid z_{i,n})\,p(z_{i,n})}{q(z_{i,n}\mid x_n)},\qquad
#   z_{i,n} = \mu(x_n) + \sigma(x_n)\odot\varepsilon_{i,n}.$$
# The noise `eps` (`[k, N, d]`, standard normal) is passed in, so that the result is
# deterministic: $k$ is `eps.shape[0]`. The model's API:
#
# * `mu, logvar = model.encode(x)`: the encoder, each `[N, d]`, with
#   $\sigma = e^{\text{logvar}/2}$;
# * `model.decoder.log_prob(x, z)`: $\log p(x\mid z)$ for `z` of shape `[k, N, d]`,
#   returned as `[k, N]`;
# * the prior is $\mathcal N(0, I)$; `log_normal` (imported above) scores both densities.
#
# Return a 0-d tensor that keeps its gradient: the optimiser trains encoder and decoder
# through it, the encoder through $z$ (do not detach it). One test uses a decoder so far from
# the data that $\log w\approx -10^3$: stay in log space. You may call your functions from
# exercises 3 and 4.


# %%
def iwae_loss(model, x, eps):
    ### BEGIN SOLUTION
    k = eps.shape[0]
    mu, logvar = model.encode(x)  # [N, d] each
    z = mu + torch.exp(0.5 * logvar) * eps  # [k, N, d]: k reparameterised draws per digit
    log_w = model.decoder.log_prob(x, z) + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
    bound = torch.logsumexp(log_w, dim=0) - math.log(k)  # [N]: log (1/k) sum_i w_i
    return -bound.mean()
    ### END SOLUTION


result_loss = check("05.iwae_loss", iwae_loss)

# %% [markdown]
# ## Use it: a VAE and an IWAE trained with your loss
#
# With $k = 1$ your loss is minus the ELBO (estimated by one sample, KL included), so the
# same function trains both models: a VAE ($k=1$) and an IWAE ($k=5$), from the same
# initial weights, on the same batches, for the same number of steps. Then, on the test
# digits, the bounds $\mathcal L_1$ (the ELBO), $\mathcal L_5$ and $\mathcal L_{50}$ of each
# model, computed with your `log_weight` and `iwae_bound`: each model's bounds grow with $k$,
# and the IWAE, trained on a tighter bound, should score the higher $\mathcal L_{50}$ (the
# better estimate of $\log p(x)$), while its ELBO $\mathcal L_1$ need not be the higher. The
# difference is small on 8×8 digits, so it is printed with its standard error (paired over
# the test digits): judge it against that, not against zero.

# %%
loss_fn = result_loss.choose(iwae_loss)
weight_fn = result_weight.choose(log_weight)
bound_fn = result_bound.choose(iwae_bound)
ess_fn = result_ess.choose(effective_sample_size)
latent, steps = 8, config.pick(2000, 400)


def objective(k):
    def loss(model, batch):
        x, _ = batch
        return loss_fn(model, x, torch.randn(k, len(x), latent, device=x.device))

    return loss


trained, curves = {}, {}
for name, k in (("VAE (k=1)", 1), ("IWAE (k=5)", 5)):
    rng.seed_everything(0)
    model = vae.make_vae(64, latent_dim=latent, hidden=(128,))
    history = fit(
        model, objective(k), digits_loader("train", "binary"), steps=steps, lr=3e-3, progress=False
    )
    trained[name], curves[name] = model.cpu().eval(), -history["loss"]


def my_log_weights(model, x, k):
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar, torch.randn(k, *mu.shape))
    return weight_fn(model.decoder.log_prob(x, z), z, mu, logvar)


x_test, _ = digits("test", "binary")
ks, table, per_digit = (1, 5, 50), {}, {}
torch.manual_seed(1)
for name, model in trained.items():
    with torch.no_grad():
        log_w = my_log_weights(model, x_test, 50)
    bounds = {}
    for k in ks:  # 50 / k disjoint groups of k draws: each one sample of the bound
        groups = log_w[: (50 // k) * k].reshape(50 // k, k, -1)
        per_digit[name, k] = torch.stack([bound_fn(group) for group in groups]).mean(0)
        bounds[k] = per_digit[name, k].mean().item()
    table[name] = {"bounds": bounds, "ess": ess_fn(log_w).mean().item()}
print(f"{'test digits (nats)':<20}" + "".join(f"{f'L_{k}':>10}" for k in ks) + f"{'ESS of 50':>11}")
for name, row in table.items():
    cells = "".join(f"{row['bounds'][k]:10.3f}" for k in ks)
    print(f"{name:<20}{cells}{row['ess']:11.1f}")
gain = per_digit["IWAE (k=5)", 50] - per_digit["VAE (k=1)", 50]  # paired over the digits
print(
    f"L_50 of the IWAE minus L_50 of the VAE: {gain.mean():+.3f} ± "
    f"{gain.std() / math.sqrt(len(gain)):.3f} (standard error) nats per digit"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
window = min(100, steps)  # moving average over 100 steps
for name, curve in curves.items():
    smooth = torch.tensor(curve).unfold(0, window, 1).mean(1)
    axes[0].plot(range(window, len(curve) + 1), smooth, label=name)
    axes[1].plot(ks, [table[name]["bounds"][k] for k in ks], marker="o", label=name)
axes[0].set(
    xlabel="training step",
    ylabel="training bound L_k (nats per digit)",
    title=f"the bound each model is trained on (moving average of {window})",
)
axes[1].set(
    xscale="log",
    xlabel="k",
    ylabel="mean L_k on the test digits (nats)",
    xticks=ks,
    xticklabels=[str(k) for k in ks],
    title="test bounds of both models",
)
for ax in axes:
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
