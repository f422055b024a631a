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
# # 10a · Tabular data: CTGAN and TVAE — exercises
#
# Four graded exercises on the pieces that make a GAN work on tables (Xu et al. 2019). Write
# your code where it says `raise NotImplementedError`, then run the `check(...)` cell under
# it: it runs randomised tests against the reference implementation and prints your points,
# with a hint when your answer matches a common mistake. Later cells use your function once
# it passes (the reference until then).
#
# Exercise 1 uses NumPy arrays, exercises 2-4 as stated; no loops over rows are needed.
#
# Besides the values, `check` tests what every answer must keep: your function must not
# change its arguments in place, must return what the reference returns (a tensor of the
# inputs' dtype, a tuple of the same length, a Python `int` where one is asked for), must
# keep the gradient wherever the result is differentiable (no `.item()`, `.detach()` or
# `torch.no_grad()`), and must use each argument as given: one test changes each argument
# alone. Some exercises add extreme inputs, where only a stable formula stays finite, and the
# edge cases their text mentions. The feedback names the rule a test broke.

# %% tags=["setup"]
import numpy as np
import pandas as pd
import torch

from edu_gen.core import config, rng
from edu_gen.course.grading import check
from edu_gen.data import tables
from edu_gen.models import gan
from edu_gen.tabular.encoding import (
    ALPHA_LIMIT,
    ConditionalSampler,
    DataTransformer,
    mode_denormalize,
)
from edu_gen.tabular.synthesizers import Discriminator

rng.seed_everything(0)
print(config.banner())

# %% [markdown]
# ## Exercise 1 — mode-specific normalisation of one column (10 points)
#
# A variational Gaussian mixture with `means` $\mu_k$, `stds` $\sigma_k$ and `weights` $w_k$
# (arrays of shape `[K]`) has been fitted to a continuous column. For each value of `x`
# (shape `[n]`):
#
# 1. take the **most responsible** mode
#    $k = \arg\max_k \rho_k(x)$, $\rho_k(x)\propto w_k\,\mathcal N(x;\mu_k,\sigma_k^2)$ — the
#    deterministic variant of CTGAN's encoding, which *draws* $k\sim\rho(x)$ instead (work in
#    logs: $\log w_k - \tfrac12((x-\mu_k)/\sigma_k)^2 - \log\sigma_k$; the common constant
#    $-\tfrac12\log 2\pi$ does not change the argmax);
# 2. return `alpha` $= \mathrm{clip}\big((x-\mu_k)/(4\sigma_k),\,-0.99,\,0.99\big)$, shape
#    `[n]`, and `beta`, the one-hot indicator of $k$ as floats, shape `[n, K]`.


# %%
def mode_normalize_argmax(x, means, stds, weights):
    ### BEGIN SOLUTION
    z = (x[:, None] - means) / stds
    k = (np.log(weights) - 0.5 * z**2 - np.log(stds)).argmax(1)
    alpha = np.clip((x - means[k]) / (4 * stds[k]), -0.99, 0.99)
    beta = np.eye(len(means))[k]
    return alpha, beta
    ### END SOLUTION


result_mode = check("10a.mode_normalize", mode_normalize_argmax)

# %% [markdown]
# **Use it:** encode the trimodal `amount` column of the simulated mixed table with the
# mixture the transformer fitted, and decode with $x = \mu_k + 4\sigma_k\alpha$. Values that
# were not clipped come back to float precision; the transformer itself *draws* the mode, so
# it agrees with the most responsible mode for most rows but not all (near the boundary
# between two modes either choice is valid).


