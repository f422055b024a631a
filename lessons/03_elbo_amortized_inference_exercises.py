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
# # 03 · The ELBO and amortized inference — exercises
#
# Five graded exercises: four warm-ups of 10 points, then the chapter's central algorithm
# (exercise 5, 20 points): one gradient step of amortized inference, which you then use to
# train an encoder. Write your code where it says `raise NotImplementedError`, then run
# the `check(...)` cell under it: it runs randomised tests against the reference
# implementation and prints your points, with a hint when your answer matches a common
# mistake. Later cells use your function once it passes (the reference until then).
#
# Use only `torch` operations; no Python loops over data points or samples are needed.
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
import torch

from edu_gen.core import config, rng
from edu_gen.core.distributions import log_normal
from edu_gen.course.grading import check
from edu_gen.models import elbo as E
from edu_gen.models import topics as tp
from edu_gen.models import vae

g = rng.seed_everything(0)
print(config.banner())

# a linear-Gaussian model z ~ N(0, I_2), x | z ~ N(Wz + b, 0.4 I_6) and a few observations
W = torch.randn(6, 2, generator=g, dtype=torch.float64)
W[:, 1] += 0.8 * W[:, 0]
model = E.LinearGaussian(W, torch.randn(6, generator=g, dtype=torch.float64), sigma2=0.4)
x, _ = model.sample(5, g)

# %% [markdown]
# ## Exercise 1 — a Monte Carlo ELBO (eq. 17.7, 10 points)
#
# Given `log_joint` (a function mapping latent samples `z` of shape `[S, N, K]` to
# $\log p(x, z)$ of shape `[S, N]`), the parameters of $q = \mathcal N(\mu,
# \mathrm{diag}\,e^{\ell})$ (`q_mean`, `q_logvar`, each `[N, K]`) and standard-normal noise
# `eps` `[S, N, K]`, return the `[N]` estimate
#
# $$\widehat{\mathrm{ELBO}} = \frac1S\sum_{s=1}^S\big[\log p(x, z_s) - \log q(z_s)\big],\qquad
#   z_s = \mu + e^{\ell/2}\odot\varepsilon_s .$$
#
# `log_normal(z, mean, logvar)` (imported above) gives the diagonal-Gaussian log-density,
# summed over the last dimension.


# %%
def elbo_monte_carlo(log_joint, q_mean, q_logvar, eps):
    ### BEGIN SOLUTION
    z = q_mean + torch.exp(0.5 * q_logvar) * eps
    return (log_joint(z) - log_normal(z, q_mean, q_logvar)).mean(dim=0)
    ### END SOLUTION


result_elbo = check("03.elbo_monte_carlo", elbo_monte_carlo)

# %% [markdown]
# Use it: for a few diagonal Gaussians $q$, the estimate should sit close to the exact ELBO,
# and $\log p(x) - \mathrm{ELBO}$ should equal $\mathrm{KL}(q\,\|\,p(z\mid x))$.

# %%
elbo_fn = result_elbo.choose(elbo_monte_carlo)
post_mean, _ = model.posterior(x)
q_mean = post_mean + 0.5 * torch.randn(5, 2, generator=g, dtype=torch.float64)
q_logvar = torch.full((5, 2), -2.0, dtype=torch.float64)
eps = torch.randn(50_000, 5, 2, generator=g, dtype=torch.float64)
estimate = elbo_fn(lambda z: model.log_joint(x, z), q_mean, q_logvar, eps)
exact = model.elbo(x, q_mean, q_logvar)
kl = model.kl_to_posterior(x, q_mean, torch.diag_embed(q_logvar.exp()))
print("Monte Carlo ELBO:", estimate.numpy().round(3))
print("exact ELBO      :", exact.numpy().round(3))
print("log p(x) − ELBO :", (model.log_marginal(x) - exact).numpy().round(4))
print("KL(q ‖ p(z|x))  :", kl.numpy().round(4))

