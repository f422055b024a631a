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
# # 10a (part 1) · Tabular data: five difficulties, mode-specific normalisation, the conditional vector
#
# A table looks simple — rows and columns — but a generator for it has to produce, in one
# row, numbers with several modes, numbers that are mostly exactly zero, and labels of which
# some occur once in a hundred rows. Chapter 10a takes the two models of Xu et al. (2019), a
# conditional GAN (CTGAN) and a tabular VAE (TVAE), apart piece by piece. This first part
# builds the pieces that turn a table into something a network can generate; the second part
# (`10a_tabular_ctgan_tvae`) trains CTGAN and TVAE with them and evaluates the results.
#
# **In this part**
# 1. the data: the `fair` survey and a simulated mixed-type table, with a schema that says
#    what each column is;
# 2. the five difficulties of tabular GANs, each measured on the data before it is fixed;
# 3. mode-specific normalisation with a variational Gaussian mixture, and its exact inverse;
# 4. the conditional vector and training-by-sampling.
#
# References: Xu, Skoularidou, Cuesta-Infante & Veeramachaneni (2019), *Modeling tabular data
# using conditional GAN* (NeurIPS); Lin, Khetan, Fanti & Oh (2018), *PacGAN: the power of two
# samples in generative adversarial networks*; Gulrajani et al. (2017), *Improved training of
# Wasserstein GANs*; Kingma & Welling (2014), *Auto-encoding variational Bayes*; Jang, Gu &
# Poole (2017), *Categorical reparameterization with Gumbel-softmax*; Zhao, Kunar, Birke & Chen
# (2021), *CTAB-GAN: effective table data synthesizing*; Fair (1978), *A theory of
# extramarital affairs* (the data).
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from scipy import stats
from scipy.special import logsumexp

from edu_gen.core import config, rng
from edu_gen.core.train import fit
from edu_gen.course import quiz
from edu_gen.course.claims import claim, claim_close
from edu_gen.data import tables
from edu_gen.data.tables.schema import Schema
from edu_gen.models import gan
from edu_gen.tabular.encoding import (
    ConditionalSampler,
    DataTransformer,
    category_probabilities,
    fit_modes,
    mode_log_responsibilities,
)

SEED = 0
rng.seed_everything(SEED)
device = config.get_device()
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data: `fair`
#
# Fair's (1978) survey of 6,366 women, bundled with statsmodels (no download). Every column
# has a *kind* in the schema (`edu_gen.data.tables.schema`), and the kind decides how a generator
# must produce it. The kinds are chosen by hand, for the reasons in the last column; the
# ML task of this chapter is to predict "had an affair" (`affairs > 0`) from the other
# columns (`tables.FAIR_TASK`).

# %%
frame, schema = tables.fair()
WHY = {
    "rate_marriage": "a 1-5 rating: ordered labels whose spacing means nothing",
    "age": "a quantity, but stored as the midpoints of 6 age bins: a spiky, multimodal column",
    "yrs_married": "years married, also stored as bin midpoints (7 values)",
    "children": "a count top-coded at 5.5 ('five or more'): six ordered levels",
    "religious": "a 1-4 rating",
    "educ": "schooling levels coded by typical years (9 ... 20): ordered levels",
    "occupation": "unordered job groups; 'student' is 0.64% of the rows",
    "occupation_husb": "the husband's job group, unordered",
    "affairs": "time spent in affairs: 68% exact zeros, then a long tail (a point mass at 0)",
}
overview = pd.DataFrame(
    {
        "kind": [c.kind for c in schema],
        "distinct": [frame[c.name].nunique() for c in schema],
        "point masses": [", ".join(map(str, c.point_masses)) for c in schema],
        "why this kind": [WHY[c.name] for c in schema],
    },
    index=schema.names,
)
display(frame.head(4))
with pd.option_context("display.max_colwidth", None):  # the reasons in full
    display(overview)

# %% [markdown]
# The schema is explicit because a guess from the values alone goes wrong here:
# `Schema.infer` calls every column with at most 20 distinct values categorical — including
# `age` and `yrs_married` — and has no way to know that `rate_marriage` is ordered.
# We split the rows once, 70 % for training every model and 30 % held out for evaluation.

# %%
guessed = Schema.infer(frame)
print("inferred kinds that differ from the declared ones:")
for c in schema:
    if guessed[c.name].kind != c.kind:
        print(f"  {c.name:15s} declared {c.kind:11s} inferred {guessed[c.name].kind}")
