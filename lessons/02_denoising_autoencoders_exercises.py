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
# # 02 · Denoising autoencoders — exercises
#
# Four graded exercises: two corruption processes $q_D$ (eq. 17.4), the denoising loss
# (eq. 17.3-17.4), and the distance to a toy manifold. Write your code where it says
# `raise NotImplementedError`, then run the `check(...)` cell under it: it runs randomised
# tests and prints your points, with a hint when your answer matches a common mistake.
# Later cells use your functions once they pass (the reference until then).
#
# Use only `torch` operations. When a function receives a `torch.Generator`, draw *all*
# its random numbers from it (`torch.randn(..., generator=generator)`,
# `torch.rand(..., generator=generator)`): then two calls with equally seeded generators
# give the same result, which is what makes a figure or an experiment reproducible.
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
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import config, rng
from edu_gen.core.train import fit
from edu_gen.course import viz
from edu_gen.course.grading import check
from edu_gen.data import digits, digits_loader
from edu_gen.models import autoencoder as ae
from edu_gen.models import dae

rng.seed_everything(0)
device = config.get_device()
print(config.banner())

x_test, _ = digits("test", "unit")

# %% [markdown]
# ## Exercise 1 — Gaussian corruption (10 points)
#
# Return $\tilde x = x + \sigma\varepsilon$ with $\varepsilon \sim \mathcal N(0, I)$ of the
# same shape as `x`; `sigma` is the standard deviation. Draw $\varepsilon$ with
# `torch.randn(x.shape, generator=generator)`.


# %%
def gaussian_corrupt(x, sigma, generator):
    ### BEGIN SOLUTION
    return x + sigma * torch.randn(x.shape, generator=generator)
    ### END SOLUTION


result_gauss = check("02.gaussian_corrupt", gaussian_corrupt)

# %% [markdown]
# Use it: corrupt test digits at three noise levels and check that the added noise has the
# standard deviation you asked for.

# %%
gauss_fn = result_gauss.choose(gaussian_corrupt)
rows = {"clean": x_test}
for sigma in (0.1, 0.3, 0.6):
    noisy = gauss_fn(x_test, sigma, rng.generator(0))
    rows[f"σ={sigma}"] = noisy
    print(f"σ={sigma}: measured standard deviation of x̃ - x = {(noisy - x_test).std():.3f}")
viz.compare_rows(rows, ncol=10, vmin=0, vmax=1)
plt.show()

# %% [markdown]
# ## Exercise 2 — masking noise (10 points)
#
# For each example (row) of `x` (shape `[N, D]`), choose **exactly** $k = \mathrm{round}(\nu
# D)$ of its $D$ components uniformly at random — a fresh choice for every row — and set them
# to 0. Leave every other component unchanged (no rescaling). Return a new tensor; do not
# modify `x`.
#
# Hint: the positions of the $k$ smallest of $D$ independent uniform numbers are a uniformly
# random $k$-subset. `torch.rand(..., generator=generator)`, `argsort(dim=1)` and
# `scatter` (or boolean indexing) do the rest. This is the masking noise of Vincent et al.
# (2010); compare it with dropout, which zeroes each component independently *and* rescales
# the survivors.


# %%
def masking_corrupt(x, nu, generator):
    ### BEGIN SOLUTION
    n, d = x.shape
    k = round(nu * d)
    order = torch.rand(n, d, generator=generator).argsort(dim=1)
    drop = torch.zeros(n, d, dtype=torch.bool).scatter(1, order[:, :k], True)
    return torch.where(drop, torch.zeros_like(x), x)
    ### END SOLUTION


result_mask = check("02.masking_corrupt", masking_corrupt)

# %% [markdown]
# Use it: mask 25 % and 50 % of the pixels of some test digits. Many of the masked pixels
# were background (0) already — only the ones that hit a stroke change the picture.

# %%
mask_fn = result_mask.choose(masking_corrupt)
rows = {"clean": x_test}
for nu in (0.25, 0.5):
    masked = mask_fn(x_test, nu, rng.generator(0))
    rows[f"ν={nu}"] = masked
    hit_ink = ((masked == 0) & (x_test > 0)).sum(1).float().mean()
    print(f"ν={nu}: {round(nu * 64)} pixels masked per image, {hit_ink:.1f} of them on a stroke")
viz.compare_rows(rows, ncol=10, vmin=0, vmax=1)
plt.show()