# %% [markdown]
# ## Exercise 2 — the exact posterior of the linear-Gaussian model (10 points)
#
# For $z\sim\mathcal N(0, I_K)$ and $x\mid z\sim\mathcal N(Wz + b, \sigma^2 I_D)$, return
# `(mean, cov)` of $p(z\mid x) = \mathcal N(m, S)$ for a batch `x` `[N, D]` (`W` `[D, K]`, `b`
# `[D]`, `sigma2` a float):
#
# $$S = \big(I_K + W^\top W/\sigma^2\big)^{-1}\ \ (\text{shape } [K, K]),\qquad
#   m = S\,W^\top(x - b)/\sigma^2\ \ (\text{shape } [N, K]).$$
#
# Derive it if you like: $\log p(z) + \log p(x\mid z)$ is a quadratic in $z$; read off its
# precision and its linear term.


# %%
def linear_gaussian_posterior(x, W, b, sigma2):
    ### BEGIN SOLUTION
    k = W.shape[1]
    cov = torch.linalg.inv(torch.eye(k, dtype=W.dtype) + W.T @ W / sigma2)
    mean = (x - b) @ W @ cov / sigma2
    return mean, cov
    ### END SOLUTION


result_post = check("03.linear_gaussian_posterior", linear_gaussian_posterior)

# %% [markdown]
# Use it: by Bayes' rule, $\log p(x, z) - \log p(z\mid x)$ must be the same number,
# $\log p(x)$, at every $z$. Check it at random latent points with your posterior.

# %%
post_fn = result_post.choose(linear_gaussian_posterior)
m, S = post_fn(x, model.W, model.b, float(model.sigma2))
z = torch.randn(4, 5, 2, generator=g, dtype=torch.float64)
log_post = torch.distributions.MultivariateNormal(m, S).log_prob(z)
print("log p(x,z) − log p(z|x) at 4 random z (rows) × 5 observations:")
print((model.log_joint(x, z) - log_post).numpy().round(6))
print("log p(x):", model.log_marginal(x).numpy().round(6))

# %% [markdown]
# ## Exercise 3 — the best diagonal Gaussian (10 points)
#
# Among diagonal Gaussians $q = \mathcal N(\mu, \mathrm{diag}\,v)$, the ELBO for a Gaussian
# posterior $\mathcal N(m, S)$ is maximised by $\mu = m$ and $v_k = 1/(S^{-1})_{kk}$ (set the
# derivative of $-\mathrm{KL}(q\|p)$ with respect to $v_k$ to zero). Given `post_mean` `[N, K]`
# and the shared `post_cov` `[K, K]`, return `(mean, logvar)`, both of shape `[N, K]`.


# %%
def mean_field_optimum(post_mean, post_cov):
    ### BEGIN SOLUTION
    precision = torch.linalg.inv(post_cov)
    logvar = -torch.log(torch.diagonal(precision))
    return post_mean, logvar.expand_as(post_mean)
    ### END SOLUTION


result_mf = check("03.mean_field_optimum", mean_field_optimum)

# %% [markdown]
# Use it: no random diagonal $q$ should beat your $q^*$, and the remaining gap
# $\log p(x) - \mathrm{ELBO}(q^*)$ is the *approximation gap* of the diagonal family.

# %%
mf_fn = result_mf.choose(mean_field_optimum)
mf_mean, mf_logvar = mf_fn(*model.posterior(x))
best = model.elbo(x, mf_mean, mf_logvar)
trials = model.elbo(
    x,
    mf_mean + 0.2 * torch.randn(200, 5, 2, generator=g, dtype=torch.float64),
    mf_logvar + 0.5 * torch.randn(200, 5, 2, generator=g, dtype=torch.float64),
)
print("ELBO(q*)           :", best.numpy().round(4))
print("best of 200 random :", trials.max(0).values.numpy().round(4))
print("approximation gap  :", (model.log_marginal(x) - best).numpy().round(4))

# %% [markdown]
# ## Exercise 4 — the softmax document likelihood (eq. 17.14-17.15, 10 points)
#
# A document is a count vector `counts` `[N, V]`. With energy
# $E(w; z) = -z^\top R\,e_w - b_w$ and $p(w\mid z) = \exp(-E(w;z)) / \sum_v\exp(-E(v;z))$,
# return the `[N]` log-likelihoods $\log p(n\mid z) = \sum_w n_w\log p(w\mid z)$ for latent
# codes `z` `[N, K]`, `R` `[K, V]` and `b` `[V]`. Use `torch.log_softmax` for stability.


