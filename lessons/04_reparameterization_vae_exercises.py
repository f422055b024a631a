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
# # 04 · Reparameterisation and the VAE — exercises
#
# Six graded exercises: five of 10 points and the chapter's central algorithm (exercise 5,
# 20 points), the VAE's training step, which you then use to train a VAE with a 2-d code on
# the digits. Write your code where it says `raise NotImplementedError`, then run
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

import matplotlib.pyplot as plt
import scipy.stats as st
import torch

from edu_gen.core import config, rng
from edu_gen.core.distributions import log_normal
from edu_gen.core.train import fit
from edu_gen.course import viz
from edu_gen.course.grading import check
from edu_gen.data import digits, digits_loader
from edu_gen.models import estimators as est
from edu_gen.models import vae

rng.seed_everything(0)
print(config.banner())

# %% [markdown]
# ## Exercise 1 — the score-function estimator (10 points)
#
# For $q = \mathcal N(\mu, \sigma^2)$ and samples $z_1,\dots,z_n \sim q$ with values
# $f(z_i)$, return the per-sample estimates of $\nabla_{(\mu,\sigma)}\mathbb E_q[f]$,
# $$f(z_i)\,\Big(\frac{z_i-\mu}{\sigma^2},\ \frac{(z_i-\mu)^2-\sigma^2}{\sigma^3}\Big),$$
# as a tensor of shape `[n, 2]` (column 0: $\partial_\mu$, column 1: $\partial_\sigma$).
# `z`, `f_z` have shape `[n]`; `mu`, `sigma` are 0-d tensors.


# %%
def score_function_estimate(z, f_z, mu, sigma):
    ### BEGIN SOLUTION
    d_mu = (z - mu) / sigma**2
    d_sigma = ((z - mu) ** 2 - sigma**2) / sigma**3
    return torch.stack([f_z * d_mu, f_z * d_sigma], dim=1)
    ### END SOLUTION


result_score = check("04.score_function", score_function_estimate)

# %% [markdown]
# Use it: average your estimates for $f(z) = z^2$ (exact gradient $(2\mu, 2\sigma)$) and
# compare with the pathwise estimator on the same draws.

# %%
score_fn = result_score.choose(score_function_estimate)
mu, sigma = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
eps = torch.randn(50_000, dtype=torch.float64)
z = mu + sigma * eps
yours = score_fn(z, z**2, mu, sigma)
path = est.pathwise_gradient(lambda t: t**2, mu, sigma, eps)
print("exact      ", [2 * mu.item(), 2 * sigma.item()])
print("score mean ", yours.mean(0).numpy().round(3), " variance", yours.var(0).numpy().round(2))
print("path mean  ", path.mean(0).numpy().round(3), " variance", path.var(0).numpy().round(2))

# %% [markdown]
# ## Exercise 2 — sampling by the inverse CDF (10 points)
#
# The logistic distribution has CDF $F(z) = 1/(1+e^{-(z-\text{loc})/s})$. Invert it: for
# uniform noise $u\in(0,1)$ return $z = F^{-1}(u)$, a reparameterised logistic sample (same
# shape as `u`; `loc` and `scale` are numbers).


# %%
def sample_logistic(u, loc, scale):
    ### BEGIN SOLUTION
    return loc + scale * (torch.log(u) - torch.log1p(-u))
    ### END SOLUTION


result_icdf = check("04.logistic_icdf", sample_logistic)

# %% [markdown]
# Use it: 20,000 samples through your sampler must pass a Kolmogorov–Smirnov test against
# SciPy's logistic distribution.

# %%
icdf_fn = result_icdf.choose(sample_logistic)
u = est.draw_noise("uniform", (20_000,), rng.generator(1))
samples = icdf_fn(u, 2.0, 0.5)
print("KS p-value:", st.kstest(samples.numpy(), st.logistic(2.0, 0.5).cdf).pvalue)

# %% [markdown]
# ## Exercise 3 — the Gaussian KL in closed form (10 points)
#
# For rows of means `mu` and log-variances `logvar` (shape `[N, d]`), return
# $\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\,e^{\ell})\,\|\,\mathcal N(0, I)) =
# \frac12\sum_{j}(\mu_j^2 + e^{\ell_j} - \ell_j - 1)$, one value per row (shape `[N]`).


