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

# %% [markdown] slideshow={"slide_type": "slide"}
# # 10b · Exercises: mixed-type encoding, information loss, DP-SGD and its accountant
#
# Four graded exercises: three warm-ups of 10 points, each one equation of the chapter, and
# the central one (20 points), the Rényi-DP accountant that turns a run of DP-SGD steps into
# the $(\varepsilon, \delta)$ guarantee. After `check`, the notebook *uses* your function (or
# the reference, if yours is not finished yet).
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
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from edu_gen.core import config, rng
from edu_gen.course.grading import check
from edu_gen.data.tables import fair, fair_label, train_test_split_table
from edu_gen.tabular import metrics, privacy
from edu_gen.tabular.encoding import TableEncoder
from edu_gen.tabular.synthesizers import Discriminator, default_delta, discriminator_features

rng.seed_everything(0)
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 1 — the mixed-type encoding of one column (10 points)
#
# A mixed column has $M$ point masses $m_0,\dots,m_{M-1}$ and a Gaussian mixture with $K$
# modes $(\mu_k, \sigma_k)$ for its other values. Given the column `x` (float64, shape
# `[n]`) and, for every value, the mixture mode `modes[i]` it was assigned to (ignore it for
# point-mass values), return
#
# * `alpha` `[n]`: $0$ for a point-mass value, $(x - \mu_k)/(4\sigma_k)$ otherwise;
# * `beta` `[n, M + K]`: one-hot mode indicator — slot $j$ for point mass $m_j$, slot
#   $M + k$ for mixture mode $k$ — in `x`'s dtype.


# %%
def mixed_encode(x, point_masses, means, stds, modes):
    ### BEGIN SOLUTION
    hit = x[:, None] == point_masses[None, :]
    is_mass = hit.any(1)
    alpha = torch.where(is_mass, torch.zeros_like(x), (x - means[modes]) / (4 * stds[modes]))
    index = torch.where(is_mass, hit.float().argmax(1), len(point_masses) + modes)
    beta = torch.nn.functional.one_hot(index, len(point_masses) + len(means)).to(x.dtype)
    return alpha, beta
    ### END SOLUTION


result_mixed = check("10b.mixed_encode", mixed_encode)

# %% [markdown]
# **Use it:** encode `fair.affairs` with the modes the package's encoder fitted and drew, and
# compare with the encoder's own matrix.

