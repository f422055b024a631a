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
# # 10b · Exercises: mixed-type encoding, information loss, one DP-SGD step
#
# Three graded exercises (10 points each). Each asks for one equation of the chapter; after
# `check`, the notebook *uses* your function (or the reference, if yours is not finished yet).
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
from edu_gen.data.tables import fair, train_test_split_table
from edu_gen.tabular import metrics, privacy
from edu_gen.tabular.encoding import TableEncoder
from edu_gen.tabular.synthesizers import Discriminator, discriminator_features

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
train, _ = train_test_split_table(frame, 0.2, seed=0)
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