# %%
encode_fn = result_mode.choose(mode_normalize_argmax)
mixed_table = tables.mixed()
mixed_frame = mixed_table.sample(5000, seed=0)
transformer = DataTransformer(mixed_table.schema, seed=0).fit(mixed_frame)
info = transformer.numeric_info("amount")
x = mixed_frame["amount"].to_numpy()
alpha, beta = encode_fn(x, info.means, info.stds, info.weights)
k = beta.argmax(1)
x_back = mode_denormalize(alpha, k, info.means, info.stds)
inside = np.abs(alpha) < ALPHA_LIMIT
print(f"modes: means {np.round(info.means, 2)}, rows per mode {np.bincount(k)}")
print(
    f"max |x̂ − x| over the {inside.sum()} unclipped values: {np.abs(x_back - x)[inside].max():.2e}"
)
encoded = transformer.transform(mixed_frame)
value_span, mode_span = transformer.spans_of("amount")
drawn = encoded[:, mode_span.start : mode_span.end].argmax(1)
print(
    f"rows where the transformer's drawn mode is the most responsible one: {(drawn == k).mean():.1%}"
)

# %% [markdown]
# ## Exercise 2 — the log-frequency of training-by-sampling (10 points)
#
# Given the category counts $n_c$ of one discrete column (an integer array, zeros allowed),
# return the probabilities with which CTGAN's training picks each category as a condition,
# $p_c = \log(1 + n_c)\,/\sum_j\log(1 + n_j)$, as floats.


# %%
def log_frequency(counts):
    ### BEGIN SOLUTION
    weight = np.log1p(counts.astype(float))
    return weight / weight.sum()
    ### END SOLUTION


result_logfreq = check("10a.log_frequency", log_frequency)

# %% [markdown]
# **Use it:** the occupations of the `fair` survey. How many students does a batch of 500
# conditions on `occupation` hold, with real frequencies and with yours?

# %%
logfreq_fn = result_logfreq.choose(log_frequency)
frame, schema = tables.fair()
counts = frame["occupation"].value_counts().reindex(schema.categories_of("occupation"))
table = pd.DataFrame(
    {
        "count": counts.to_numpy(),
        "real": counts.to_numpy() / counts.sum(),
        "log-frequency": logfreq_fn(counts.to_numpy()),
    },
    index=counts.index,
)
table["per 500 (real)"] = 500 * table["real"]
table["per 500 (log-frequency)"] = 500 * table["log-frequency"]
table.round(3)

# %% [markdown]
# ## Exercise 3 — the conditional vector and its mask (10 points)
#
# A batch of conditions is given as two integer tensors of shape `[B]`: `span[i]` is the
# conditioned discrete column $j$ (0-based) and `category[i]` the category $k$ within that
# column; `widths` is a list with the number of categories of each discrete column. Return
# two float tensors:
#
# * `cond`, shape `[B, sum(widths)]`: all columns' categories side by side, with a single 1
#   at position $\text{offset}_j + k$, where $\text{offset}_j$ is the total width of the
#   columns before $j$;
# * `mask`, shape `[B, len(widths)]`: the one-hot vector $e_j$ of the conditioned column.


# %%
def conditional_vector(span, category, widths):
    ### BEGIN SOLUTION
    offsets = torch.cumsum(torch.tensor([0, *widths[:-1]]), 0)
    batch = len(span)
    cond = torch.zeros(batch, sum(widths))
    cond[torch.arange(batch), offsets[span] + category] = 1.0
    mask = torch.zeros(batch, len(widths))
    mask[torch.arange(batch), span] = 1.0
    return cond, mask
    ### END SOLUTION


result_cond = check("10a.conditional_vector", conditional_vector)

# %% [markdown]
# **Use it:** CTGAN's sampler on the encoded `fair` table draws training conditions (with
# your log-frequency above); rebuild their conditional vectors from `(span, category)` with
# your function and compare.

# %%
fair_transformer = DataTransformer(schema, seed=0).fit(frame)
sampler = ConditionalSampler(fair_transformer.transform(frame), fair_transformer.discrete_spans)
cond_fn = result_cond.choose(conditional_vector)
batch = sampler.sample_train(1000, generator=torch.Generator().manual_seed(0))
cond, mask = cond_fn(batch.span, batch.category, sampler.widths.tolist())
same = torch.equal(cond, batch.cond) and torch.equal(mask, batch.mask)
print(f"the vectors equal the sampler's for all 1000 training conditions: {same}")
print(
    "conditions per column:",
    dict(zip([s.column for s in sampler.spans], mask.sum(0).int().tolist())),
)

