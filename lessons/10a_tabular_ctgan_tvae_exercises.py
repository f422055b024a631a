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
# Five graded exercises on the pieces that make a GAN work on tables (Xu et al. 2019): four
# warm-ups of 10 points, then the central one (20 points), CTGAN's conditional generator
# loss, which the notebook then plugs into CTGAN's training. Write
# your code where it says `raise NotImplementedError`, then run the `check(...)` cell under
# it: it runs randomised tests against the reference implementation and prints your points,
# with a hint when your answer matches a common mistake. Later cells use your function once
# it passes (the reference until then).
#
# Exercise 1 uses NumPy arrays, exercises 2-5 as stated; no loops over rows are needed.
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

from edu_gen.core import config, rng
from edu_gen.course.claims import claim
from edu_gen.course.grading import check
from edu_gen.data import tables
from edu_gen.models import gan
from edu_gen.tabular.encoding import (
    ALPHA_LIMIT,
    ConditionalSampler,
    DataTransformer,
    mode_denormalize,
)
from edu_gen.tabular.synthesizers import CTGAN, Discriminator, frozen

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

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 5 — the conditional generator loss (20 points)
#
# CTGAN's generator receives a condition "discrete column $j^*$ has category $k^*$" with every
# row (Exercise 3's `cond`) and pays, besides the critic's verdict, a cross-entropy that makes
# the conditioned column of the generated row take the conditioned category (Xu et al. 2019,
# sec. 4.3):
#
# $$L_{\text{cond}} = \frac1B\sum_{i=1}^{B}\sum_{j=1}^{J} m_{ij}\,
#   \Big(-\log\operatorname{softmax}\big(\ell_{i,\,\text{span}_j}\big)_{k_{ij}}\Big),$$
#
# where, for row $i$:
#
# * `logits` `[B, D]` are the generator's **raw outputs** $\ell_i$ for the whole encoded row,
#   before any activation (numeric columns' $\alpha$ entries sit between the one-hot spans);
# * `spans` is a list of `(start, end)` pairs, one per discrete column $j$ in the order of the
#   conditional vector: column $j$'s logits are `logits[:, start:end]`;
# * `cond` `[B, sum of widths]` is the conditional vector: the blocks of the columns side by
#   side (block $j$ has width `end - start` and starts at the sum of the widths before it),
#   with a single 1 per row; $m_{ij} = 1$ if row $i$'s 1 lies in block $j$ (the mask of
#   Exercise 3) and $k_{ij}$ is its position inside that block.
#
# Only the conditioned column pays; the other discrete columns of the row are left to the
# critic. Return a 0-d tensor (keep the gradient to `logits`). Logits can be large (10³ and
# more): use a log-softmax or `F.cross_entropy`, never the log of a softmax.


# %%
def conditional_generator_loss(logits, cond, spans):
    ### BEGIN SOLUTION
    total = torch.zeros((), dtype=logits.dtype)
    offset = 0
    for start, end in spans:
        block = cond[:, offset : offset + end - start]
        ce = F.cross_entropy(logits[:, start:end], block.argmax(1), reduction="none")
        total = total + (ce * block.sum(1)).sum()
        offset += end - start
    return total / len(logits)
    ### END SOLUTION


result_cond_loss = check("10a.conditional_generator_loss", conditional_generator_loss)

# %% [markdown] slideshow={"slide_type": "slide"}
# **Use it: CTGAN trained with your loss.** The subclass below is the package's `CTGAN` with
# one change: its generator's loss is $-\mathbb E[D(\hat r, c)] + w\,L_{\text{cond}}$ with
# *your* $L_{\text{cond}}$ (the spans are the transformer's `discrete_spans`, the order in
# which the sampler builds `cond`). We train it twice on the `fair` survey, with the penalty
# ($w = 1$, as in the paper) and without it ($w = 0$), with the same seed and budget, and then
# ask each generator for rows under 4,000 conditions drawn with the real frequencies: how
# often does the generated row's conditioned column hold the conditioned category?
#
# The black marks show what a generator that *ignores* its condition would score: it draws
# column $j$'s category from the real marginal $p_j$, so it matches a condition drawn from the
# same marginal with probability $\sum_k p_{jk}^2$.

# %%
cond_loss_fn = result_cond_loss.choose(conditional_generator_loss)
device = config.get_device()