# %% [markdown]
# ## Exercise 3 — the denoising loss (10 points)
#
# `corrupt` is a function that returns a corrupted copy $\tilde x$ of its argument (a fresh
# random draw every time you call it). Return the squared-error denoising loss
#
# $$\frac1N\sum_{n=1}^N \big\lVert x_n - \mathrm{model}(\tilde x_n)\big\rVert^2,$$
#
# summed over the $D$ components and averaged over the batch. Call `corrupt` exactly once.
# Which $x$ goes where?


# %%
def dae_loss(model, x, corrupt):
    ### BEGIN SOLUTION
    x_tilde = corrupt(x)
    return ((x - model(x_tilde)) ** 2).sum(dim=1).mean()
    ### END SOLUTION


result_loss = check("02.dae_loss", dae_loss)

# %% [markdown]
# Use it: train a small over-complete DAE (64 → 128 → 64) on digits with *your* masking
# noise and *your* loss, then compare the held-out error of its reconstructions with that of
# the corrupted input.

# %%
loss_fn = result_loss.choose(dae_loss)
NU = 0.4


def my_corrupt(x):
    return mask_fn(x, NU, None)


def objective(model, batch):
    x, _ = batch
    return loss_fn(model, x, my_corrupt)


rng.seed_everything(0)
model = ae.Autoencoder(64, 128, hidden=(), code_activation="relu", out_activation="sigmoid")
fit(
    model,
    objective,
    digits_loader("train", "unit", batch_size=64, seed=0),
    steps=config.pick(3000, 400),
    lr=3e-3,
    device=device,
    desc="your DAE",
)
model = model.cpu().eval()
x_masked = mask_fn(x_test, NU, rng.generator(1))
with torch.no_grad():
    x_denoised = model(x_masked)
print(
    f"held-out squared error: masked input {ae.l2_loss(x_test, x_masked):.3f}, "
    f"DAE {ae.l2_loss(x_test, x_denoised):.3f}"
)
viz.compare_rows(
    {"clean": x_test, "masked": x_masked, "denoised": x_denoised}, ncol=10, vmin=0, vmax=1
)
plt.show()

# %% [markdown]
# ## Exercise 4 — distance to the toy manifold (10 points)
#
# The toy data lie on the circle of radius $r$ centred at the origin of $\mathbb R^2$.
# `points` has shape `[n, 2]`. Return the exact Euclidean distance of every point to the
# circle, shape `[n]`. (Where is the nearest point of the circle to a point $p$?)


# %%
def distance_to_manifold(points, radius):
    ### BEGIN SOLUTION
    return (points.norm(dim=1) - radius).abs()
    ### END SOLUTION


result_dist = check("02.distance_to_manifold", distance_to_manifold)

# %% [markdown]
# Use it: train a DAE on points of the unit circle with *your* Gaussian corruption and
# *your* loss, and measure with *your* distance how far corrupted points are from the circle
# before and after denoising.

# %%
dist_fn = result_dist.choose(distance_to_manifold)
TOY_SIGMA = 0.2


def toy_objective(model, batch):
    (x,) = batch
    return loss_fn(model, x, lambda p: gauss_fn(p, TOY_SIGMA, None))


rng.seed_everything(0)
circle = dae.toy_manifold(2000, rng.generator(0))
toy = torch.nn.Sequential(
    torch.nn.Linear(2, 64),
    torch.nn.ReLU(),
    torch.nn.Linear(64, 64),
    torch.nn.ReLU(),
    torch.nn.Linear(64, 2),
)
fit(
    toy,
    toy_objective,
    DataLoader(TensorDataset(circle), batch_size=128, shuffle=True),
    steps=config.pick(2000, 500),
    lr=3e-3,
    device=device,
    desc="toy DAE",
)
toy = toy.cpu().eval()
clean = dae.toy_manifold(500, rng.generator(1))
noisy = gauss_fn(clean, TOY_SIGMA, rng.generator(2))
with torch.no_grad():
    denoised = toy(noisy)
print(
    f"mean distance to the circle: corrupted {dist_fn(noisy, 1.0).mean():.4f}, "
    f"denoised {dist_fn(denoised, 1.0).mean():.4f}"
)
fig, ax = plt.subplots(figsize=(5, 5))
angle = torch.linspace(0, 2 * torch.pi, 200)
ax.plot(angle.cos(), angle.sin(), color="black", lw=1)
ax.quiver(
    *noisy[:120].T,
    *(denoised - noisy)[:120].T,
    angles="xy",
    scale_units="xy",
    scale=1,
    width=0.003,
    color="tab:blue",
)
ax.set_aspect("equal")
ax.set(xlabel="$x_1$", ylabel="$x_2$", title="corrupted points → reconstructions")
plt.show()
