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
# # 01 · Autoencoders — exercises
#
# Four graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then).
#
# Use only `torch` operations (no loops over examples are needed).
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
from edu_gen.data import digits
from edu_gen.models import autoencoder as ae

rng.seed_everything(0)
print(config.banner())

# %% [markdown]
# ## Exercise 1 — the forward pass of eq. 17.1 (10 points)
#
# Implement $\hat x = s(W' s(Wx + b) + b')$ with the sigmoid $s$, for a *batch* `x` of shape
# `[N, D]`. Shapes: `W` `[K, D]`, `b` `[K]`, `W_prime` `[D, K]`, `b_prime` `[D]`. Return
# $\hat x$ with shape `[N, D]`.


# %%
def autoencoder_forward(x, W, b, W_prime, b_prime):
    ### BEGIN SOLUTION
    h = torch.sigmoid(x @ W.T + b)
    return torch.sigmoid(h @ W_prime.T + b_prime)
    ### END SOLUTION


result_forward = check("01.autoencoder_forward", autoencoder_forward)

# %% [markdown]
# ## Exercise 2 — cross-entropy from logits (eq. 17.2, 10 points)
#
# For targets `x` in $[0,1]$ and decoder logits $a$ (so $\hat x = \sigma(a)$), return
# $\frac1N\sum_n\sum_j -\big[x_{nj}\log\sigma(a_{nj}) + (1-x_{nj})\log(1-\sigma(a_{nj}))\big]$.
# Do not compute `log(sigmoid(a))` directly — it overflows for large $|a|$. Hint:
# $-\log\sigma(a) = \mathrm{softplus}(-a)$ and $-\log(1-\sigma(a)) = \mathrm{softplus}(a)$.


# %%
def cross_entropy(x, logits):
    ### BEGIN SOLUTION
    return (torch.nn.functional.softplus(logits) - x * logits).sum(dim=1).mean()
    ### END SOLUTION


result_ce = check("01.cross_entropy", cross_entropy)

# %% [markdown]
# Use it: your loss must agree with the package's on real digits, even for extreme logits.

# %%
ce = result_ce.choose(cross_entropy)
x_bin, _ = digits("test", "binary")
extreme = 50 * torch.randn_like(x_bin)
print(
    "your loss on extreme logits:",
    float(ce(x_bin, extreme)),
    " (finite:",
    bool(torch.isfinite(ce(x_bin, extreme))),
    ")",
)

# %% [markdown]
# ## Exercise 3 — principal angles between subspaces (10 points)
#
# Given `A` `[D, k]` and `B` `[D, m]`, return the principal angles between their column
# spans in **radians**, ascending. Steps: orthonormal bases $Q_A, Q_B$ with
# `torch.linalg.qr`; the cosines are the singular values of $Q_A^\top Q_B$
# (`torch.linalg.svdvals`); clamp to $[-1, 1]$ before `torch.arccos`.


# %%
def principal_angles(A, B):
    ### BEGIN SOLUTION
    qa, _ = torch.linalg.qr(A)
    qb, _ = torch.linalg.qr(B)
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.sort(torch.arccos(cosines)).values
    ### END SOLUTION


result_angles = check("01.principal_angles", principal_angles)

# %% [markdown]
# ## Exercise 4 — PCA reconstruction (10 points)
#
# `components` holds the top-$k$ principal directions as orthonormal **rows** (`[k, D]`)
# and `mean` the data mean `[D]`, both fitted on *training* data; `x` may be new data, so use
# them as given (do not recompute them from `x`). Return
# $\hat x = \mu + (x-\mu)V_k^\top V_k$, shape `[N, D]`.


# %%
def pca_reconstruct(x, mean, components):
    ### BEGIN SOLUTION
    return mean + (x - mean) @ components.T @ components
    ### END SOLUTION


result_pca = check("01.pca_reconstruct", pca_reconstruct)

# %% [markdown]
# ## Use them together: is PCA's subspace what a linear AE finds?
#
# With your `pca_reconstruct` and `principal_angles`: the PCA reconstruction error on the
# test digits for $k = 4$, and the angles between the PCA subspace of the training split
# and that of the test split (small: both splits share their main directions).

# %%
angles_fn = result_angles.choose(principal_angles)
recon_fn = result_pca.choose(pca_reconstruct)
x_train, _ = digits("train", "unit")
x_test, _ = digits("test", "unit")
mean, comps = ae.pca(x_train.double(), 4)
_, comps_test = ae.pca(x_test.double(), 4)
error = ((x_test.double() - recon_fn(x_test.double(), mean, comps)) ** 2).sum(1).mean()
print(f"PCA (k=4) held-out squared error: {error:.3f}")
print(
    "angles train-vs-test PCA subspaces (deg):",
    torch.rad2deg(angles_fn(comps.T, comps_test.T)).numpy().round(2),
)
