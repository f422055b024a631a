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
# # 10b · CTAB-GAN and CTAB-GAN+: mixed columns, auxiliary losses, differential privacy
#
# Chapter 10a built CTGAN: mode-specific normalisation, the conditional vector with
# training-by-sampling, a packed WGAN-GP critic. CTAB-GAN keeps that skeleton and attacks
# three weaknesses; CTAB-GAN+ then adds a privacy guarantee.
#
# **In this chapter**
# 1. the *mixed-type encoder*: a column that is continuous except for point masses
#    (`fair.affairs` is exactly 0 for 68% of the rows) — point masses become modes of their
#    own, and CTGAN's conditional vector is extended to the modes of numeric columns;
# 2. two extra generator losses: the *information loss* (match the mean and standard
#    deviation of the discriminator's features) and the *auxiliary classifier* loss
#    (generated rows must be predictable like real rows), and what the classifier does to
#    logically impossible rows;
# 3. CTAB-GAN+: the Wasserstein loss with gradient penalty, the *general transform* for
#    single-mode columns, and **DP-SGD** on the discriminator (one step written out as a loop
#    over rows) with a Rényi-DP accountant:
#    exactly which parts of training read real rows and which of them the guarantee covers;
# 4. utility, similarity and distance to the closest record for CTGAN, CTAB-GAN and
#    CTAB-GAN+ at several privacy budgets $\varepsilon$.
#
# References: Zhao, Kunar, Birke & Chen (2021), *CTAB-GAN: effective table data
# synthesizing* (ACML); Zhao, Kunar, Birke, Chen & Chen (2022), *CTAB-GAN+: enhancing tabular
# data synthesis* (arXiv:2204.00401); Xu et al. (2019), *Modeling tabular data using
# conditional GAN*; Park et al. (2018), *Data synthesis based on generative adversarial
# networks* (table-GAN: the origin of the information and classifier losses); Gulrajani et
# al. (2017), *Improved training of Wasserstein GANs*; Abadi et al. (2016), *Deep learning
# with differential privacy*; Mironov (2017), *Rényi differential privacy*.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy.stats import ks_2samp, wasserstein_distance

from edu_gen.core import config, rng
from edu_gen.course import quiz, viz
from edu_gen.course.claims import claim
from edu_gen.data import tables
from edu_gen.data.tables import FAIR_TASK, Column, Schema, fair, fair_label, train_test_split_table
from edu_gen.tabular import metrics, privacy
from edu_gen.tabular.encoding import TableEncoder
from edu_gen.tabular.synthesizers import (
    COVERAGE,
    CTABGAN,
    CTGAN,
    CTABGANPlus,
    Discriminator,
    default_delta,
)

rng.seed_everything(0)
print(config.banner())
SEED = 0  # the claims below were checked for SEED = 0, 1, 2 in FAST mode

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data: a column with a point mass
#
# The Fair affairs survey (chapter 10a): ratings, two occupations, age and years married
# (recorded in bins), and `affairs`, the time spent in extramarital affairs — exactly 0 for
# most respondents and a long tail for the others. We train on 80% of the rows and keep 20%
# for testing (ML utility) and as the hold-out of the privacy check.

# %%
frame, schema = fair()
train, test = train_test_split_table(frame, 0.2, seed=0, stratify=fair_label(frame["affairs"]))
real_zero = float((train["affairs"] == 0).mean())
print(schema["affairs"])
print(f"train rows: {len(train)},  exact zeros in affairs: {real_zero:.1%}")
print(train["affairs"].describe().round(2).to_dict())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The mixed-type encoder
#
# Mode-specific normalisation (10a) fits a Gaussian mixture to a column and stores each
# value as a mode indicator $\beta$ plus a scaled offset $\alpha = (x - \mu_k)/(4\sigma_k)$.
# A spike at 0 would take one narrow mixture component, and a generator's $\tanh$ output
# would land *near* 0, almost never *at* 0. CTAB-GAN's **mixed-type encoder** gives every
# declared point mass its own mode with $\alpha = 0$; the other values go through the
# mixture. Decoding reads the mode first: a point-mass mode decodes to the exact value.
#
# So the indicator of `affairs` is [zero, mixture modes...]. CTAB-GAN also conditions on
# these mode indicators (not only on the categorical columns): the training sampler draws
# "affairs is in its tail mode 3" with the log-frequency rule, so rare parts of a long tail
# are trained on, and sampling uses the real frequencies.

# %%
encoder = TableEncoder(schema).fit(train)
encoded = encoder.transform(train)
value, mode = encoder.spans_of("affairs")
info = encoder.numeric_info("affairs")
print("affairs: point masses", info.point_masses, " mixture means", info.means.round(2))
rows = [0, 1, 2, 3, 4]
print(
    pd.DataFrame(
        {
            "affairs": train["affairs"].iloc[rows].round(3).to_numpy(),
            "mode": encoded[rows, mode.start : mode.end].argmax(1),
            "alpha": encoded[rows, value.start].round(3),
        }
    )
)
back = encoder.inverse_transform(encoded)
claim(
    "the mixed-type encoder returns every point mass exactly and the rest to 1e-5",
    bool(((back["affairs"] == 0) == (train["affairs"] == 0)).all())
    and float(np.abs(back["affairs"] - train["affairs"]).max()) < 1e-5,
    zeros=int((back["affairs"] == 0).sum()),
    max_error=float(np.abs(back["affairs"] - train["affairs"]).max()),
)

# %% [markdown]
# ### Check your understanding