class CTGANWithYourLoss(CTGAN):
    """CTGAN whose generator pays ``weight`` × ``cond_loss(logits, cond, spans)``."""

    def __init__(self, table_schema, cond_loss, weight, **settings):
        super().__init__(table_schema, **settings)
        self.cond_loss, self.weight = cond_loss, weight

    def phases(self, data, epochs):
        plan = super().phases(data, epochs)
        spans = [(s.start, s.end) for s in self.transformer.discrete_spans]

        def generator_loss(net, batch):
            cond = batch["cond"]
            z = torch.randn(len(cond), net.embedding_dim, device=cond.device)
            logits, fake = net.generate(z, cond)
            with frozen(net.discriminator):  # the critic's weights do not move here
                score = net.discriminator(torch.cat([fake, cond], dim=1)).mean()
            ce = self.cond_loss(logits, cond, spans)
            return {"loss": -score + self.weight * ce, "cond_ce": ce.detach()}

        plan[-1].objective["generator"].loss_fn = generator_loss
        return plan


@torch.no_grad()
def honoured(model, n=4000, seed=1):
    """Per conditioned column: the share of generated rows whose column holds the condition."""
    g = torch.Generator().manual_seed(seed)
    c = model.sampler.sample_generation(n, generator=g)  # real frequencies
    z = torch.randn(n, model.net.embedding_dim, generator=g)
    gumbel = model.net.activation.gumbel_noise(n, g)
    model.net.eval()
    _, rows = model.net.generate(z.to(device), c.cond.to(device), gumbel.to(device), hard=True)
    starts = torch.tensor([s.start for s in model.transformer.discrete_spans])
    hit = rows.cpu()[torch.arange(n), starts[c.span] + c.category] == 1
    return np.array([float(hit[c.span == j].float().mean()) for j in range(len(starts))])


train_fair, _ = tables.train_test_split_table(frame, test_size=0.3, seed=0)
cond_epochs = config.pick(60, 10)
runs = {}
for weight in (1.0, 0.0):
    runs[weight] = CTGANWithYourLoss(
        schema,
        cond_loss_fn,
        weight,
        embedding_dim=64,
        generator_dims=(128, 128),
        discriminator_dims=(128, 128),
        lr=1e-3,
        seed=0,
        device=device,
    ).fit(train_fair, epochs=cond_epochs, progress=False)
columns = [s.column for s in runs[1.0].transformer.discrete_spans]
honour = pd.DataFrame({f"w = {w:g}": honoured(m) for w, m in runs.items()}, index=columns)
real_freq = runs[1.0].sampler.frequencies(log_frequency=False)
honour["ignoring the condition"] = [float((p**2).sum()) for p in real_freq]
honour.round(3)

# %%
x = np.arange(len(columns))
fig, ax = plt.subplots(1, 2, figsize=(12, 3.6))
ax[0].bar(x - 0.2, honour["w = 1"], width=0.4, label="with the penalty (w = 1)")
ax[0].bar(x + 0.2, honour["w = 0"], width=0.4, label="without it (w = 0)")
ax[0].scatter(x, honour["ignoring the condition"], color="k", marker="_", s=400, zorder=3,
              label="a generator that ignores the condition")  # fmt: skip
ax[0].set_xticks(x, columns, rotation=30, ha="right")
ax[0].set_yticks(np.linspace(0, 1, 6))
ax[0].set(
    xlabel="conditioned column",
    ylabel="share of rows that honour it",
    ylim=(0, 1.3),
    title=f"conditions honoured after {cond_epochs} epochs",
)
ax[0].legend(fontsize=7, loc="upper center", ncol=2)
for w, model in runs.items():
    ce = model.losses()["cond_ce"]
    ax[1].plot(ce.index, ce, label=f"w = {w:g}")
ax[1].set(xlabel="epoch", ylabel="your conditional loss (per-epoch mean, nats)",
          title="the penalty during training")  # fmt: skip
ax[1].legend()
plt.tight_layout()
plt.show()
claim(
    "with the conditional loss the generator honours its conditions far more often than "
    "without it (mean share over the columns higher by > 0.2)",
    honour["w = 1"].mean() > honour["w = 0"].mean() + 0.2,
    with_loss=honour["w = 1"].mean(),
    without=honour["w = 0"].mean(),
    ignoring_the_condition=honour["ignoring the condition"].mean(),
)

# %% [markdown]
# What to look for: without the penalty the generator honours its conditions about as often
# as one that ignores them (the orange bars sit near the black marks) — the critic sees each
# row next to its condition and could in principle teach the link, but that signal is weak
# and slow. With the penalty, the loss on the
# right falls within a few epochs and most generated rows obey their condition; this is what
# makes `sample(condition=...)` in the lesson work, and why training-by-sampling can show rare
# categories to the generator at all.