# %%
def document_log_likelihood(counts, z, R, b):
    ### BEGIN SOLUTION
    logits = z @ R + b
    return (counts * torch.log_softmax(logits, dim=-1)).sum(dim=-1)
    ### END SOLUTION


result_doc = check("03.document_log_likelihood", document_log_likelihood)

# %% [markdown]
# ## Use it: the decoder can represent every topic exactly
#
# Put $R = \log\beta$ (one row per true topic), $b = 0$ and $z = e_k$: then
# $\mathrm{softmax}(R^\top e_k) = \beta_k$, the topic itself. On documents that are mostly
# about one topic, choosing $z = e_k$ for their main topic $k$ explains the words far better
# than the unigram model ($z = 0$, $b = \log$ word frequencies). This is the structure the
# document VAE of the lesson has to discover from the counts alone.

# %%
doc_fn = result_doc.choose(document_log_likelihood)
corpus = tp.make_topic_corpus(500, 6, alpha=0.1, seed=5)
pure = corpus.proportions.max(1).values > 0.9
counts = corpus.counts[pure].double()
R_true = torch.log(corpus.topics).double()
z_topic = torch.nn.functional.one_hot(corpus.proportions[pure].argmax(1), 6).double()
freq = (corpus.counts.sum(0) + 1).double()
b_unigram = torch.log(freq / freq.sum())
words = counts.sum()
topic_ll = doc_fn(counts, z_topic, R_true, torch.zeros(len(corpus.vocab), dtype=torch.float64))
unigram_ll = doc_fn(counts, torch.zeros_like(z_topic), R_true, b_unigram)
print(f"{int(pure.sum())} single-topic documents")
print(f"perplexity with z = e_topic: {math.exp(-float(topic_ll.sum() / words)):.2f}")
print(f"perplexity of the unigram model: {math.exp(-float(unigram_ll.sum() / words)):.2f}")

# %% [markdown]
# ## Exercise 5 — amortized inference: the encoder's ELBO step (eq. 17.10, 20 points)
#
# Per-datapoint inference optimises a separate $q_n$ for every observation. *Amortized*
# inference trains one network, the encoder $x\mapsto(\mu_\phi(x), \ell_\phi(x))$, whose
# output is $q_\phi(z\mid x) = \mathcal N(\mu_\phi(x), \mathrm{diag}\,e^{\ell_\phi(x)})$ for
# any $x$. The generative model stays fixed here; only $\phi$ learns, by gradient **ascent** on
# the batch-average Monte Carlo ELBO of exercise 1:
#
# $$\widehat{\mathcal L}(\phi) = \frac1N\sum_{n=1}^N\frac1S\sum_{s=1}^S
#   \big[\log p(x_n, z_{sn}) - \log q_\phi(z_{sn}\mid x_n)\big],\qquad
#   z_{sn} = \mu_\phi(x_n) + e^{\ell_\phi(x_n)/2}\odot\varepsilon_{sn}.$$
#
# Write `amortized_elbo_step(encoder, optimizer, log_joint, x, eps)` that performs **one**
# step and returns $\widehat{\mathcal L}$ (before the step) as a Python float:
#
# * `encoder(x)` returns `(mean, logvar)`, each `[N, K]`, for a batch `x` `[N, D]`;
# * `log_joint(x, z)` returns $\log p(x, z)$ `[S, N]` for `z` `[S, N, K]`;
# * `eps` is the standard-normal noise `[S, N, K]` (passed in so the step is reproducible);
# * `optimizer` holds the encoder's parameters. Optimisers *minimise*: step on the loss
#   $-\widehat{\mathcal L}$. Clear the gradients of the previous step first.
#
# The check grades the ELBO you return and the encoder's parameters after your step, on
# small models with gradients left over from an earlier step.


# %%
def amortized_elbo_step(encoder, optimizer, log_joint, x, eps):
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    mean, logvar = encoder(x)
    z = mean + torch.exp(0.5 * logvar) * eps
    elbo = (log_joint(x, z) - log_normal(z, mean, logvar)).mean()
    (-elbo).backward()
    optimizer.step()
    return elbo.item()
    ### END SOLUTION


result_step = check("03.amortized_elbo_step", amortized_elbo_step)