# %%
encode_fn = result_mixed.choose(mixed_encode)
frame, schema = fair()
train, test = train_test_split_table(frame, 0.2, seed=0)
encoder = TableEncoder(schema).fit(train)
encoded = torch.from_numpy(encoder.transform(train)).double()
value, mode = encoder.spans_of("affairs")
info = encoder.numeric_info("affairs")
n_mass = len(info.point_masses)
drawn = (encoded[:, mode.start : mode.end].argmax(1) - n_mass).clamp_min(0)
alpha, beta = encode_fn(
    torch.tensor(train["affairs"].to_numpy()),
    torch.tensor(info.point_masses),
    torch.tensor(info.means),
    torch.tensor(info.stds),
    drawn,
)
print("max |alpha - encoder|:", float((alpha - encoded[:, value.start]).abs().max()))
print("indicators equal:", bool(torch.equal(beta, encoded[:, mode.start : mode.end])))
print("share of rows in the point-mass mode:", float(beta[:, 0].mean()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 2 — the information loss (10 points)
#
# For discriminator features of a real batch `real_features` and a generated batch
# `fake_features` (both `[B, H]`), return
# $\lVert \bar f_r - \bar f_g\rVert_2 + \lVert s_r - s_g\rVert_2$ where $\bar f$ and $s$ are
# the per-feature mean and **population** standard deviation over the batch.


# %%
def information_loss(real_features, fake_features):
    ### BEGIN SOLUTION
    mean = real_features.mean(0) - fake_features.mean(0)
    sd = real_features.std(0, correction=0) - fake_features.std(0, correction=0)
    return mean.norm() + sd.norm()
    ### END SOLUTION


result_info = check("10b.information_loss", information_loss)

# %% [markdown]
# **Use it:** with a (random, untrained) critic, the information loss between two halves of
# the real rows is smaller than between real rows and rows with independent columns.

# %%
info_fn = result_info.choose(information_loss)
torch.manual_seed(0)
critic = Discriminator(encoder.output_dim, (64, 64), pac=1).eval()
shuffled = metrics.independent_marginals(train, len(train), seed=0)
real_rows = torch.from_numpy(encoder.transform(train))
fake_rows = torch.from_numpy(encoder.transform(shuffled))
with torch.no_grad():
    f_real, _ = discriminator_features(critic, real_rows)
    f_fake, _ = discriminator_features(critic, fake_rows)
half = len(f_real) // 2
print(f"real vs real : {float(info_fn(f_real[:half], f_real[half:])):.4f}")
print(f"real vs indep: {float(info_fn(f_real[:half], f_fake[half:])):.4f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 3 — one DP-SGD step (10 points)
#
# Given the per-example gradients `per_example_grads` `[B, P]` of a Poisson batch, the
# clipping norm $C$, a standard-normal vector `noise` `[P]`, the noise multiplier $\sigma$
# and the expected batch size $qn$, return the private gradient
#
# $$\tilde g = \frac1{qn}\Big(\sum_i g_i\min\big(1, C/\lVert g_i\rVert_2\big) + \sigma C\,
#   \text{noise}\Big).$$
#
# A row's gradient can be exactly 0 (then $C/0 = \infty$ and the factor is 1).


# %%
def dp_noisy_gradient(per_example_grads, clip_norm, noise, noise_multiplier, expected_batch_size):
    ### BEGIN SOLUTION
    norms = per_example_grads.norm(dim=1, keepdim=True)
    clipped = per_example_grads * torch.clamp(clip_norm / norms, max=1.0)
    return (clipped.sum(0) + noise_multiplier * clip_norm * noise) / expected_batch_size
    ### END SOLUTION


result_dp = check("10b.dp_noisy_gradient", dp_noisy_gradient)

# %% [markdown]
# **Use it:** the per-example gradients of a small critic's WGAN-GP loss (gradient penalty
# inside each row's loss), your noisy gradient, and the package's `dp_step` with the same
# noise: the updates agree.

# %%
noisy_fn = result_dp.choose(dp_noisy_gradient)
torch.manual_seed(1)
small = Discriminator(6, (16,), pac=1).eval()
real, fake, eps = torch.randn(32, 6), torch.randn(32, 6), torch.rand(32)
loss = lambda d, r, f, e: d(f) - d(r) + privacy.gradient_penalty_per_row(d, r, f, e)  # noqa: E731
grads = privacy.per_example_grads(small, loss, (real, fake, eps))
flat = torch.cat([g.flatten(1) for g in grads.values()], 1).double()
g = torch.Generator().manual_seed(5)  # dp_step draws the noise parameter by parameter
noise = torch.cat([torch.randn(p.shape, generator=g).flatten() for p in small.parameters()])
noise = noise.double()
mine = noisy_fn(flat, 1.0, noise, 1.1, 40.0)
opt = torch.optim.SGD(small.parameters(), lr=1.0)
before = torch.cat([p.detach().flatten() for p in small.parameters()])
privacy.dp_step(
    small, loss, (real, fake, eps), opt, clip_norm=1.0, noise_multiplier=1.1,
    expected_batch_size=40.0, generator=torch.Generator().manual_seed(5),
)  # fmt: skip
after = torch.cat([p.detach().flatten() for p in small.parameters()])
print("max |your update - dp_step's|:", float((before - after - mine.float()).abs().max()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 4 — the privacy accountant (20 points)
#
# One DP-SGD step (Exercise 3) with Poisson rate $q$ and noise multiplier $\sigma$ is the
# *sampled Gaussian mechanism*. Its Rényi-DP at order $\alpha > 1$ is a curve
# $\varepsilon_{\text{step}}(\alpha)$ that the package computes for you:
# `privacy.rdp_sampled_gaussian(q, sigma, orders)` returns it at every order of the array
# `orders` (Mironov, Talwar & Zhang 2019). Write the accountant on top of it:
#
# 1. **compose**: RDP adds up over the steps at every order (Mironov 2017, Prop. 1), so
#    `steps` identical steps have $\varepsilon_T(\alpha) = T\,\varepsilon_{\text{step}}(\alpha)$;
# 2. **convert** at every order to an $(\varepsilon, \delta)$ guarantee (Mironov 2017, Prop. 3,
#    the classic conversion): $\varepsilon(\alpha) = \varepsilon_T(\alpha) +
#    \frac{\log(1/\delta)}{\alpha - 1}$;
# 3. every order gives a valid guarantee, so report the best one: return
#    $\min_\alpha \varepsilon(\alpha)$ over the given `orders` as a Python `float`.
#
# Arguments: `steps` (int), `sample_rate` $q$, `noise_multiplier` $\sigma$, `delta` (floats)
# and `orders` (a NumPy array of orders > 1).


# %%
def epsilon_after(steps, sample_rate, noise_multiplier, delta, orders):
    ### BEGIN SOLUTION
    rdp = steps * privacy.rdp_sampled_gaussian(sample_rate, noise_multiplier, orders)
    eps = rdp + np.log(1 / delta) / (orders - 1)
    return float(eps.min())
    ### END SOLUTION


result_eps = check("10b.epsilon_after", epsilon_after)

# %% [markdown] slideshow={"slide_type": "slide"}
# **Use it (1): how ε grows with the steps.** Your accountant on the default grid of orders
# (plus a few large ones, see the comment in the code),
# for a private critic that sees batches of 500 of the `fair` training rows
# ($q = 500/n$, as in the chapter) at four noise multipliers, with
# $\delta = \min(10^{-5}, 1/(10n))$. The dashed line is what adding up each step's own
# $(\varepsilon, \delta)$ would report for $\sigma = 1.1$: $T$ times the one-step
# $\varepsilon$ (and $T\delta$) — composing RDP instead makes $\varepsilon$ grow roughly like
# $\sqrt T$ rather than $T$.

# %%
eps_fn = result_eps.choose(epsilon_after)
# the default grid (up to 63) and a few large orders: the conversion term log(1/δ)/(α − 1)
# puts a floor of log(1/δ)/(α_max − 1) under every reported ε, which heavily noised runs hit
orders = np.concatenate([privacy.DEFAULT_ORDERS, [96.0, 128.0, 256.0, 512.0]])
n = len(train)
delta = default_delta(n)
q_critic = 500 / n
sigmas = (0.6, 0.8, 1.1, 1.5)
step_grid = np.unique(np.geomspace(1, 10_000, config.pick(16, 8)).astype(int))
eps_curves = {s: [eps_fn(int(t), q_critic, s, delta, orders) for t in step_grid] for s in sigmas}
one_step = eps_fn(1, q_critic, 1.1, delta, orders)

fig, ax = plt.subplots(figsize=(6.5, 4))
for s, curve in eps_curves.items():
    ax.plot(step_grid, curve, marker="o", ms=3, label=f"σ = {s:g} (your accountant)")
ax.plot(step_grid, one_step * step_grid, "k--", lw=1, label="σ = 1.1, ε added step by step")
ax.set(xscale="log", yscale="log", xlabel="DP-SGD steps T", ylabel=f"ε at δ = {delta:.0e}",
       ylim=(0.5, 2e3), title=f"privacy spent, q = {q_critic:.3f}")  # fmt: skip
ax.legend(fontsize=8)
plt.show()
print(f"after 1,000 steps at σ = 1.1: ε = {eps_fn(1000, q_critic, 1.1, delta, orders):.2f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# **Use it (2): privacy against utility.** A logistic regression predicts "had an affair"
# (`affairs > 0`) from the other columns of `fair`, trained by the package's DP-SGD
# (`privacy.DPSGD`: Poisson batches of about 20 rows, per-row clipping at $C = 1$, Gaussian
# noise) at several noise multipliers (five in the full run, three in FAST mode). Every 50
# steps we measure the AUC on the held-out rows and ask *your* accountant what the run has
# spent so far. Each curve runs left to right as training goes on; the dotted line is the
# same model trained without privacy (scikit-learn).


# %%
def features(rows):
    """Numeric columns and one-hot occupations, laid out like the training rows' dummies."""
    x = pd.get_dummies(rows.drop(columns="affairs"), dtype=float)
    return x.reindex(columns=train_columns, fill_value=0.0)


train_columns = pd.get_dummies(train.drop(columns="affairs"), dtype=float).columns
x_train, x_test = features(train), features(test)
mean, std = x_train.mean(), x_train.std()
x_train = torch.tensor(((x_train - mean) / std).to_numpy(), dtype=torch.float32)
x_test = torch.tensor(((x_test - mean) / std).to_numpy(), dtype=torch.float32)
y_train = torch.tensor(fair_label(train["affairs"]).to_numpy(), dtype=torch.float32)
y_test = fair_label(test["affairs"]).to_numpy()
auc_public = roc_auc_score(
    y_test, LogisticRegression(max_iter=1000).fit(x_train, y_train).decision_function(x_test)
)


def row_loss(model, x, y):
    """One binary cross-entropy per row: DP-SGD clips each row's gradient."""
    return F.binary_cross_entropy_with_logits(model(x).squeeze(-1), y, reduction="none")


q_small, dp_steps, every = 20 / n, config.pick(400, 200), 50
trade_off = {}
for sigma in config.pick((0.5, 1.0, 2.0, 4.0, 8.0), (0.5, 2.0, 8.0)):
    torch.manual_seed(0)
    model = torch.nn.Linear(x_train.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    dp = privacy.DPSGD(
        n=n, sample_rate=q_small, noise_multiplier=sigma, clip_norm=1.0,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    points = []
    for step in range(1, dp_steps + 1):
        dp.step(model, row_loss, dp.sample(x_train, y_train), optimizer)
        if step % every == 0:
            with torch.no_grad():
                auc = roc_auc_score(y_test, model(x_test).squeeze(-1).numpy())
            points.append((eps_fn(step, q_small, sigma, delta, orders), auc))
    trade_off[sigma] = np.array(points)

fig, ax = plt.subplots(figsize=(6.5, 4))
for sigma, pts in trade_off.items():
    ax.plot(pts[:, 0], pts[:, 1], marker="o", ms=3, label=f"σ = {sigma:g}")
ax.axhline(auc_public, color="0.4", ls=":", label="no privacy")
ax.axhline(0.5, color="k", lw=0.6, ls="--", label="chance")
ax.set(xscale="log", xlabel=f"ε spent (your accountant, δ = {delta:.0e})",
       ylabel="AUC on held-out rows", ylim=(0.45, 0.8),
       title=f"DP-SGD logistic regression, {dp_steps} steps of ~20 rows")  # fmt: skip
ax.minorticks_off()
ax.legend(fontsize=8)
plt.show()
print(
    pd.DataFrame(
        {"ε after training": [p[-1, 0] for p in trade_off.values()],
         "AUC, last 3 checks": [p[-3:, 1].mean() for p in trade_off.values()]},
        index=[f"σ = {s:g}" for s in trade_off],
    ).round(3).to_string()
)  # fmt: skip
print(f"no privacy: AUC {auc_public:.3f}")

# %% [markdown]
# What to look for: on the left, a larger $\sigma$ shifts the whole curve down, and every
# curve rises far more slowly than the dashed step-by-step sum. On the right, more noise buys
# a smaller $\varepsilon$ and costs AUC; the loss is small for this easy, low-dimensional
# model and grows with the noise. A deep network, whose gradients have many more
# coordinates for the same noise per coordinate, pays much more — one reason CTAB-GAN+'s
# private runs in the lesson lose so much fidelity.