# %% [markdown]
# ## Exercise 4 — the gradient penalty on PacGAN packs (10 points)
#
# CTGAN's critic scores *packs*: `critic(rows)` takes rows `[N, d]`, groups rows
# `0..pac-1`, `pac..2pac-1`, … into `N / pac` packs and returns one score per pack. The
# WGAN-GP penalty must follow the packs (Gulrajani et al. 2017; Lin et al. 2018):
#
# * one mixing weight per pack, `eps` (shape `[N / pac]`), shared by the `pac` rows of the
#   pack: $\hat x_n = \epsilon_{p(n)} x_n + (1-\epsilon_{p(n)})\tilde x_n$, $p(n) = \lfloor
#   n/\texttt{pac}\rfloor$;
# * one gradient norm per pack: the norm of $\nabla_{\hat x} D$ over all `pac * d` entries of
#   the pack (use `torch.autograd.grad(..., create_graph=True)`);
# * return $\lambda\,\frac{1}{N/\texttt{pac}}\sum_{\text{packs}}(\lVert\nabla\rVert - 1)^2$
#   with $\lambda = 10$.


# %%
def packed_gradient_penalty(critic, real, fake, eps, pac):
    ### BEGIN SOLUTION
    e = eps.repeat_interleave(pac)[:, None]
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = grad.reshape(len(eps), -1).norm(dim=1)
    return 10 * ((norms - 1) ** 2).mean()
    ### END SOLUTION


result_gp = check("10a.packed_gradient_penalty", packed_gradient_penalty)

# %% [markdown]
# **Use it:** CTGAN's own (untrained) critic with packs of 10, on 500 encoded real rows of
# `fair` and 500 rows of a crude fake (each column shuffled on its own): your penalty and the
# package's agree. Then a *linear* critic on packs, $D(\text{pack}) = w^\top\text{pack}$ with
# $\lVert w\rVert = 1$: its gradient with respect to a pack is $w$ everywhere, so the penalty
# is exactly 0 — whereas the norms of the ten per-row blocks of $w$ are all below 1, so a
# per-row penalty would push the critic away from a perfectly 1-Lipschitz function.

# %%
gp_fn = result_gp.choose(packed_gradient_penalty)
encoded_fair = torch.from_numpy(fair_transformer.transform(frame))
g = torch.Generator().manual_seed(0)
real_rows = encoded_fair[torch.randperm(len(encoded_fair), generator=g)[:500]]
fake_rows = torch.stack(
    [real_rows[torch.randperm(500, generator=g), j] for j in range(real_rows.shape[1])], 1
)
torch.manual_seed(0)
critic = Discriminator(real_rows.shape[1], (64, 64), pac=10).eval()
eps = torch.rand(50, generator=g)
yours = gp_fn(critic, real_rows, fake_rows, eps, 10).detach()
package = gan.gradient_penalty(critic, real_rows, fake_rows, pac=10, eps=eps).detach()
print(f"CTGAN critic: your penalty {yours.item():.6f}, package {package.item():.6f}")

w = torch.randn(10 * real_rows.shape[1], generator=g)
w = w / w.norm()
linear = gp_fn(lambda rows: gan.pack(rows, 10) @ w, real_rows, fake_rows, eps, 10).detach()
blocks = w.reshape(10, -1).norm(dim=1)
print(f"linear critic with |w| = 1: penalty {float(linear):.2e}")
print(
    f"per-row block norms of w: {blocks.numpy().round(2)}; a per-row penalty would be "
    f"{float(10 * ((blocks - 1) ** 2).mean()):.2f}"
)
