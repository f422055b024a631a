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
# # 06 · NICE — exercises
#
# Four graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
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
from edu_gen.data import digits
from edu_gen.models import nice

rng.seed_everything(0)
print(config.banner())

# %% [markdown]
# ## Exercise 1 — an additive coupling layer (10 points)
#
# For `x` of shape `[N, D]`, let `I1` be the indices `i` with `i % 2 == parity` and `I2` the
# others (`nice.partition(D, parity)` returns both). Return `y` with
# $y_{I_1} = x_{I_1}$ and $y_{I_2} = x_{I_2} + m(x_{I_1})$, where `m` maps `[N, |I1|]` to
# `[N, |I2|]`. Do not modify `x` in place.


# %%
def coupling_forward(x, m, parity):
    ### BEGIN SOLUTION
    i1, i2 = nice.partition(x.shape[1], parity)
    y = x.clone()
    y[:, i2] = x[:, i2] + m(x[:, i1])
    return y
    ### END SOLUTION


result_forward = check("06.coupling_forward", coupling_forward)

# %% [markdown]
# ## Exercise 2 — its inverse (10 points)
#
# Undo exercise 1: given `y`, return `x` with $x_{I_1} = y_{I_1}$ and
# $x_{I_2} = y_{I_2} - m(y_{I_1})$. The network `m` is only ever evaluated, never inverted.
# Do not modify `y` in place.


# %%
def coupling_inverse(y, m, parity):
    ### BEGIN SOLUTION
    i1, i2 = nice.partition(y.shape[1], parity)
    x = y.clone()
    x[:, i2] = y[:, i2] - m(y[:, i1])
    return x
    ### END SOLUTION


result_inverse = check("06.coupling_inverse", coupling_inverse)

# %% [markdown]
# **Use them:** stack four couplings with alternating parity and random networks $m$. The
# composition is invertible to machine precision and, as every coupling has log-determinant
# 0, preserves volume: `slogdet` of its Jacobian is 0.

# %%
fwd = result_forward.choose(coupling_forward)
inv = result_inverse.choose(coupling_inverse)
torch.manual_seed(0)
nets = [nice.coupling_net(3, 3, hidden=16, n_hidden=2).double() for _ in range(4)]


def stack(x):
    for k, m in enumerate(nets):
        x = fwd(x, m, k % 2)
    return x


def unstack(y):
    for k in reversed(range(4)):
        y = inv(y, nets[k], k % 2)
    return y


x = torch.randn(5, 6, dtype=torch.float64)
with torch.no_grad():
    print("max |unstack(stack(x)) - x| =", float((unstack(stack(x)) - x).abs().max()))
jac = torch.autograd.functional.jacobian(lambda v: stack(v[None])[0], x[0])
print("log|det J| of four couplings =", float(torch.linalg.slogdet(jac)[1]))

# %% [markdown]
# ## Exercise 3 — the logistic prior (10 points)
#
# Return $\log p_H(h) = \sum_d \log p(h_d)$ for the standard logistic density
# $p(h_d) = \sigma(h_d)\,(1 - \sigma(h_d))$, one value per row of `h` (`[N, D]` → `[N]`).
# Use `softplus` so that large $|h|$ cannot overflow.


# %%
def logistic_log_prob(h):
    ### BEGIN SOLUTION
    return -(F.softplus(h) + F.softplus(-h)).sum(-1)
    ### END SOLUTION


result_prior = check("06.logistic_log_prob", logistic_log_prob)

# %% [markdown]
# ## Exercise 4 — bits per dimension (10 points)
#
# A model gives $\log p_X(x)$ (nats) for dequantised pixels rescaled to $x = y / L \in [0,1)^D$.
# Return the bits per dimension of the *level* scale,
# $(-\log p_X(x) + D\log L)/(D\log 2)$, element-wise for a tensor `log_px`.


# %%
def bits_per_dim(log_px, dim, n_levels):
    ### BEGIN SOLUTION
    return (-log_px + dim * math.log(n_levels)) / (dim * math.log(2))
    ### END SOLUTION


result_bpd = check("06.bits_per_dim", bits_per_dim)

# %% [markdown]
# **Use them:** the simplest flow is the identity followed by a *fixed* independent-pixel
# model. Fit, for each pixel, the frequencies of the 17 levels on the training digits (with
# add-one smoothing); the dequantised density is then piecewise constant,
# $p_X(x) = \prod_d 17\,P_d(\lfloor 17x_d\rfloor)$. Its bits/dim (about 2.43) is a strong
# baseline on these small, mostly-black images: in the lesson a plain NICE stays above it
# (about 2.8) and only the NICE with a logit transform in front beats it (about 2.19). Check
# also the logistic prior at the origin, where each dimension contributes $\log\frac14$.

# %%
bpd_fn = result_bpd.choose(bits_per_dim)
prior_fn = result_prior.choose(logistic_log_prob)
levels_train, _ = digits("train", "levels")
levels_test, _ = digits("test", "levels")
counts = F.one_hot(levels_train.long(), 17).sum(0).double() + 1.0  # [64, 17], add-one
probs = counts / counts.sum(-1, keepdim=True)
log_px = torch.log(17 * probs.gather(1, levels_test.long().T).T).sum(-1)
print(f"independent-pixel baseline: {bpd_fn(log_px, 64, 17).mean():.3f} bits/dim")
print(f"uniform model:              {bpd_fn(torch.zeros(1), 64, 17).item():.3f} bits/dim")
print("log p_H(0) for D = 64:", float(prior_fn(torch.zeros(1, 64))), "=", 64 * math.log(0.25))