# %%
def kl_to_prior(mu, logvar):
    ### BEGIN SOLUTION
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=-1)
    ### END SOLUTION


result_kl = check("04.kl_standard_normal", kl_to_prior)

# %% [markdown]
# Use it: compare with a Monte Carlo estimate $\frac1n\sum\log q(z)-\log p(z)$, $z\sim q$.

# %%
kl_fn = result_kl.choose(kl_to_prior)
mu_q = torch.tensor([[0.5, -1.0, 0.2]], dtype=torch.float64)
logvar_q = torch.tensor([[-1.0, 0.3, 0.0]], dtype=torch.float64)
z = mu_q + (0.5 * logvar_q).exp() * torch.randn(100_000, 3, dtype=torch.float64)
log_ratio = log_normal(z, mu_q, logvar_q) - log_normal(z, 0.0, 0.0)
print(f"closed form {kl_fn(mu_q, logvar_q).item():.4f}")
print(f"Monte Carlo {log_ratio.mean():.4f} ± {log_ratio.std() / math.sqrt(len(z)):.4f}")

# %% [markdown]
# ## Exercise 4 — the VAE loss (10 points)
#
# One sample $z\sim q(z\mid x)$ has already been decoded into Bernoulli logits $a$. Return the
# batch mean of the negative ELBO
# $$-\mathcal L(x) = \underbrace{\sum_j \big[\mathrm{softplus}(a_j) - x_j a_j\big]}_{-\log p(x\mid z)}
#   \;+\; \mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big).$$
# Shapes: `x`, `logits` `[N, D]`; `mu`, `logvar` `[N, d]`. You may use your `kl_to_prior`.
# A confident decoder has logits of thousands: the loss must stay finite for any logits
# (the `softplus` form does; `log(sigmoid(a))` does not).


# %%
def negative_elbo(x, logits, mu, logvar):
    ### BEGIN SOLUTION
    nll = (torch.nn.functional.softplus(logits) - x * logits).sum(dim=1)
    return (nll + kl_fn(mu, logvar)).mean()
    ### END SOLUTION


result_elbo = check("04.negative_elbo", negative_elbo)

# %% [markdown]
# Use it: train a small VAE on binarised digits with *your* loss and report its test ELBO.

# %%
loss_fn = result_elbo.choose(negative_elbo)


def objective(model, batch):
    x, _ = batch
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar)
    return loss_fn(x, model.decoder(z), mu, logvar)


rng.seed_everything(0)
model = vae.make_vae(64, latent_dim=8, hidden=(128,))
fit(
    model,
    objective,
    digits_loader("train", "binary"),
    steps=config.pick(2000, 300),
    lr=3e-3,
    progress=False,
)
model = model.cpu().eval()
x_test, y_test = digits("test", "binary")
with torch.no_grad():
    print(f"test ELBO: {vae.elbo(model, x_test)['elbo'].mean():.2f} nats per digit")

# %% [markdown]
# ## Exercise 5 — the VAE's training step (eq. 17.13, 17.16, 20 points)
#
# Now the whole algorithm. Write `vae_step(model, optimizer, x, eps)` that performs **one**
# gradient step of a Bernoulli VAE on a batch of binary digits `x` `[N, D]` and returns the
# loss (before the step) as a Python float:
#
# 1. encode: `mu, logvar = model.encode(x)`, each `[N, d]`;
# 2. reparameterise with the given standard-normal noise `eps` `[N, d]`:
#    $z = \mu + \sigma\odot\varepsilon$ with $\sigma = e^{\ell/2}$, so that the gradient reaches
#    the encoder *through* the sample;
# 3. decode: `model.decoder(z)` returns the Bernoulli logits $a$ `[N, D]`;
# 4. the loss is your `negative_elbo` of exercise 4: $-\log p(x\mid z)$ summed over the
#    pixels plus the closed-form $\mathrm{KL}(q(z\mid x)\,\|\,\mathcal N(0, I))$, averaged
#    over the batch (you may call `loss_fn`, the version of it that passed its check);
# 5. clear the gradients of the previous step, back-propagate, step the optimiser.
#
# The check grades the loss you return and the model's parameters after your step, on small
# models with gradients left over from an earlier step.


