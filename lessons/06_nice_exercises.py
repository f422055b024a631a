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
# Six graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then).
#
# Exercises 1-4 (10 points each) are the pieces of NICE; exercises 5 and 6 (20 points each)
# are the algorithm: the exact log-likelihood of the whole flow, and one training step on it.
# The last cells train a NICE on the digits with *your* step and sample from it.
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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from edu_gen.core import config, rng
from edu_gen.course import viz
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
# $p_X(x) = \prod_d 17\,P_d(\lfloor 17x_d\rfloor)$. Its bits/dim (printed below) is a strong
# baseline on these small, mostly-black images: in the lesson a plain NICE stays above it
# and only the NICE with a logit transform in front beats it, as does the one you train at
# the end of this notebook. Check also the logistic prior at the origin, where each
# dimension contributes $\log\frac14$.

# %%
bpd_fn = result_bpd.choose(bits_per_dim)
prior_fn = result_prior.choose(logistic_log_prob)
levels_train, _ = digits("train", "levels")
levels_test, _ = digits("test", "levels")
counts = F.one_hot(levels_train.long(), 17).sum(0).double() + 1.0  # [64, 17], add-one
probs = counts / counts.sum(-1, keepdim=True)
log_px_baseline = torch.log(17 * probs.gather(1, levels_test.long().T).T).sum(-1)
print(f"independent-pixel baseline: {bpd_fn(log_px_baseline, 64, 17).mean():.3f} bits/dim")
print(f"uniform model:              {bpd_fn(torch.zeros(1), 64, 17).item():.3f} bits/dim")
print("log p_H(0) for D = 64:", float(prior_fn(torch.zeros(1, 64))), "=", 64 * math.log(0.25))

# %% [markdown]
# ## Exercise 5 — NICE's log-likelihood (20 points)
#
# `model` is a `nice.NICE` flow $h = f(x)$ with a standard logistic prior (and no logit
# layer). Its parts:
#
# * `model.couplings`: the additive coupling layers, in order; each is a module you call,
#   `y = layer(y)` (exercise 1 with the layer's own $m$ and parity), and each has
#   $\log|\det J| = 0$;
# * `model.scaling`: the final diagonal scaling $h = S\odot y$ with
#   $S_{ii} = e^{s_i}$, where $s$ is the parameter `model.scaling.log_scale` (shape `[D]`).
#
# Return, one value per row of `x` (`[N, D]` → `[N]`), the change of variables
# $$\log p_X(x) = \sum_{d=1}^D \log p_H\big(f_d(x)\big) + \sum_{i=1}^D \log S_{ii},$$
# computed from these parts (not with `model.log_prob` or `model(x)`, which are the answer).
# The result must keep its gradient with respect to `x` and to every parameter: exercise 6
# trains the flow through it. One test uses points with entries of $\pm 10^3$.


# %%
def nice_log_likelihood(model, x):
    ### BEGIN SOLUTION
    y = x
    for layer in model.couplings:  # additive couplings: log|det J| = 0 each
        y = layer(y)
    s = model.scaling.log_scale  # S_ii = exp(s_i)
    h = y * torch.exp(s)
    log_prior = -(F.softplus(h) + F.softplus(-h)).sum(-1)  # standard logistic, stable
    return log_prior + s.sum()  # + log|det diag(S)| = sum_i log S_ii
    ### END SOLUTION


result_ll = check("06.nice_log_likelihood", nice_log_likelihood)

# %% [markdown]
# ## Exercise 6 — one training step (20 points)
#
# NICE is trained by maximum likelihood. Write one step of gradient descent on the loss
# $$\text{loss} = -\frac1N\sum_{n=1}^N \log p_X(x_n)$$
# (nats per example, the mean over the batch; use your `nice_log_likelihood`): clear the
# gradients left over from the previous step, compute the loss, back-propagate, let
# `optimizer` update the parameters, and return the loss as a Python float. The tests give
# the model stale gradients, as an earlier step would leave them.


