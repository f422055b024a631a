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
# Five graded exercises. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then). The
# last exercise is the chapter's central algorithm: you write the training step, then
# train an autoencoder on the digits with it.
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
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from edu_gen.core import config, rng
from edu_gen.course import viz
from edu_gen.course.grading import check
from edu_gen.data import digits, digits_loader
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

# %% [markdown]
# ## Exercise 5 — train an autoencoder: one training step (20 points)
#
# Training is the loop $\theta \leftarrow \theta - \eta\,\nabla_\theta L$ over mini-batches,
# with $L$ the cross-entropy of eq. 17.2 summed over the $D$ pixels and averaged over the
# batch. Write the body of that loop for one batch `x` (`[N, D]`, values in $[0, 1]$):
#
# 1. clear the gradients the model may still hold (`optimizer.zero_grad()`): the tests
#    hand you a model with gradients left over from earlier work;
# 2. compute the loss; the model's output `model(x)` is a *logit* per pixel, so use your
#    `cross_entropy(x, logits)` from Exercise 2 (or the same formula again);
# 3. `loss.backward()`, then `optimizer.step()`;
# 4. return the loss of the batch as a Python float (`loss.item()`), so the caller can log
#    it without keeping the graph alive.
#
# The grader checks the float you return *and* the parameters your step leaves in the
# model, against one reference step from the same start.


# %%
def train_step(model, optimizer, x):
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    logits = model(x)
    loss = (F.softplus(logits) - x * logits).sum(1).mean()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


result_step = check("01.train_step", train_step)

# %% [markdown]
# Use it: the loop below calls *your* step (the reference until yours passes) on the
# digits, for a 2-dimensional code. Watch the loss fall and the reconstructions sharpen.

# %%
step_fn = result_step.choose(train_step)
rng.seed_everything(0)
model = ae.Autoencoder(64, 2, hidden=(64,), out_activation="identity")
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loader = digits_loader("train", "unit", batch_size=64)
epochs = config.pick(60, 4)
epoch_losses = []
for _ in range(epochs):
    losses = [step_fn(model, optimizer, x) for x, _ in loader]
    epoch_losses.append(sum(losses) / len(losses))
print(f"cross-entropy per digit: epoch 1 {epoch_losses[0]:.2f} nats, last {epoch_losses[-1]:.2f}")

x_test, y_test = digits("test", "unit")
with torch.no_grad():
    x_hat = torch.sigmoid(model(x_test[:10]))
    codes = model.encode(x_test)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(range(1, epochs + 1), epoch_losses, marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("training cross-entropy (nats per digit)")
ax.set_title("your training step at work")
plt.show()
viz.compare_rows({"test digit": x_test[:10], "reconstruction": x_hat}, shape=(8, 8))
plt.show()
ax = viz.latent_scatter(codes, y_test, title="2-d codes of the test digits, by class")
ax.set_xlabel("$h_1$")
ax.set_ylabel("$h_2$")
plt.show()