# %% [markdown]
# Use it: train an encoder (an MLP with one hidden layer) on 512 observations of the
# linear-Gaussian model above, with *your* step (the reference until yours passes), 64
# observations and 8 noise draws per step. Because this model is exact, we can score the
# encoder's $q_\phi$ without noise after every few steps, `model.elbo(x, mean, logvar)`, and
# compare it with two ceilings:
#
# * $\log p(x)$, the evidence, which no $q$ can exceed;
# * $\mathrm{ELBO}(q^*)$ with $q^*$ your best diagonal Gaussian of exercise 3, the best that
#   *any* diagonal $q$, amortized or not, can do.
#
# $\log p(x) - \mathrm{ELBO}(q^*)$ is the **approximation gap** of the diagonal family;
# $\mathrm{ELBO}(q^*) - \mathrm{ELBO}(q_\phi)$ is the **amortization gap**, what the shared
# encoder still misses. Only the second can shrink with training.

# %%
step_fn = result_step.choose(amortized_elbo_step)
x_train, _ = model.sample(512, g)
log_px_train = model.log_marginal(x_train).mean()
best_mean, best_logvar = mf_fn(*model.posterior(x_train))
elbo_best = model.elbo(x_train, best_mean, best_logvar).mean()

rng.seed_everything(0)
encoder = vae.GaussianEncoder(6, 2, hidden=(32,)).double()
optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
noise = rng.generator(1)
n_steps = config.pick(1000, 300)
returned, scored = [], []
for step in range(n_steps):
    batch = x_train[torch.randint(0, len(x_train), (64,), generator=noise)]
    eps = torch.randn(8, 64, 2, generator=noise, dtype=torch.float64)
    returned.append(step_fn(encoder, optimizer, model.log_joint, batch, eps))
    if step % 10 == 9:
        with torch.no_grad():
            scored.append((step + 1, float(model.elbo(x_train, *encoder(x_train)).mean())))
steps_scored, elbo_scored = zip(*scored)
approximation_gap = float(log_px_train - elbo_best)
amortization_gap = float(elbo_best) - elbo_scored[-1]
print(f"mean log p(x)             : {float(log_px_train):8.3f} nats")
print(f"mean ELBO(q*), best diag. : {float(elbo_best):8.3f}")
print(f"mean ELBO(q_phi), encoder : {elbo_scored[-1]:8.3f}  after {n_steps} steps")
print(f"approximation gap {approximation_gap:.3f}, amortization gap {amortization_gap:.3f} nats")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, first in zip(axes, (0, n_steps // 3)):
    ax.plot(range(first + 1, n_steps + 1), returned[first:], color="C0", alpha=0.3, lw=0.8,
            label="Monte Carlo ELBO your step returned (one batch)")  # fmt: skip
    keep = [i for i, s in enumerate(steps_scored) if s > first]
    ax.plot([steps_scored[i] for i in keep], [elbo_scored[i] for i in keep], color="C0",
            label="exact ELBO(q_φ), all 512 observations")  # fmt: skip
    ax.axhline(float(log_px_train), color="k", label="log p(x) (exact)")
    ax.axhline(float(elbo_best), color="C1", ls="--", label="ELBO(q*), best diagonal q")
    ax.set(xlabel="training step", ylabel="nats per observation (mean)")
axes[0].set_title("the whole run")
lo = float(elbo_best) - 4 * max(approximation_gap, 0.1)
axes[1].set(
    ylim=(lo, float(log_px_train) + 0.5), title=f"zoom on steps {n_steps // 3 + 1}-{n_steps}"
)
for top, bottom, name, x_at in (
    (float(log_px_train), float(elbo_best), "approximation gap", 0.97 * n_steps),
    (float(elbo_best), elbo_scored[-1], "amortization gap", 0.90 * n_steps),
):
    axes[1].annotate("", (x_at, bottom), (x_at, top), arrowprops={"arrowstyle": "<->"})
    axes[1].text(x_at - 0.01 * n_steps, (top + bottom) / 2, name, ha="right", va="center",
                 fontsize=8, bbox={"facecolor": "white", "edgecolor": "none"})  # fmt: skip
axes[0].legend(fontsize=8, loc="lower right")
plt.tight_layout()
plt.show()