# %%
def vae_step(model, optimizer, x, eps):
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    loss = loss_fn(x, model.decoder(z), mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


result_step = check("04.vae_step", vae_step)

# %% [markdown]
# Use it: train a VAE with a **2-dimensional** code on the binarised digits with *your* step
# (the reference until yours passes), drawing the noise `eps` for every batch, and keep the
# posterior means $\mu(x)$ of the test digits at a few epochs along the way.

# %%
step_fn = result_step.choose(vae_step)
rng.seed_everything(0)
vae_2d = vae.make_vae(64, latent_dim=2, hidden=(128,))
optimizer = torch.optim.Adam(vae_2d.parameters(), lr=3e-3)
loader = digits_loader("train", "binary", batch_size=64, seed=0)
noise = rng.generator(2)
epochs = config.pick(100, 10)
snapshot_epochs = sorted({1, epochs // 5, epochs})
with torch.no_grad():
    snapshots = {0: vae_2d.encode(x_test)[0]}
epoch_losses = []
for epoch in range(1, epochs + 1):
    losses = [
        step_fn(vae_2d, optimizer, x, torch.randn(len(x), 2, generator=noise)) for x, _ in loader
    ]
    epoch_losses.append(sum(losses) / len(losses))
    if epoch in snapshot_epochs:
        with torch.no_grad():
            snapshots[epoch] = vae_2d.encode(x_test)[0]
vae_2d.eval()
with torch.no_grad():
    test_elbo = vae.elbo(vae_2d, x_test)["elbo"].mean()
print(
    f"training loss (-ELBO): epoch 1 {epoch_losses[0]:.2f}, epoch {epochs} {epoch_losses[-1]:.2f}"
)
print(f"test ELBO after {epochs} epochs: {test_elbo:.2f} nats per digit")

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(range(1, epochs + 1), epoch_losses, marker="o", ms=3)
ax.set(xlabel="epoch", ylabel="training loss -ELBO (nats per digit)", title="your VAE step at work")
plt.tight_layout()
plt.show()

lim = 1.05 * max(float(z.abs().max()) for z in snapshots.values())
fig, axes = plt.subplots(1, len(snapshots), figsize=(3.3 * len(snapshots) + 1, 3.5))
for ax, (epoch, z) in zip(axes, snapshots.items()):
    viz.latent_scatter(z, y_test, ax=ax, title=f"after {epoch} epoch{'' if epoch == 1 else 's'}")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    ax.get_legend().remove()
axes[-1].legend(*axes[-1].get_legend_handles_labels(), title="digit", loc="upper left",
                bbox_to_anchor=(1.02, 1), fontsize="small")  # fmt: skip
fig.suptitle("posterior means μ(x) of the test digits over training")
plt.tight_layout()
plt.show()

with torch.no_grad():
    reconstructions = vae_2d(x_test[:10])
    samples = vae_2d.sample(10, rng.generator(3))
viz.compare_rows(
    {"test digit": x_test[:10], "reconstruction": reconstructions, "sample, z ~ N(0, I)": samples},
    vmin=0,
    vmax=1,
)
plt.show()

# %% [markdown]
# ## Exercise 6 — active units (10 points)
#
# Given the posterior means $\mu(x_n)$ of $N$ inputs as a matrix `mu` `[N, d]`, return how many
# units $u$ are *active* (Burda et al. 2016): $\mathrm{Var}_n\big(\mu_u(x_n)\big) > $ `threshold`.
# Return a Python `int`.


# %%
def count_active_units(mu, threshold):
    ### BEGIN SOLUTION
    return int((mu.var(dim=0) > threshold).sum())
    ### END SOLUTION


result_au = check("04.active_units", count_active_units)

# %% [markdown]
# Use it on the VAE you just trained (it should agree with `edu_gen.models.vae.active_units`).

# %%
au_fn = result_au.choose(count_active_units)
with torch.no_grad():
    mu_test = model.encode(x_test)[0]
print("active units (yours):  ", au_fn(mu_test, 1e-2), "of", mu_test.shape[1])
print("active units (package):", vae.active_units(model, x_test)[0])