# %%
quiz.choice(
    "With `affairs` declared continuous (one mixture, no point-mass mode), why does a "
    "generator almost never write an exact 0?",
    [
        "the mixture cannot put a component at 0",
        "a value is decoded as μ_k + 4σ_k·α from a tanh output α: hitting the one α that "
        "decodes to exactly 0 has probability zero",
        "the conditional vector never conditions on numeric columns",
        "the transformer clips α to [−0.99, 0.99]",
    ],
    answer=1,
    why="A continuous output lands on any single value with probability zero, however much "
    "mass the data put there. The mixed-type encoder turns 'exactly 0' into a mode — a "
    "category the generator *chooses* — and decodes that mode to the exact value.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Networks: MLPs, not convolutions
#
# Zhao et al. reshape each encoded row into a square matrix and use a convolutional
# generator and discriminator. edu_gen keeps CTGAN's MLPs (a residual generator, a packed
# MLP critic) and adds CTAB-GAN's losses to them: the losses are what the method is about,
# the MLPs are smaller and faster on a CPU, and the order of a table's columns is arbitrary,
# so the neighbourhoods a convolution exploits carry no meaning here.
#
# CTGAN, CTAB-GAN and CTAB-GAN+ below share sizes and budget (60 epochs in full mode; the
# privacy ladder at the end has its own, shorter one). CTAB-GAN uses its original loss (the
# non-saturating GAN loss), CTAB-GAN+ the Wasserstein loss with gradient penalty.

# %%
NETS = dict(
    embedding_dim=64,
    generator_dims=(128, 128),
    discriminator_dims=(128, 128),
    classifier_dims=(64,),
    classifier_epochs=5,
    batch_size=500,
    lr=1e-3,
)
EPOCHS = config.pick(60, 4)
N_SYN = config.pick(len(train), 2000)
# A single GAN run's marginals swing by several points from seed to seed, so the full run
# trains CTAB-GAN for three seeds and claims on their mean; FAST mode trains one.
SEEDS = config.pick((SEED, SEED + 1, SEED + 2), (SEED,))
CLASSIFIER = dict(classifier_target="yrs_married", classifier_weight=1.0)
models: dict[str, object] = {}
synthetic: dict[str, pd.DataFrame] = {}


def checkpoint_of(tag: str, seed: int) -> str:
    """Where a non-private run is saved, so re-running the notebook resumes instead of
    retraining (private runs are always trained afresh, under the accountant)."""
    return f"checkpoints/10b_{tag}_seed{seed}_{config.mode_name()}.pt"


def train_and_sample(name, model, epochs=EPOCHS, checkpoint=None):
    model.fit(train, epochs=epochs, checkpoint=checkpoint, progress=False)
    models[name] = model
    synthetic[name] = model.sample(N_SYN, seed=SEED)
    return synthetic[name]


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Does the point mass survive?
#
# Plain CTGAN with `affairs` declared *continuous* against CTAB-GAN with the mixed column
# (CTGAN's networks without the CTAB-GAN losses; same sizes and epochs). The classifier
# settings are explained two sections below.

# %%
ctgan_nets = {k: v for k, v in NETS.items() if not k.startswith("classifier")}
continuous = schema.override({"affairs": "continuous"})
train_and_sample(
    "CTGAN", CTGAN(continuous, seed=SEED, **ctgan_nets), checkpoint=checkpoint_of("ctgan", SEED)
)
ctabgan_runs = {}
for s in SEEDS:
    ctabgan_runs[s] = CTABGAN(schema, seed=s, **CLASSIFIER, **NETS)
    ctabgan_runs[s].fit(
        train, epochs=EPOCHS, checkpoint=checkpoint_of("ctabgan", s), progress=False
    )
ctabgan_rows = {s: m.sample(N_SYN, seed=s) for s, m in ctabgan_runs.items()}
models["CTAB-GAN"], synthetic["CTAB-GAN"] = ctabgan_runs[SEED], ctabgan_rows[SEED]
zeros_by_seed = {s: float((rows["affairs"] == 0).mean()) for s, rows in ctabgan_rows.items()}
zero_share = {
    "CTGAN": float((synthetic["CTGAN"]["affairs"] == 0).mean()),
    "CTAB-GAN": float(np.mean(list(zeros_by_seed.values()))),
}
print(f"exact zeros — real {real_zero:.1%}", {k: f"{v:.1%}" for k, v in zero_share.items()})
print("CTAB-GAN per seed:", {s: f"{v:.1%}" for s, v in zeros_by_seed.items()})

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
colours = {"real": "0.45", "CTGAN": "C0", "CTAB-GAN": "C1"}
bars = {"real": real_zero, "CTGAN\n(continuous)": zero_share["CTGAN"]}
bars.update({f"CTAB-GAN\nseed {s}": v for s, v in zeros_by_seed.items()})
drawn = axes[0].bar(
    list(bars), list(bars.values()), color=[colours["real"], colours["CTGAN"]]
    + [colours["CTAB-GAN"]] * len(zeros_by_seed),
)  # fmt: skip
axes[0].bar_label(drawn, labels=[f"{v:.0%}" for v in bars.values()])
axes[0].set(
    xlabel="rows from",
    ylabel="share of rows with affairs = 0 exactly",
    ylim=(0, 1),
    title="the point mass",
)
bins = np.linspace(-0.5, 1.0, 61)
for name, rows_ in (
    ("real", train),
    ("CTGAN", synthetic["CTGAN"]),
    ("CTAB-GAN", ctabgan_rows[SEED]),
):
    values = rows_["affairs"][(rows_["affairs"] >= -0.5) & (rows_["affairs"] <= 1.0)]
    axes[1].hist(values, bins=bins, histtype="step", lw=1.5, color=colours[name], label=name)
axes[1].set(xlabel="affairs (values in [-0.5, 1])", ylabel="rows per bin", yscale="log",
            title="near 0: exact zeros form one spike")  # fmt: skip
axes[1].legend()
plt.tight_layout()
plt.show()

# %%
if config.fast():
    claim(
        "CTAB-GAN generates exact zeros in bulk (> 40% of the rows) while CTGAN with affairs "
        "declared continuous generates none (< 1%)",
        zero_share["CTAB-GAN"] > 0.4 and zero_share["CTGAN"] < 0.01,
        ctabgan=zero_share["CTAB-GAN"],
        ctgan=zero_share["CTGAN"],
    )
    print(
        "The ±5-point version is full-only: after 4 epochs the generator still mixes in the\n"
        "log-frequency training conditions, where 'affairs is 0' is drawn far less often than\n"
        "its real share, so a short run writes too few exact zeros (the bars above)."
    )
else:
    # Trained from scratch for 60 epochs, each seed writes fewer exact zeros than the real
    # share (printed above): most of the point mass, not all of it. The claim says that.
    claim(
        "CTAB-GAN keeps most of the point mass: its share of exact zeros in affairs (mean over "
        f"seeds {SEEDS}) is at least 70% of the real share, while CTGAN with affairs declared "
        "continuous writes almost none (< 1%)",
        zero_share["CTAB-GAN"] >= 0.7 * real_zero and zero_share["CTGAN"] < 0.01,
        real=real_zero,
        ctabgan=zero_share["CTAB-GAN"],
        ctabgan_per_seed=list(zeros_by_seed.values()),
        ctgan=zero_share["CTGAN"],
    )

# %% [markdown]
# Why a mean over seeds? Compare the CTAB-GAN bars of the full run: the share of one run moves
# with the seed by several points. The mixed encoder makes exact zeros *possible*; how many
# the generator writes is a learned marginal like any other, and GAN training keeps moving
# it. Training conditions are drawn with the log-frequency rule, and "affairs is in its zero
# mode" is one of them: the cell below prints how often the log rule picks the zero mode
# against its real share, which is why a short run undershoots (FAST mode).

# %%
mode_counts = encoded[:, mode.start : mode.end].sum(0)
log_rule = np.log1p(mode_counts) / np.log1p(mode_counts).sum()
print(
    f"zero mode of affairs: real share {mode_counts[0] / mode_counts.sum():.1%}, "
    f"chosen by the log-frequency rule {log_rule[0]:.1%} of the time"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The information loss
#
# Let $f(\cdot)$ be the discriminator's penultimate features (the input of its score layer).
# The generator additionally minimises
#
# $$L_{\text{info}} = \big\lVert \mathbb E f(r) - \mathbb E f(\hat r)\big\rVert_2
#   + \big\lVert \mathrm{sd}\, f(r) - \mathrm{sd}\, f(\hat r)\big\rVert_2 ,$$
#
# first and second moments over a batch of real rows $r$ and generated rows $\hat r$ with the
# same conditions. It is a feature-matching term (Salimans et al. 2016): a smooth target that
# does not change sign with the discriminator's verdict. The figure below shows it during
# CTAB-GAN's training, next to the generator's other terms; what to look for: the
# information loss falls early and then stays low while the adversarial term keeps
# oscillating with the discriminator.

# %%
generator_log = models["CTAB-GAN"].history.select("generator")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
viz.plot_losses(generator_log, keys=["info"], ax=axes[0], smooth=5)
axes[0].set(xlabel="training step (generator turns)", title="information loss")
viz.plot_losses(generator_log, keys=["adversarial", "cond_ce", "classifier"], ax=axes[1], smooth=5)
axes[1].set(xlabel="training step (generator turns)", title="the generator's other terms")
plt.tight_layout()
plt.show()
print(
    models["CTAB-GAN"].losses()[["critic", "adversarial", "cond_ce", "info", "classifier"]].round(3)
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The auxiliary classifier and impossible rows
#
# A classifier $C$ is trained on real rows to predict one column $t$ from all the others;
# the generator pays its cross-entropy on generated rows,
# $L_{\text{class}} = \mathbb E\,\mathrm{CE}\big(C(\hat r_{-t}), \arg\max \hat r_t\big)$:
# a generated row whose other columns make its own $t$ implausible is penalised. Zhao et
# al.'s example: "sex = female, disease = prostate cancer".
#
# Our constraint: nobody marries before the age of 9, i.e. `age − yrs_married ≥ 9`
# (ages and years are bin midpoints; **no** real row violates it). The classifier predicts
# `yrs_married` (a numeric target: its classes are its modes, here the survey's bins), and
# its loss is added with weight 1, as in Zhao et al.
#
# The ablation retrains the three CTAB-GAN runs above without the classifier loss and checks
# 20,000 rows of each; the claim is on the mean over seeds. It needs the 60-epoch budget:
# after 15 epochs (150 generator steps) the violation share still swings by several points
# from seed to seed whatever the loss, which hides the effect.


# %%
def violations(table: pd.DataFrame) -> float:
    """Share of rows that imply marrying before the age of 9."""
    return float((table["age"] - table["yrs_married"] < 9).mean())


viol = {k: violations(v) for k, v in synthetic.items()}
print(f"violations — real {violations(train):.2%}", {k: f"{v:.1%}" for k, v in viol.items()})

if config.fast():
    print(
        "Full-only ablation and claim: 3 seeds x 2 models x 60 epochs do not fit FAST mode's\n"
        "budget, and after 4 epochs the violation share only tracks how far each run has got."
    )
else:
    ablation = {}
    for s in SEEDS:  # the CTAB-GAN runs above, and the same seeds without the classifier loss
        without = CTABGAN(schema, seed=s, classifier_weight=0.0, **NETS)
        without.fit(
            train,
            epochs=EPOCHS,
            checkpoint=checkpoint_of("ctabgan_no_classifier", s),
            progress=False,
        )
        if s == SEED:  # it also gets a row in the comparison table below
            models["CTAB-GAN, no classifier"] = without
            synthetic["CTAB-GAN, no classifier"] = without.sample(N_SYN, seed=SEED)
        ablation[s, "with classifier"] = violations(ctabgan_runs[s].sample(20_000, seed=s))
        ablation[s, "without"] = violations(without.sample(20_000, seed=s))
    ablation = pd.Series(ablation).unstack()[["with classifier", "without"]]
    ablation.index.name = "seed"
    print(ablation.round(3).to_string())
    mean_with, mean_without = ablation.mean()
    claim(
        "the classifier loss reduces the impossible rows (age − yrs_married < 9): averaged over "
        f"seeds {SEEDS}, CTAB-GAN writes fewer of them with the loss than without",
        mean_with < mean_without,
        with_classifier=mean_with,
        without=mean_without,
        relative=mean_with / mean_without,
        real=violations(train),
    )

# %% [markdown]
# What to look for in the full run's table: fewer violations with the classifier loss than
# without, seed by seed, but never the real 0. It is a soft penalty learned from data, not a
# constraint: a generator can still write impossible rows the classifier finds merely
# unlikely. Longer training alone also lowers the share.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## CTAB-GAN+: Wasserstein loss and the general transform
#
# CTAB-GAN+ trains with WGAN-GP (critic scores, gradient penalty $\lambda = 10$) like CTGAN.
# It also adds the **general transform** for continuous columns that have a single mode:
# $\alpha = 2(x - \min)/(\max - \min) - 1$, one number in $[-1, 1]$ and no mode indicator —
# fewer outputs and no mode to get wrong. It is the wrong choice for a multimodal column such
# as the binned `age`; here only the widths are compared, and the next section compares
# quality on a column that does have a single mode.

# %%
general = TableEncoder(schema, general=("age",)).fit(train)
print("age, mode-specific:", [(s.role, s.width) for s in encoder.spans_of("age")])
print("age, general      :", [(s.role, s.width) for s in general.spans_of("age")])
print("encoded width:", encoder.output_dim, "->", general.output_dim)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Does the general transform generate a single-mode column better?
#
# Width is not the point; the generated values are. Zhao et al. (2022) reserve the general
# transform for continuous columns with a single mode, where mode-specific normalisation
# brings nothing but a harder output. How much harder shows in the mixture itself: the
# variational Gaussian mixture of mode-specific normalisation (up to 10 modes) does not keep
# one component for one Gaussian — it splits the bell into several overlapping modes, and
# the generator must then choose a mode *and* an offset that fits that mode.
#
# The test: a simulated two-column table, `x` ~ N(50, 10²) (a single mode) and an
# independent label `c` with three categories, 2,000 rows. CTAB-GAN+ (WGAN-GP, no auxiliary
# classifier: there is no task here) is trained twice with identical networks, seeds and
# budget — once with `x` mode-normalised, once under the general transform — and `x` of
# 2,000 generated rows is compared with the real column by the Wasserstein distance (scaled by
# the real range, as in the similarity table of 10a) and the Kolmogorov-Smirnov statistic.
# The budget is short, 4 epochs: the question is which encoding a generator learns first.
# FAST mode trains one seed; the full run three, and claims on their mean. The full run also
# shows two rows for which no claim is made in FAST mode: the same column after 20 epochs,
# and a skewed single-mode column (a gamma distribution), where scaling the raw range into
# one `tanh` output is a poorer fit.

# %%
SINGLE_NETS = dict(
    embedding_dim=64,
    generator_dims=(128, 128),
    discriminator_dims=(128, 128),
    batch_size=500,
    lr=1e-3,
    classifier_weight=0.0,
)
single_schema = Schema((Column("x", "continuous"), Column("c", "categorical")))


def single_mode_table(kind, n=2000, seed=0):
    """``x`` with a single mode (a Gaussian, or a right-skewed gamma) and an independent label."""
    r = np.random.default_rng(seed)
    c = r.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    x = 50 + 10 * r.standard_normal(n) if kind == "gaussian" else r.gamma(2.0, 5.0, n)
    return pd.DataFrame({"x": x, "c": c})


single = single_mode_table("gaussian")
msn = TableEncoder(single_schema).fit(single)
weights = msn.numeric_info("x").weights
print("mode-specific x:", [(s.role, s.width) for s in msn.spans_of("x")])
print(f"mixture components with weight > 5%: {int((weights > 0.05).sum())} of {len(weights)}")


def marginal_gap(kind, general, seed, epochs):
    """Scaled Wasserstein distance and KS statistic of x: real vs CTAB-GAN+'s rows (the
    generated x is kept in ``generated`` for the figure)."""
    real = single_mode_table(kind)
    model = CTABGANPlus(
        single_schema, general_columns=("x",) if general else (), seed=seed, **SINGLE_NETS
    )
    model.fit(real, epochs=epochs, progress=False)
    fake = model.sample(len(real), seed=seed)["x"].to_numpy()
    generated[(kind, epochs, seed, general)] = fake
    x = real["x"].to_numpy()
    return wasserstein_distance(x, fake) / np.ptp(x), ks_2samp(x, fake).statistic


generated = {}
SINGLE_SEEDS = config.pick((0, 1, 2), (0,))
settings = [("gaussian", 4)] + config.pick([("gaussian", 20), ("gamma", 4)], [])
gaps = pd.DataFrame(
    [
        {
            "column": kind,
            "epochs": epochs,
            "seed": seed,
            "encoding": "general" if general else "mode-specific",
            "Wasserstein": w,
            "KS": ks,
        }
        for kind, epochs in settings
        for seed in SINGLE_SEEDS
        for general in (False, True)
        for w, ks in [marginal_gap(kind, general, seed, epochs)]
    ]
)
gap_table = gaps.pivot_table(
    index=["column", "epochs"], columns="encoding", values=["Wasserstein", "KS"]
)
gap_table.round(3)

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
bins = np.linspace(single["x"].min(), single["x"].max(), 40)
ax[0].hist(single["x"], bins=bins, density=True, color="0.75", label="real")
for use_general, style in ((False, "C0"), (True, "C1")):
    label = "general" if use_general else "mode-specific"
    fake = generated[("gaussian", 4, SINGLE_SEEDS[0], use_general)]
    ax[0].hist(fake, bins=bins, density=True, histtype="step", lw=1.5, color=style, label=label)
ax[0].set(xlabel="x", ylabel="density", title=f"4 epochs, seed {SINGLE_SEEDS[0]}")
ax[0].legend(fontsize=8)
for (kind, epochs), group in gaps.groupby(["column", "epochs"]):
    by = group.pivot_table(index="seed", columns="encoding", values="Wasserstein")
    ax[1].scatter(by["mode-specific"], by["general"], label=f"{kind}, {epochs} epochs")
top = 1.1 * float(gaps["Wasserstein"].max())
ax[1].plot([0, top], [0, top], "k:", label="equal")
ax[1].set(
    xlabel="Wasserstein distance, mode-specific (per seed)",
    ylabel="Wasserstein distance, general",
    xlim=(0, top),
    ylim=(0, top),
)
ax[1].legend(fontsize=8)
plt.tight_layout()
plt.show()
short = gap_table.loc[("gaussian", 4), "Wasserstein"]
claim(
    "on a single Gaussian column after 4 epochs, the general transform's marginal is closer to "
    "the real one: Wasserstein distance below 0.7 × mode-specific normalisation's "
    f"(mean over seeds {list(SINGLE_SEEDS)})",
    short["general"] < 0.7 * short["mode-specific"],
    general=short["general"],
    mode_specific=short["mode-specific"],
)
if not config.fast():
    skewed = gap_table.loc[("gamma", 4), "Wasserstein"]
    claim(
        "on a skewed single-mode column (gamma) the advantage reverses: the general transform's "
        "Wasserstein distance is above mode-specific normalisation's (mean over 3 seeds)",
        skewed["general"] > skewed["mode-specific"],
        general=skewed["general"],
        mode_specific=skewed["mode-specific"],
    )

# %% [markdown]
# The general transform wins where it is meant to be used — a symmetric bell that the
# mixture would cut into pieces — and it wins early: the generator has one `tanh` output to
# place instead of a mode and an offset that must agree. With five times the budget the two
# encodings end up close (the full run's second row; no claim is made on it). On the skewed
# column the ordering reverses in the full run: a min-max scaled `tanh` output must put most
# of its mass in a narrow part of $[-1, 1]$ and stretch a long tail over the rest, which the
# mixture's modes represent directly. The general transform is a choice per column, made by
# looking at the column — as the paper does.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Differential privacy with DP-SGD
#
# $(\varepsilon, \delta)$-DP: for tables $D, D'$ differing in one row and any event $S$,
# $P[M(D)\in S]\le e^\varepsilon P[M(D')\in S] + \delta$. DP-SGD (Abadi et al. 2016) makes
# one training step private: Poisson-sample a batch (each row with probability $q$), clip
# **each row's** gradient to norm $C$, add $\mathcal N(0, \sigma^2C^2)$, divide by $qn$:
#
# $$\tilde g = \frac1{qn}\Big(\sum_{i\in B} g_i\min\big(1, \tfrac{C}{\lVert g_i\rVert}\big)
#   + \mathcal N(0, \sigma^2C^2 I)\Big).$$
#
# A Rényi-DP accountant adds up the steps and converts to $(\varepsilon, \delta)$; given a
# target $\varepsilon$ we pick the smallest $\sigma$ that meets it.
#
# **Choosing $\delta$.** $\delta$ is the probability with which the guarantee may fail
# outright, so it must be far below $1/n$: the mechanism "publish one training row, chosen
# at random" satisfies $(0, 1/n)$-DP — each individual row appears with probability only
# $1/n$ — yet it always releases somebody's complete record. We use
# $\delta = \min(10^{-5}, 1/(10n))$, the usual $10^{-5}$ (Abadi et al. 2016), which is also
# at most a tenth of $1/n$ for tables of up to $10^4$ rows. In the
# code the private critic and classifier are players of `fit` whose update *is* such a step
# (`privacy.DPSGDPlayer`: per-row gradients, clipping, noise, then their Adam step, and one
# more step for the accountant).
#
# **What reads real rows, and what covers it** (edu_gen's CTAB-GAN+ in DP mode):

# %%
print(pd.Series(COVERAGE, name="status").to_string())

# %% [markdown]
# * The critic's per-row loss $D(\hat r_i) - D(r_i) + \lambda\,\mathrm{GP}_i$ holds the
#   gradient penalty *inside*: its interpolate mixes real row $i$, so it is clipped and
#   noised with that row. Packs would mix rows, so `pac = 1`; real rows are Poisson-sampled
#   uniformly (training-by-sampling would choose rows by their values).
# * The generator sees real data only through the private critic and classifier
#   (post-processing) — which is why the **information loss is switched off**: it would
#   read the critic's features of real rows outside DP-SGD. The generator loses that signal.
# * The classifier is trained with DP-SGD at the same $q$ and $\sigma$; its steps are
#   composed in the accountant, so it spends part of the budget.
# * **Not covered**: the mixture fit, min-max ranges and the sampler's category/mode
#   frequencies are computed from real rows without noise, as in the published code. A full
#   guarantee would release these marginals with a DP mechanism (noisy histograms) too.
#
# The published CTAB-GAN+ code clips one gradient per 500-row batch rather than per row, and
# lets the penalty, the information loss and the classifier see real rows unnoised: its
# reported $\varepsilon$ does not bound what its training reveals.

# %% [markdown] slideshow={"slide_type": "slide"}
# ### One DP-SGD step, written out
#
# The step the private critic takes, as a loop a learner can step through: a small critic,
# a Poisson batch of real rows, each paired with a generated row (here: the real row's
# columns shuffled across the table), and the per-row WGAN loss
# $\ell_i = D(\hat r_i) - D(r_i)$. For every row: its own gradient $g_i$ (one backward pass
# per row), its norm over *all* parameters together, the clip factor
# $\min(1, C/\lVert g_i\rVert)$; then the sum, the noise $\sigma C\,\xi$ and the division
# by the expected batch size $qn$, and a plain SGD step ($C$ is chosen near the median of
# this critic's per-row gradient norms, so that the loop takes both branches of the
# clip: the printout counts the clipped rows). The package's `privacy.dp_step` does
# the same with `torch.func` (vectorised per-row gradients) and draws the noise from the same
# generator; the claim compares the parameters the two leave.

# %%
rows_real = torch.from_numpy(encoded)
g = torch.Generator().manual_seed(SEED)
q_demo, C, sigma, lr = 64 / len(rows_real), 1.8, 1.1, 0.5  # C: near the median norm
qn = q_demo * len(rows_real)
shuffled = torch.stack(
    [col[torch.randperm(len(rows_real), generator=g)] for col in rows_real.T], dim=1
)
(real_b, fake_b) = privacy.poisson_sample(rows_real, shuffled, sample_rate=q_demo, generator=g)
with rng.seeded(SEED):
    critic_loop = Discriminator(rows_real.shape[1], (32,), pac=1).eval()  # eval: no dropout
critic_package = copy.deepcopy(critic_loop)


def dp_sgd_step_by_hand(critic, real_b, fake_b, C, sigma, qn, lr, noise_gen):
    """One DP-SGD step of the per-row loss D(fake_i) − D(real_i), one row at a time;
    returns how many rows' gradients were clipped."""
    params = list(critic.parameters())
    summed = [torch.zeros_like(p) for p in params]
    clipped = 0
    for i in range(len(real_b)):  # one row at a time
        loss_i = critic(fake_b[i : i + 1]).sum() - critic(real_b[i : i + 1]).sum()
        grads = torch.autograd.grad(loss_i, params)  # g_i, this row's gradient
        norm = float(torch.sqrt(sum((gr**2).sum() for gr in grads)))  # over all parameters
        factor = min(1.0, C / norm) if norm > 0 else 1.0
        clipped += factor < 1.0
        for total, gr in zip(summed, grads, strict=True):
            total += factor * gr  # the clipped row's gradient joins the sum
    with torch.no_grad():
        for p, total in zip(params, summed, strict=True):
            noisy = (total + sigma * C * torch.randn(p.shape, generator=noise_gen)) / qn
            p -= lr * noisy  # plain SGD on the private gradient
    return clipped


before = torch.cat([p.detach().flatten() for p in critic_package.parameters()])
clipped_rows = dp_sgd_step_by_hand(
    critic_loop, real_b, fake_b, C, sigma, qn, lr, torch.Generator().manual_seed(7)
)
privacy.dp_step(
    critic_package,
    lambda d, r, f: d(f) - d(r),  # one loss per row
    (real_b, fake_b),
    torch.optim.SGD(critic_package.parameters(), lr=lr),
    clip_norm=C,
    noise_multiplier=sigma,
    expected_batch_size=qn,
    generator=torch.Generator().manual_seed(7),
)
after_loop = torch.cat([p.detach().flatten() for p in critic_loop.parameters()])
after_package = torch.cat([p.detach().flatten() for p in critic_package.parameters()])
update = float((after_loop - before).norm())
gap = float((after_loop - after_package).abs().max())
print(f"batch of {len(real_b)} rows (expected {qn:.0f}); {clipped_rows} row gradients clipped")
print(f"size of the update {update:.4f}; largest parameter difference loop vs dp_step {gap:.2e}")
claim(
    "the loop over rows and the package's dp_step take the same DP-SGD step (parameters "
    "within 1e-5 of each other, for an update of norm > 1e-2)",
    gap < 1e-5 and update > 1e-2,
    max_difference=gap,
    update_norm=update,
)

# %% [markdown]
# ### Check your understanding

# %%
quiz.choice(
    "Why does DP-SGD clip every row's gradient instead of clipping the gradient of the whole "
    "batch to norm C?",
    [
        "clipping the batch gradient is slower",
        "the noise σC assumes that adding or removing one row moves the sum by at most C; "
        "per-row clipping guarantees that, a batch clip does not",
        "per-row clipping makes the gradient unbiased",
        "clipping the batch gradient would change its direction",
    ],
    answer=1,
    why="The accountant analyses a sum whose sensitivity to one row is C. A batch clip "
    "rescales all rows by one factor that depends on every row, so one row can move the "
    "clipped result by up to 2C: the noise hides half as much as the accountant assumes (the "
    "published CTAB-GAN+ code, above). Per-row clipping has its own price: it biases the "
    "gradient.",
)

# %%
quiz.choice(
    "DP-SGD divides the clipped, noised sum by the expected batch size qn, not by the size "
    "|B| of the Poisson batch it actually drew. Why?",
    [
        "|B| can be 0",
        "|B| depends on which rows were sampled, so dividing by it would make the released "
        "gradient's scale depend on the data outside the noise; qn is a public constant",
        "qn is always larger, which adds privacy",
        "there is no reason; both are private",
    ],
    answer=1,
    why="The mechanism analysed by the accountant releases (sum + noise) scaled by a "
    "constant. Scaling by |B| is a data-dependent operation the analysis does not cover "
    "(and |B| = 0 is possible too).",
)

# %%
quiz.number(
    "The Gaussian mechanism without sampling (q = 1, sensitivity 1, noise multiplier σ = 5) "
    "has RDP ε(α) = α/(2σ²) per step. After T = 100 steps, with δ = 1e-5 and the classic "
    "conversion ε = ε_T(α) + log(1/δ)/(α − 1) minimised over all real α > 1, what is ε?",
    answer=11.597,
    why="ε_T(α) = 100α/50 = 2α. Minimise 2α + L/(α − 1), L = log(10⁵) = 11.513: the "
    "derivative vanishes at (α − 1)² = L/2, α = 1 + 2.399 = 3.399, where ε = 2 + "
    "2·sqrt(2L) = 2 + 9.597 = 11.597. Adding the 100 one-step guarantees instead would give "
    "far more.",
    tolerance=0.05,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# First the non-private CTAB-GAN+ (packs of 10, information loss on) for the comparison
# table. Then the privacy ladder: every rung has the settings DP mode forces (`pac=1`, no
# information loss) and the same epochs, so that only $\varepsilon$ changes; $\varepsilon =
# \infty$ is the same model without clipping and noise.

# %%
train_and_sample(
    "CTAB-GAN+",
    CTABGANPlus(schema, seed=SEED, **CLASSIFIER, **NETS),
    checkpoint=checkpoint_of("ctabgan_plus", SEED),
)
EPSILONS = config.pick([math.inf, 10.0, 3.0, 1.0], [math.inf, 1.0])
DELTA = default_delta(len(train))  # min(1e-5, 1/(10n)), far below 1/n: see "Choosing δ"
print(f"n = {len(train)} training rows: delta = {DELTA:.1e} (1/n would be {1 / len(train):.1e})")
DP_EPOCHS = config.pick(6, 1)
DP_NETS = dict(NETS, classifier_epochs=DP_EPOCHS, pac=1, info_weight=0.0)
reports = {}
for eps in EPSILONS:
    name = f"CTAB-GAN+ ε={eps:g}".replace("inf", "∞")
    model = CTABGANPlus(schema, epsilon=eps, delta=DELTA, seed=SEED, **CLASSIFIER, **DP_NETS)
    train_and_sample(name, model, epochs=DP_EPOCHS)
    if model.privacy is not None:
        reports[name] = model.privacy
privacy_table = pd.DataFrame({k: vars(r) for k, r in reports.items()}).T
print(privacy_table.round(4).assign(delta=privacy_table["delta"].map("{:.1e}".format)).to_string())

# %%
claim(
    "the accountant's ε for every private run is at most the target and within 1% of it, "
    "at δ ≤ 1/(10 n)",
    all(0.99 * r.target_epsilon <= r.epsilon <= r.target_epsilon for r in reports.values())
    and all(r.delta <= 1 / (10 * len(train)) for r in reports.values()),
    **{k.split()[-1]: r.epsilon for k, r in reports.items()},
    delta=DELTA,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Utility, similarity and privacy of every variant
#
# ML utility: classifiers trained on synthetic rows, tested on real held-out rows, for the
# task "had an affair" (`affairs > 0`; chapter 10a). Similarity: mean per-column distance
# (Jensen-Shannon for discrete, Wasserstein for numeric columns) and the difference of the
# association matrices. Privacy: distance to the closest training record (DCR), next to
# the same distance for real hold-out rows.

# %%
ML_MODELS = config.pick(("linear", "tree"), ("linear",))
rows = {}
for name, syn in synthetic.items():
    utility = metrics.ml_utility(train, test, syn, schema, models=ML_MODELS, seed=0, **FAIR_TASK)
    mean = utility.groupby(level="metric").mean()
    similarity = metrics.column_similarity(train, syn, schema)
    dcr = metrics.distance_to_closest_record(train, syn, test, schema)
    rows[name] = {
        "auc": mean.loc["auc", "synthetic"],
        "f1": mean.loc["f1", "synthetic"],
        "js": similarity[similarity.metric == "js_distance"]["value"].mean(),
        "wd": similarity[similarity.metric == "wasserstein"]["value"].mean(),
        "assoc_diff": metrics.association_difference(train, syn, schema).norm,
        "zeros": float((syn["affairs"] == 0).mean()),
        "violations": violations(syn),
        "dcr_median": dcr.loc["synthetic", "median"],
    }
rows["real (train)"] = {
    "auc": mean.loc["auc", "real"],
    "f1": mean.loc["f1", "real"],
    "zeros": real_zero,
    "violations": violations(train),
    "dcr_median": dcr.loc["holdout", "median"],
}
table = pd.DataFrame(rows).T
print(table.round(3).to_string())

# %%
ladder = table.loc[[k for k in table.index if k.startswith("CTAB-GAN+ ε")], ["auc", "js", "wd"]]
print(ladder.round(3).to_string())
rung_eps = [float(k.split("=")[-1].replace("∞", "inf")) for k in ladder.index]
finite = max([e for e in rung_eps if math.isfinite(e)], default=1.0)
x_pos = [e if math.isfinite(e) else 3 * finite for e in rung_eps]  # ε = ∞ drawn at the right
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, (column, label) in zip(
    axes,
    (("auc", "AUC on real test rows"), ("js", "mean JS distance, discrete"),
     ("wd", "mean Wasserstein, numeric")),
    strict=True,
):  # fmt: skip
    ax.plot(x_pos, ladder[column], "o-")
    ax.set(xscale="log", xlabel="privacy budget ε (right: no DP)", ylabel=label)
    if column != "auc":  # distances from 0, so that small differences are not magnified
        ax.set_ylim(0, 1.15 * max(ladder[column].max(), 1e-9))
    ax.set_xticks(x_pos, [f"{e:g}".replace("inf", "∞") for e in rung_eps])
    ax.minorticks_off()
axes[0].axhline(table.loc["real (train)", "auc"], color="0.5", ls=":", label="trained on real rows")
axes[0].axhline(0.5, color="k", lw=0.6, ls="--", label="chance")
axes[0].legend(fontsize=8)
axes[0].set_ylim(0.4, 1.0)
axes[0].set_title("utility (higher is better)")
axes[1].set_title("distance to real columns (lower is better)")
axes[2].set_title("distance to real columns (lower is better)")
fig.suptitle("the privacy–utility ladder (smaller ε = stronger privacy)", y=1.02)
plt.tight_layout()
plt.show()
if config.fast():
    print(
        "Full-only claim: with one epoch per rung every model is barely trained and the\n"
        "differences between rungs are noise, so the comparison is only claimed in the full\n"
        "run (6 epochs per rung)."
    )
else:
    claim(
        "privacy costs fidelity: at ε=1 the synthetic marginals are further from the real ones "
        "(mean Jensen-Shannon distance of the discrete columns at least 0.03 higher) than for "
        "the same model trained without DP",
        table.loc["CTAB-GAN+ ε=1", "js"] >= table.loc["CTAB-GAN+ ε=∞", "js"] + 0.03,
        js_inf=table.loc["CTAB-GAN+ ε=∞", "js"],
        js_eps1=table.loc["CTAB-GAN+ ε=1", "js"],
    )

# %% [markdown]
# What to look for on the ladder: the marginals (JS distance) get worse as ε shrinks — in the
# full run the rise from ε=∞ to ε=1 was several times the 0.03 margin of the claim for each
# of seeds 0-2. ML utility is the noisier measure at these budgets: the AUC of the rungs need
# not fall monotonically, and all of them stay far below that of a model trained on real rows
# (the dotted line), so we show it rather than claim an ordering. Zhao et al. train for
# hundreds of epochs; the gap between the rungs needs that budget to separate from the
# run-to-run noise.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## At paper size: CTAB-GAN+ against CTGAN on UCI Adult
#
# Zhao et al. (2021; 2022) evaluate on UCI Adult (Kohavi, 1996), whose `capital_gain` and
# `capital_loss` are exactly 0 in more than nine rows of ten and spread over a long tail
# otherwise — mixed columns, as `affairs` is here. Protocol of chapter 10a: fit on
# `adult.data`, sample as many rows, train classifiers on them and test on `adult.test`
# ("income > 50K"); the papers report the *difference* real − synthetic of accuracy, F1 and
# AUC (lower is better) beside the similarity measures of this chapter. Compared here:
# CTGAN with the two capital columns declared continuous, and CTAB-GAN+ with them mixed
# (point mass at 0), the auxiliary classifier on `income`.
#
# * **gpu size**: all rows, 100 epochs of batch 500 each (about 8 minutes on a Colab T4 by
#   `benchmarks/bench_gpu_sizes.py`), the default 256-unit networks.
# * **cpu size**: all rows, 10 epochs each: a short run.
# * **FAST**: 4,000 training rows, 2 epochs — mechanics only.

# %%
adult_train, adult_test, adult_schema = tables.adult_split(*config.pick((None, None), (4000, 2000)))
ADULT_EPOCHS = config.pick(10, 2, gpu=100)
capital = ("capital_gain", "capital_loss")
adult_models = {
    "CTGAN (capital continuous)": CTGAN(
        adult_schema.override(dict.fromkeys(capital, "continuous")), seed=SEED
    ),
    "CTAB-GAN+": CTABGANPlus(adult_schema, seed=SEED, classifier_epochs=min(ADULT_EPOCHS, 20)),
}
adult_rows = {}
for (name, model), tag in zip(adult_models.items(), ("ctgan_adult", "ctabgan_plus_adult")):
    model.fit(adult_train, epochs=ADULT_EPOCHS, checkpoint=checkpoint_of(tag, SEED), progress=False)
    adult_rows[name] = model.sample(len(adult_train), seed=SEED)

ADULT_CLASSIFIERS = config.pick(("linear", "tree"), ("linear",), gpu=("linear", "tree", "mlp"))
adult_table = {}
for name, rows_of in {"real (adult.data)": adult_train, **adult_rows}.items():
    utility = metrics.ml_utility(
        adult_train, adult_test, rows_of, adult_schema, models=ADULT_CLASSIFIERS, seed=0
    )
    difference = utility.groupby(level="metric").mean()["difference"]
    similarity = metrics.column_similarity(adult_train, rows_of, adult_schema)
    adult_table[name] = {
        "Δ accuracy": difference["accuracy"],
        "Δ F1": difference["f1"],
        "Δ AUC": difference["auc"],
        "JS": similarity[similarity.metric == "js_distance"]["value"].mean(),
        "WD": similarity[similarity.metric == "wasserstein"]["value"].mean(),
        **{f"zeros {c.split('_')[1]}": float((rows_of[c] == 0).mean()) for c in capital},
    }
adult_table = pd.DataFrame(adult_table).T
adult_table.round(3)

# %% [markdown]
# Read the first row as the floor: real rows against themselves (no utility lost, distances
# of a sample to itself). The last two columns show the point masses: the share of rows
# with capital_gain / capital_loss exactly 0. Zhao et al. report
# that on Adult CTAB-GAN (and CTAB-GAN+) lose less utility than CTGAN and match the
# marginals more closely; our short runs show the mechanism (the zeros) at every size and
# leave the utility comparison to the gpu size.

# %%
zeros_real = adult_table.loc["real (adult.data)", "zeros gain"]
plus, ctgan_row = adult_table.loc["CTAB-GAN+"], adult_table.loc["CTGAN (capital continuous)"]
claim(
    "only the mixed encoder writes the point mass: CTAB-GAN+ sets capital_gain exactly 0 in "
    "more than a third of its rows, CTGAN with the column continuous in under 1%",
    plus["zeros gain"] > 1 / 3 and ctgan_row["zeros gain"] < 0.01,
    real=zeros_real,
    ctabgan_plus=plus["zeros gain"],
    ctgan=ctgan_row["zeros gain"],
)
claim(
    "trained on all rows, CTAB-GAN+ writes as many exact zeros in capital_gain as the real "
    "rows have, within 5 points",
    abs(plus["zeros gain"] - zeros_real) <= 0.05,
    made_for="the cpu and gpu sizes (10 and 100 epochs)" if config.fast() else None,
    real=zeros_real,
    ctabgan_plus=plus["zeros gain"],
)
claim(
    "at the gpu size CTAB-GAN+ loses no more F1 than CTGAN (Zhao et al.'s finding on Adult)",
    plus["Δ F1"] <= ctgan_row["Δ F1"],
    made_for=None if config.size() == "gpu" else "the gpu size (100 epochs)",
    delta_f1_ctabgan_plus=plus["Δ F1"],
    delta_f1_ctgan=ctgan_row["Δ F1"],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Reading the table
#
# * Only the mixed-type encoder produces exact zeros; with a continuous `affairs`, CTGAN's
#   label "had an affair" (`affairs > 0`) hangs on the sign of small continuous values
#   around 0, not on the zero/non-zero split the real rows have.
# * The classifier loss lowers the share of impossible rows (full run) without reaching the
#   real 0: it is a soft penalty learned from data, not a constraint.
# * DP costs fidelity: the noise needed for a small ε drowns part of the critic's signal, the
#   information loss is gone, and every private step is expensive, so the budgets are short.
# * DCR: compare each model's median with the real hold-out rows' (last row). A synthetic
#   median far *below* it would suggest copies of training rows. DCR is a heuristic — it can
#   flag copying but cannot show privacy; the guarantee comes from the accountant, and only
#   for the parts it covers.
#
# **Summary.** CTAB-GAN = CTGAN + mixed-type encoder + mode conditioning + information and
# classifier losses; CTAB-GAN+ = WGAN-GP + general transform + DP-SGD with per-row
# clipping and an RDP accountant. A privacy claim is only as good as the list of what it
# covers.