train, test = tables.train_test_split_table(frame, test_size=0.3, seed=0)
print(
    f"train {len(train)} rows, test {len(test)} rows; duplicated rows in fair: "
    f"{frame.duplicated().mean():.1%}"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data: a simulated mixed-type table
#
# `tables.mixed()` draws rows from a known generative story with every difficulty at once: a
# hidden mode $z$ makes `amount` trimodal and drives `segment`; `spend` is 0 in 45 % of the
# rows and log-normal otherwise; `channel` has a rare value (`phone`, 0.8 %); `rating` is
# ordinal; `label` is a binary target. With `missing=0.05` a twentieth of `spend` is NaN —
# the transformer must give those back as NaN.

# %%
mixed_table = tables.mixed(missing=0.05)
mixed_frame = mixed_table.sample(10_000, seed=0)
print({c.name: c.kind for c in mixed_table.schema})
mixed_frame.head(4)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Five difficulties (Xu et al. 2019, sec. 3)
#
# 1. **mixed types** — one row holds numbers, ordered levels and labels;
# 2. **non-Gaussian numbers** — point masses and long tails;
# 3. **multimodal numbers** — one column, several bumps;
# 4. **sparse one-hot vectors** — what a discriminator sees of a label;
# 5. **imbalanced categories** — rare labels almost never show up in a batch.
#
# Each is measured below on the data, before its remedy.
#
# **1 · Mixed types.** A network outputs a vector of real numbers. A label stored as a code
# (occupation 1 ... 6) and treated as a number gets an order and distances that do not exist,
# and a generated 3.4 is no occupation at all. So each kind gets its own encoding and its
# own output activation: a one-hot vector and a softmax for a label, a scaled scalar and a
# $\tanh$ for a number (section *mode-specific normalisation*). A real row of `fair` becomes
# a vector of this width:

# %%
transformer = DataTransformer(schema, seed=0).fit(train)
layout = pd.DataFrame(
    [(s.column, s.role, s.activation, s.width) for s in transformer.output_info],
    columns=["column", "role", "activation", "width"],
)
print(f"one row of fair → {transformer.output_dim} numbers")
layout.groupby("column", sort=False).agg(roles=("role", "+".join), width=("width", "sum")).T

# %% [markdown] slideshow={"slide_type": "slide"}
# **2 · Non-Gaussian numbers.** `affairs` is exactly 0 in two rows out of three, and the
# rest forms a long tail up to 57.6. Scaled to mean 0 and variance 1 and fed to a generator
# with Gaussian-like outputs, it is badly described: a normal distribution with the same
# mean and standard deviation puts a third of its mass on *negative* values that cannot
# occur, and a continuous density gives the single value 0 probability zero, whereas the data
# put two thirds of their mass there.

# %%
affairs = train["affairs"].to_numpy()
share_zero = float((affairs == 0).mean())
p_negative = float(stats.norm.cdf(0.0, affairs.mean(), affairs.std()))
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
ax[0].bar(["= 0", "> 0"], [share_zero, 1 - share_zero])
ax[0].set(
    xlabel="affairs", ylabel="share of training rows", title="affairs: exact zeros vs the rest"
)
ax[1].hist(affairs[affairs > 0], bins=60, density=True, alpha=0.7, label="affairs > 0")
grid_x = np.linspace(-6, 20, 400)
ax[1].plot(grid_x, stats.norm.pdf(grid_x, affairs.mean(), affairs.std()), "r", label="normal fit")
ax[1].set(
    xlim=(-6, 20),
    xlabel="affairs",
    ylabel="density",
    title="the tail, and a normal with the same mean and std",
)
ax[1].legend()
plt.show()
claim(
    "affairs is a point mass plus a tail: ≥ 60% exact zeros, skewness > 5, and a matching "
    "normal puts > 25% of its mass on impossible negative values",
    (share_zero > 0.6) & (stats.skew(affairs) > 5) & (p_negative > 0.25),
    share_zero=share_zero,
    skewness=stats.skew(affairs),
    normal_mass_below_0=p_negative,
)

# %% [markdown]
# The remedy (Zhao et al. 2021, CTAB-GAN's mixed-type encoding, used by the transformer here
# for columns declared `mixed`): each declared point mass becomes a *mode of its own* in the
# mode indicator, so "exactly 0" is a label the generator chooses, and only the other values
# go through the mixture of the next difficulty.
#
# **3 · Multimodal numbers.** `amount` of the mixed table has three bumps. A single normal
# (what min-max or z-scaling implicitly assumes) smears them into one; a variational Gaussian
# mixture (scikit-learn's `BayesianGaussianMixture` with a Dirichlet-process prior, via
# `fit_modes`) is given up to 10 components and switches off most of the ones it does not
# need: a few may survive with a tiny weight (the printed weights), but the large components
# sit on the three bumps. We compare the two fits on held-out rows by the average
# log-likelihood.

# %%
amount = mixed_frame["amount"].to_numpy()
amount_fit, amount_test = amount[:8000], amount[8000:]
means, stds, weights, _, _ = fit_modes(amount_fit, max_modes=10, seed=0)
ll_mixture = logsumexp(
    stats.norm.logpdf(amount_test[:, None], means, stds) + np.log(weights), axis=1
).mean()
ll_normal = stats.norm.logpdf(amount_test, amount_fit.mean(), amount_fit.std()).mean()
big = weights > 0.1
found = np.sort(means[big])
print(f"{len(means)} modes kept; weights {np.round(weights, 3)}")
print(f"modes with weight > 0.1: means {np.round(found, 2)}, true {mixed_table.mode_means}")

xs = np.linspace(amount.min(), amount.max(), 500)
mix_pdf = (weights * stats.norm.pdf(xs[:, None], means, stds)).sum(1)
plt.figure(figsize=(6, 3.2))
plt.hist(amount_fit, bins=80, density=True, alpha=0.5, label="amount")
plt.plot(xs, stats.norm.pdf(xs, amount_fit.mean(), amount_fit.std()), "r", label="one normal")
plt.plot(xs, mix_pdf, "k", label="variational mixture")
plt.xlabel("amount")
plt.ylabel("density")
plt.legend()
plt.show()
claim(
    "the variational mixture finds the three true modes (means within 0.2) and beats one "
    "normal by > 0.2 nats per held-out value",
    (big.sum() == 3)
    & bool(np.abs(found - np.sort(mixed_table.mode_means)).max() < 0.2)
    & (ll_mixture - ll_normal > 0.2),
    modes_found=found,
    loglik_mixture=ll_mixture,
    loglik_one_normal=ll_normal,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# **4 · Sparse one-hot vectors.** A real `occupation` is a one-hot vector: one 1, five 0s. A
# generator ending in a softmax outputs probabilities, never exact 0s and 1s. Even a generator
# that is *perfect in distribution* — every row the vector of the true frequencies — is told
# apart at once: the discriminator only has to notice that the largest entry is not 1. We
# train a small discriminator (held-out accuracy, 0.5 = cannot tell) against three fakes of
# the same column:
#
# * **softmax** — every row the true frequency vector;
# * **Gumbel-softmax** (Jang et al. 2017) — $\mathrm{softmax}((\log p + g)/\tau)$ with
#   Gumbel noise $g$ and $\tau = 0.2$, CTGAN's output for a label: a *random*, nearly one-hot
#   vector whose argmax has law $p$, and through which gradients still flow;
# * **exact samples** — one-hot draws from $p$, the same law as the data (the 0.5 reference).

# %%
occ_span = transformer.spans_of("occupation")[0]
encoded_train = torch.from_numpy(transformer.transform(train))
real_onehot = encoded_train[:, occ_span.start : occ_span.end]
p_occ = real_onehot.mean(0)
n_rows = len(real_onehot)
g = torch.Generator().manual_seed(SEED)
gumbel = -torch.empty(n_rows, occ_span.width).exponential_(generator=g).log()
fakes = {
    "softmax": p_occ.expand(n_rows, -1).clone(),
    "Gumbel-softmax τ=0.2": torch.softmax((p_occ.log() + gumbel) / 0.2, dim=1),
    "exact samples": torch.eye(occ_span.width)[
        torch.multinomial(p_occ, n_rows, replacement=True, generator=g)
    ],
}
order = torch.randperm(n_rows, generator=g)
fit_rows, held_rows = order[: n_rows // 2], order[n_rows // 2 :]


def discriminator_accuracy(fake: torch.Tensor) -> float:
    """Held-out accuracy of a small MLP trained to tell real one-hots from ``fake``."""
    torch.manual_seed(SEED)
    disc = gan.mlp(occ_span.width, 1, hidden=(32,))
    fit(
        disc,
        lambda m, b: gan.discriminator_loss(m(b[0]).squeeze(-1), m(b[1]).squeeze(-1)),
        [(real_onehot[fit_rows], fake[fit_rows])],
        steps=config.pick(150, 100),
        lr=1e-2,
        device=config.toy_device(),
        progress=False,
    )
    with torch.no_grad():
        real_ok = (disc(real_onehot[held_rows]).squeeze(-1) > 0).float().mean()
        fake_ok = (disc(fake[held_rows]).squeeze(-1) < 0).float().mean()
    return float(0.5 * (real_ok + fake_ok))


accuracy = {name: discriminator_accuracy(f) for name, f in fakes.items()}
for name, f in fakes.items():
    gap = float((1 - f.max(1).values).mean())
    print(f"{name:22s} 1 − largest entry {gap:.3f}   discriminator accuracy {accuracy[name]:.3f}")
claim(
    "a discriminator separates softmax outputs from real one-hots (accuracy > 0.95), "
    "Gumbel-softmax outputs much less well (< 0.9), exact samples not at all (< 0.6)",
    (accuracy["softmax"] > 0.95)
    & (accuracy["Gumbel-softmax τ=0.2"] < 0.9)
    & (accuracy["exact samples"] < 0.6),
    **{k.split(" ")[0]: v for k, v in accuracy.items()},
)

# %% [markdown] slideshow={"slide_type": "slide"}
# **Packing** (Lin et al. 2018) attacks a related weakness: a generator that outputs the
# *same* valid row again and again. One row at a time, such a row is perfectly realistic; a
# discriminator that sees `pac` rows at once (`gan.pack`) sees that they never differ. For
# two simple generators of `occupation` the best possible discriminator's accuracy is exact:
# $\tfrac12(1 + \mathrm{TV})$ with the total-variation distance between $\texttt{pac}$-fold
# products. A generator *collapsed* onto the most frequent label is caught almost surely
# from packs of 10; a generator that merely *drops* the 0.6 % students stays almost invisible
# even then — packing does not solve the rare-category problem, which is the next difficulty.

# %%
p_student = float(p_occ[transformer.categories("occupation").index("student")])
p_top = float(p_occ.max())
rows = []
for pac in (1, 10):
    rows.append(
        {
            "pac": pac,
            "collapsed onto the top label": 0.5 * (1 + 1 - p_top**pac),
            "drops 'student'": 0.5 * (1 + 1 - (1 - p_student) ** pac),
        }
    )
best_accuracy = pd.DataFrame(rows).set_index("pac")
best_accuracy.round(4)

# %% [markdown]
# ### Check your understanding

# %%
quiz.choice(
    "A generator's softmax output for `occupation` is, in every row, exactly the vector of the "
    "true category frequencies. Why does a discriminator still tell it from real rows at once?",
    [
        "it cannot: the output has the right distribution, so the best accuracy is 0.5",
        "real rows are exact one-hots, so a largest entry below 1 gives every fake away",
        "the frequencies are estimated from the training rows, so they are slightly off",
        "softmax outputs are not differentiable, so the generator cannot improve",
    ],
    answer=1,
    why="Every real row has one entry equal to 1 and the rest 0; the frequency vector never "
    "does. The discriminator needs no knowledge of the distribution, only of the form of a "
    "single row. Gumbel-softmax outputs are close to one-hot and hide this much better; exact "
    "one-hot samples hide it completely.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# **5 · Imbalanced categories.** 27 of the 4,456 training rows are students. A batch of 500
# rows drawn uniformly holds 3 of them on average, and 1 batch in 20 holds none: the
# generator hardly ever hears about students, and the discriminator's penalty for missing
# them is tiny. We draw 400 such batches and count.

# %%
is_student = torch.as_tensor((train["occupation"] == "student").to_numpy())
g = torch.Generator().manual_seed(SEED)
uniform_batches = torch.randint(len(train), (400, 500), generator=g)
per_batch = is_student[uniform_batches].sum(1).float()
print(
    f"students per uniform batch of 500: mean {per_batch.mean():.2f}, "
    f"batches with none {(per_batch == 0).float().mean():.1%}"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Mode-specific normalisation (Xu et al. 2019, sec. 4.2)
#
# Fit a variational Gaussian mixture $\sum_k w_k\,\mathcal N(\mu_k,\sigma_k^2)$ to a
# continuous column. For a value $x$, the mode responsibilities are
#
# $$\rho_k(x) = \frac{w_k\,\mathcal N(x;\mu_k,\sigma_k^2)}{\sum_j w_j\,\mathcal N(x;\mu_j,\sigma_j^2)}.$$
#
# Draw one mode $k\sim\rho(x)$ and store $x$ as two things: a one-hot *mode indicator*
# $\beta = e_k$ (a softmax span) and the position inside the mode
#
# $$\alpha = \frac{x - \mu_k}{4\sigma_k}\in[-0.99, 0.99]$$
#
# (a $\tanh$ span; $\pm 4\sigma$ covers the mode, and the clip keeps $\alpha$ inside what
# $\tanh$ can output). Decoding is $x = \mu_k + 4\sigma_k\alpha$: a generator now chooses a
# mode as a label and then a position inside a unimodal, roughly normal bump — both easy
# outputs for a network. A `mixed` column adds its point masses as extra modes with
# $\alpha = 0$, and a missing value is one more mode.
#
# On `amount`: the modes drawn for each value (colours), and $\alpha$ within each mode. What
# to look for: the transformer keeps every component whose weight exceeds 0.005 (Xu et al.'s
# rule, `weight_threshold`), and the variational mixture need not end with one component
# per bump — it may split a bump between two components with nearly the same mean. The
# table lists the kept modes with the true mode each sits on; the figure's colours then come
# in pairs on the split bumps, and a value there is drawn into either component by its
# responsibilities. That costs a wider mode indicator but loses nothing: decoding reads the
# drawn mode, so the round trip below stays exact.

# %%
mixed_transformer = DataTransformer(mixed_table.schema, seed=0).fit(mixed_frame)
encoded_mixed = mixed_transformer.transform(mixed_frame)
value_span, mode_span = mixed_transformer.spans_of("amount")
alpha = encoded_mixed[:, value_span.start]
drawn = encoded_mixed[:, mode_span.start : mode_span.end].argmax(1)
info = mixed_transformer.numeric_info("amount")

true_means = np.sort(mixed_table.mode_means)
nearest = np.abs(info.means[:, None] - true_means[None, :]).argmin(1)
by_mean = np.argsort(info.means)
print(
    pd.DataFrame(
        {
            "mean μ_k": info.means,
            "std σ_k": info.stds,
            "weight w_k": info.weights,
            "true mode it sits on": true_means[nearest],
            "rows drawn into it": np.bincount(drawn, minlength=len(info.means)),
        }
    )
    .iloc[by_mean]
    .round(3)
    .to_string()
)

fig, ax = plt.subplots(1, 2, figsize=(11, 3.4))
for k in by_mean:
    label = f"mode {k}: μ={info.means[k]:.2f}, w={info.weights[k]:.2f}"
    ax[0].hist(amount[drawn == k], bins=60, alpha=0.6, label=label)
    ax[1].hist(alpha[drawn == k], bins=40, alpha=0.6, label=f"mode {k}")
for m in true_means:
    ax[0].axvline(m, color="k", ls="--", lw=0.8)
ax[0].set(
    xlabel="amount",
    ylabel="rows",
    title=f"{len(info.means)} modes kept (dashed: the 3 true means)",
)
ax[0].legend(fontsize=7)
ax[1].set(xlabel="α = (x − μ_k) / (4σ_k)", ylabel="rows", title="α within each mode")
plt.tight_layout()
plt.show()

true_weights = np.asarray(mixed_table.mode_weights)[np.argsort(mixed_table.mode_means)]
weight_per_true = np.bincount(nearest, weights=info.weights, minlength=3)
claim(
    "every kept mode sits on one of the 3 true modes (within 0.3), and the modes on each "
    "true mode carry its weight (within 0.05)",
    bool(np.abs(info.means - true_means[nearest]).max() < 0.3)
    & bool(np.abs(weight_per_true - true_weights).max() < 0.05),
    modes_kept=len(info.means),
    weight_per_true_mode=weight_per_true,
    true_weights=true_weights,
)

rho = np.exp(mode_log_responsibilities(amount, info.means, info.stds, info.weights))
drawn_share = np.bincount(drawn, minlength=len(info.means)) / len(drawn)
claim_close(
    "the drawn modes follow the responsibilities: share of rows per mode = mean ρ_k",
    drawn_share,
    rho.mean(0),
    atol=0.015,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# The encoding loses nothing. Decoding reads the mode indicator (argmax), then
# $\mu_k + 4\sigma_k\alpha$ for a mixture mode, the point mass itself for a mass mode, and
# NaN for the missing-value mode. Categories come back exactly; a number comes back up to the
# float32 rounding of $\alpha$, i.e. within $4\sigma_k\cdot 2^{-24} < 10^{-6}\sigma_k$ of its
# mode's width. We check both on all of `fair` and on the mixed table with its NaNs.


# %%
def round_trip_errors(table_frame, table_schema, fitted):
    """(categoricals exact?, max |x̂ − x| / σ_k over numeric values, max |x̂ − x|, NaN kept?)."""
    encoded = fitted.transform(table_frame)
    back = fitted.inverse_transform(encoded)
    exact = all(
        back[c].equals(table_frame[c]) and back[c].dtype == table_frame[c].dtype
        for c in table_schema.discrete
    )
    rel, absolute, nan_kept = 0.0, 0.0, True
    for c in table_schema.numeric:
        x, x_hat = table_frame[c].to_numpy(float), back[c].to_numpy(float)
        nan_kept &= bool((np.isnan(x) == np.isnan(x_hat)).all())
        nums = fitted.numeric_info(c)
        modes = encoded[:, fitted.spans_of(c)[1].start : fitted.spans_of(c)[1].end].argmax(1)
        mix = (modes >= len(nums.point_masses)) & (modes < len(nums.point_masses) + len(nums.means))
        sigma = nums.stds[modes[mix] - len(nums.point_masses)]
        err = np.abs(x_hat - x)
        exact_elsewhere = bool(np.all(err[~mix & ~np.isnan(x)] == 0))
        rel = max(rel, float((err[mix] / sigma).max()) if exact_elsewhere else np.inf)
        absolute = max(absolute, float(np.nanmax(err)))
    return exact, rel, absolute, nan_kept


fair_full_transformer = DataTransformer(schema, seed=0).fit(frame)
fair_rt = round_trip_errors(frame, schema, fair_full_transformer)
mixed_rt = round_trip_errors(mixed_frame, mixed_table.schema, mixed_transformer)
print(
    f"fair : categoricals exact {fair_rt[0]}, max |x̂−x|/σ_k {fair_rt[1]:.2e}, "
    f"max |x̂−x| {fair_rt[2]:.2e}"
)
print(
    f"mixed: categoricals exact {mixed_rt[0]}, max |x̂−x|/σ_k {mixed_rt[1]:.2e}, "
    f"NaN kept {mixed_rt[3]}"
)
claim(
    "the transformer round-trips fair and the mixed table: categories (and dtypes) exactly, "
    "point masses and NaN exactly, numbers within 1e-6 σ_k",
    fair_rt[0] & mixed_rt[0] & mixed_rt[3] & (max(fair_rt[1], mixed_rt[1]) < 1e-6),
    fair_max_err_over_sigma=fair_rt[1],
    mixed_max_err_over_sigma=mixed_rt[1],
    fair_max_abs_err=fair_rt[2],
)

# %% [markdown]
# ### Check your understanding

# %%
quiz.number(
    "A value x = 3.2 is drawn into the mode with mean μ_k = 2 and standard deviation "
    "σ_k = 0.4. What is its α?",
    answer=0.75,
    why="α = (x − μ_k) / (4σ_k) = 1.2 / 1.6 = 0.75, inside [−0.99, 0.99], so no clipping. "
    "Decoding gives back μ_k + 4σ_k·α = 2 + 1.6·0.75 = 3.2.",
    tolerance=0.005,
)

# %%
quiz.choice(
    "Why does the encoding store a value as a mode indicator β plus α, instead of one "
    "number scaled to [−1, 1] by the column's min and max?",
    [
        "it needs fewer outputs than min-max scaling",
        "a multimodal column becomes a label (which bump) plus a position inside one roughly "
        "normal bump: both easy outputs for a network",
        "it makes the encoding exactly invertible, which min-max scaling is not",
        "α is always exactly normal, so a tanh can produce it",
    ],
    answer=1,
    why="Min-max scaling is invertible too and uses one output, but a generator must then "
    "shape several narrow bumps and the gaps between them with one tanh output. With β it "
    "picks the bump as a category, and α only has to place the value within a single mode "
    "(which is why α need not be exactly normal, only unimodal).",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The conditional vector and training-by-sampling (Xu et al. 2019, sec. 4.3)
#
# CTGAN's generator takes, next to the noise $z$, a **conditional vector**: all categories of
# all $J$ discrete columns side by side, with a single 1 at "column $j^*$ has category
# $k^*$", and a mask $m = e_{j^*}$ that says which column was chosen. The generator must then
# produce a row with $x_{j^*} = k^*$ (a cross-entropy term enforces it). In training, every
# row of a batch gets its condition by
#
# 1. a column $j^*$ uniformly among the $J$ discrete columns;
# 2. a category with probability $\propto \log(1 + n_{j^*k})$ — the **log-frequency**, which
#    flattens the imbalance (for `occupation`, students rise from 0.6 % to about 9.5 %);
# 3. and the critic's real row for that batch slot is drawn among the real rows that *have*
#    that category — so real and generated rows face the critic under the same conditions.
#
# When generating, the log-frequency would inflate rare categories, so conditions are drawn
# with the *real* frequencies $n_{jk}/N$: then $\sum_j\frac1J\sum_k\frac{n_{jk}}{N}\,p(x\mid
# x_j = k) = p(x)$ and a perfect conditional generator reproduces every marginal. The
# `ctgan` package instead draws a (column, category) pair with probability
# $\propto\log(1 + n)$ over all pairs, which asks for students far too often.

# %%
sampler = ConditionalSampler(encoded_train.numpy(), transformer.discrete_spans, seed=SEED)
columns = [s.column for s in sampler.spans]
occ = columns.index("occupation")
occ_counts = sampler.counts[sampler.offsets[occ] : sampler.offsets[occ + 1]]
print(
    pd.DataFrame(
        {
            "count": occ_counts,
            "real frequency": occ_counts / occ_counts.sum(),
            "log-frequency": category_probabilities(occ_counts),
        },
        index=transformer.categories("occupation"),
    ).round(4)
)
student_k = transformer.categories("occupation").index("student")
one = sampler.condition_on(occ, student_k, 1)
print("cond vector for occupation = student:", one.cond.int().tolist()[0])
print("mask:", one.mask.int().tolist()[0], "(columns:", columns, ")")

# %% [markdown]
# Checked on 60,000 draws with a chi-square test over every (column, category) cell: the
# training conditions follow $\frac1J\cdot\mathrm{logfreq}$, the generation conditions
# $\frac1J\cdot$ the real frequency — and, as a check that the test has power, the training
# draws clearly do *not* follow the real frequencies.


# %%
def cell_counts(condition) -> np.ndarray:
    return np.bincount(
        sampler.offsets[condition.span.numpy()] + condition.category.numpy(),
        minlength=sampler.cond_dim,
    )


def expected_cells(per_column: list[np.ndarray], n: int) -> np.ndarray:
    return n * np.concatenate(per_column) / sampler.n_spans


n_draws = 60_000
g = torch.Generator().manual_seed(SEED)
train_cells = cell_counts(sampler.sample_train(n_draws, generator=g))
gen_cells = cell_counts(sampler.sample_generation(n_draws, generator=g))
log_freq = sampler.frequencies(log_frequency=True)
real_freq = sampler.frequencies(log_frequency=False)
p_train = stats.chisquare(train_cells, expected_cells(log_freq, n_draws)).pvalue
p_gen = stats.chisquare(gen_cells, expected_cells(real_freq, n_draws)).pvalue
p_wrong = stats.chisquare(train_cells, expected_cells(real_freq, n_draws)).pvalue
claim(
    "training conditions follow log(1 + count) and generation conditions the real "
    "frequencies (chi-square p > 0.001); training vs real frequencies is rejected (p < 1e-10)",
    (p_train > 1e-3) & (p_gen > 1e-3) & (p_wrong < 1e-10),
    p_train_vs_logfreq=p_train,
    p_generation_vs_real=p_gen,
    p_train_vs_real=p_wrong,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# What this does to the students in a batch. A training batch's real rows are the rows that
# satisfy the conditions; a row is a student when `occupation` was the conditioned column
# and `student` its category, *or* when another column was conditioned and the drawn row
# happens to be a student. Both parts are exact sums over the counts:
#
# $$P(\text{student}) = \frac1J\sum_j\sum_k \mathrm{logfreq}_j(k)\,
#   P(\text{student}\mid x_j = k).$$
#
# We compare the formula with 400 batches of 500 from the sampler, and with uniform batches.

# %%
students_given = []  # P(student | x_j = k) for every (column, category) cell
for span in sampler.spans:
    codes = encoded_train[:, span.start : span.end].argmax(1)
    for k in range(span.width):
        students_given.append(float(is_student[codes == k].float().mean()))
expected_share = float(np.concatenate(log_freq) @ np.asarray(students_given) / sampler.n_spans)
g = torch.Generator().manual_seed(SEED)
sampled_rows = torch.stack([sampler.sample_train(500, generator=g).rows for _ in range(400)])
sampled_share = float(is_student[sampled_rows].float().mean())
uniform_share = float(is_student[uniform_batches].float().mean())
print(
    f"student share — uniform batches {uniform_share:.4f}, training-by-sampling "
    f"{sampled_share:.4f} (formula {expected_share:.4f}); batches with no student: "
    f"{(is_student[sampled_rows].sum(1) == 0).float().mean():.1%}"
)
claim_close(
    "training-by-sampling's student share matches the exact formula (±4 standard errors)",
    sampled_share,
    expected_share,
    atol=4 * np.sqrt(expected_share * (1 - expected_share) / sampled_rows.numel()),
)
claim(
    "training-by-sampling shows the generator at least 2× more students than uniform batches",
    sampled_share > 2 * uniform_share,
    ratio=sampled_share / uniform_share,
)
log_rule = sampler.sample_generation(n_draws, frequency="log", generator=g)
ask_log = float(((log_rule.span == occ) & (log_rule.category == student_k)).float().mean())
ask_real = gen_cells[sampler.offsets[occ] + student_k] / n_draws  # the real-frequency draws above
print(
    f"generation conditions asking for a student: ctgan package's log rule {ask_log:.2%}, "
    f"real-frequency rule {ask_real:.2%}"
)

# %% [markdown]
# ### Check your understanding

# %%
quiz.number(
    "A discrete column has the counts (1000, 100, 10, 0). With the log-frequency rule, with "
    "what probability does training condition on the category that occurs 10 times (given "
    "that this column was chosen)?",
    answer=0.1722,
    why="p = log(1 + 10) / (log 1001 + log 101 + log 11 + log 1) = 2.398 / (6.909 + 4.615 + "
    "2.398 + 0) = 0.172, against a real frequency of 10/1110 = 0.009: the rare category is "
    "shown about 19 times more often, and the empty one never.",
    tolerance=0.002,
)

# %%
quiz.choice(
    "At generation time CTGAN (here) draws the conditions with the real frequencies, not with "
    "the log-frequency used in training. What would go wrong with the log-frequency?",
    [
        "nothing: a conditional generator produces the same rows whatever the condition law",
        "the rare categories would appear far more often than in the data, distorting every "
        "marginal",
        "the generator would never have seen those conditions during training",
        "the conditional vector would no longer be one-hot",
    ],
    answer=1,
    why="The sampled rows' law is Σ_j (1/J) Σ_k P(condition j,k) p(x | x_j = k). With the "
    "real frequencies n_jk/N this sums to p(x); with log-frequencies it over-weights every "
    "rare category, so students, for one, would be far more common than in the data.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary of part 1
#
# * Tabular data needs a per-kind encoding: a one-hot vector per label; for numbers, a mode
#   indicator plus a scaled position $\alpha = (x-\mu_k)/(4\sigma_k)$ in a mode of a
#   variational Gaussian mixture — with point masses and missing values as modes of their
#   own. The encoding is exactly invertible.
# * A softmax output is told from a one-hot vector at once; Gumbel-softmax outputs much less
#   so. Packing catches a generator that repeats one row, not one that drops a rare label.
# * Rare categories need help twice: at training time the conditional vector and
#   training-by-sampling (log-frequency) show them to the generator; at generation time the
#   real frequencies keep them at their real rate.
# * Next, part 2 (`10a_tabular_ctgan_tvae`): CTGAN and TVAE built from these pieces, trained
#   on `fair`, and evaluated against baselines.