# %%
def nice_step(model, optimizer, x):
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    loss = -nice_log_likelihood(model, x).mean()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


result_step = check("06.nice_step", nice_step)

# %% [markdown]
# ## Use them: train NICE on the digits with your step
#
# The loop below trains a NICE (4 couplings, $m$ = 2 × 128 ReLU units) by calling *your*
# `nice_step` on every batch (the reference until yours passes). As in the lesson, each
# batch of grey levels is dequantised afresh, $x = (k + u)/17$, and mapped onto the real
# line by the fixed logit layer of Real NVP, $z = \operatorname{logit}(\alpha + (1-2\alpha)x)$
# (`nice.logit_forward`): your step fits the flow to $z$, and the logit's log-determinant,
# which does not depend on the flow's parameters, is added back to report
# $\log p_X(x) = \log p_Z(z) + \log|dz/dx|$ in bits per dimension with your `bits_per_dim`.
# The scaling layer gets a larger learning rate than the couplings: its log-scales travel
# several units.

# %%
ll_fn = result_ll.choose(nice_log_likelihood)
step_fn = result_step.choose(nice_step)
n_levels, dim, alpha = 17, 64, 1e-3
nice_steps = config.pick(2000, 400)
rng.seed_everything(0)
flow = nice.NICE(dim, n_couplings=4, hidden=128, n_hidden=2)
optimizer = torch.optim.AdamW(
    [
        {"params": flow.couplings.parameters(), "lr": 2e-3, "weight_decay": 0.05},
        {"params": flow.scaling.parameters(), "lr": 3e-2, "weight_decay": 0.0},
    ]
)
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(levels_train),
    batch_size=64,
    shuffle=True,
    generator=rng.generator(0),
)
noise = rng.generator(1)  # the dequantisation noise
train_bpd = []
while len(train_bpd) < nice_steps:
    for (levels,) in loader:
        z, logit_log_det = nice.logit_forward(nice.dequantize(levels, n_levels, noise), alpha)
        loss = step_fn(flow, optimizer, z)  # -mean log p_Z(z), nats per digit
        log_px = torch.tensor(-loss + logit_log_det.mean().item())
        train_bpd.append(bpd_fn(log_px, dim, n_levels).item())
        if len(train_bpd) == nice_steps:
            break

flow.eval()
with torch.no_grad():
    z_test, logit_test = nice.logit_forward(
        nice.dequantize(levels_test, n_levels, rng.generator(2)), alpha
    )
    test_bpd = bpd_fn(ll_fn(flow, z_test) + logit_test, dim, n_levels).mean().item()
baseline_bpd = bpd_fn(log_px_baseline, dim, n_levels).mean().item()
print(f"NICE trained with your step, test digits: {test_bpd:.3f} bits/dim")
print(f"independent-pixel baseline, test digits: {baseline_bpd:.3f} bits/dim")

window = min(50, nice_steps)  # moving average over 50 steps
smooth = torch.tensor(train_bpd).unfold(0, window, 1).mean(1)
fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.plot(range(window, nice_steps + 1), smooth, label="training batches (moving average)")
ax.axhline(test_bpd, color="tab:green", ls=":", label="test digits, end of training")
ax.axhline(baseline_bpd, color="k", ls="--", label="independent pixels (test)")
ax.set_xlabel("training step")
ax.set_ylabel("bits per dimension (level scale)")
ax.set_title("NICE trained with your nice_step")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Samples run the flow backwards: $h\sim$ logistic, $z = f^{-1}(h)$ (`flow.inverse`), then the
# inverse logit and $\lfloor 17x\rfloor$ back to grey levels.

# %%
with torch.no_grad():
    h = nice.prior_sample(32, dim, "logistic", rng.generator(3))
    x_samples = nice.logit_inverse(flow.inverse(h), alpha)
viz.image_grid(
    torch.floor(x_samples * n_levels).clamp(0, 16) / 16,
    nrow=16,
    title="samples of the NICE trained with your step",
)
plt.show()
