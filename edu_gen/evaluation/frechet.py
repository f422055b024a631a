r"""Sample-quality metric without downloads: a digits *feature Fréchet distance* (FD).

FID (Heusel et al. 2017) compares Inception features of real and generated images. Inception
weights cannot be downloaded here, so we use the same recipe with a small classifier trained
once, with a fixed seed, on the 8×8 digits training split:

.. math::
    \mathrm{FD} = \lVert\mu_r - \mu_g\rVert^2
    + \mathrm{tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big),

with means and covariances of the classifier's penultimate features (:func:`frechet_distance`
uses ``scipy.linalg.sqrtm``). The estimate is biased upwards for finite sample sizes, so an FD
is only meaningful next to the *real-vs-real floor*: the FD between two disjoint sets of real
digits of the same size (:func:`real_floor`). Images are in the ``"signed"`` view ([-1, 1]);
generated samples are clamped into that range first.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import finite_tensor
from edu_gen.core.train import fit
from edu_gen.data import digits, digits_loader

Tensor = torch.Tensor

FEATURE_NET_STEPS = 1500
FEATURE_NET_SEED = 0
DEFAULT_CHECKPOINT = Path("checkpoints") / "digits_feature_net.pt"


class FeatureNet(nn.Module):
    """64 → 128 → 64 (features) → 10 logits, ReLU, with dropout for smoother features."""

    def __init__(self, hidden: int = 128, features: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(64, hidden),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(hidden, features),
            nn.ReLU(),
        )
        self.head = nn.Linear(features, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def _classification_loss(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    x, y = batch
    return nn.functional.cross_entropy(model(x), y)


@functools.lru_cache(maxsize=4)
def feature_net(checkpoint: str | Path = DEFAULT_CHECKPOINT) -> FeatureNet:
    """The fixed-seed digits classifier, trained on first use and cached at ``checkpoint``.

    Kept in memory per ``checkpoint`` (``feature_net.cache_clear()`` forgets it).
    """
    # training the metric must not shift the caller's RNG: seed a forked global RNG
    # (dropout and the initialisation draw from it)
    with rng.seeded(FEATURE_NET_SEED):
        net = FeatureNet()
        fit(
            net,
            _classification_loss,
            digits_loader("train", "signed", batch_size=128, seed=FEATURE_NET_SEED),
            steps=FEATURE_NET_STEPS,
            lr=1e-3,
            device="cpu",
            checkpoint=str(checkpoint),
            checkpoint_every=FEATURE_NET_STEPS,
            progress=False,
            desc="feature net",
        )
    return net.eval()


def _as_batch(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor of digits in [-1, 1]")
    flat = x.detach().reshape(len(x), -1).float().cpu()
    if flat.shape[1] != 64:
        raise ValueError(f"{name}: expected 64 pixels (8×8) per image, got {flat.shape[1]}")
    if len(flat) < 2:
        raise ValueError(f"{name}: expected at least 2 images, got {len(flat)}")
    finite_tensor(name, flat)
    return flat.clamp(-1, 1)


def digit_features(x: Tensor, checkpoint: str | Path = DEFAULT_CHECKPOINT) -> np.ndarray:
    """Penultimate features [N, 64] (float64) of signed digits ``x`` ([N, 64] or [N, 1, 8, 8])."""
    net = feature_net(checkpoint)
    with torch.no_grad():
        return net.body(_as_batch(x, "x")).double().numpy()


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """‖μ1 - μ2‖² + tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^{1/2}) for two Gaussians (real part of sqrtm)."""
    mu1, mu2 = np.asarray(mu1, float), np.asarray(mu2, float)
    cov1, cov2 = np.asarray(cov1, float), np.asarray(cov2, float)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != mu1.shape * 2:
        raise ValueError(
            "mu1, cov1, mu2, cov2: expected means [d] and covariances [d, d], got "
            f"{mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}"
        )
    for name, a in (("mu1", mu1), ("cov1", cov1), ("mu2", mu2), ("cov2", cov2)):
        finite_tensor(name, a)
    with warnings.catch_warnings():  # dead ReLU features make Σ singular: checked below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(covmean).all():  # regularise, as in Heusel et al.'s reference code
            eps = 1e-6 * np.eye(len(mu1))
            covmean = scipy.linalg.sqrtm((cov1 + eps) @ (cov2 + eps))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def _stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(0), np.cov(features, rowvar=False)


def digits_fd(
    samples: Tensor, reference: Tensor | None = None, checkpoint: str | Path = DEFAULT_CHECKPOINT
) -> float:
    """Feature FD between ``samples`` and ``reference`` (default: the signed test digits)."""
    if reference is None:
        reference = digits("test", "signed")[0]
    f1 = digit_features(_as_batch(samples, "samples"), checkpoint)
    f2 = digit_features(_as_batch(reference, "reference"), checkpoint)
    return frechet_distance(*_stats(f1), *_stats(f2))


def real_floor(n: int | None = None, checkpoint: str | Path = DEFAULT_CHECKPOINT) -> float:
    """FD between ``n`` real *training* digits (default: as many as the test split) and the test
    split: what a perfect generator would score at that sample size."""
    x_test = digits("test", "signed")[0]
    x_train = digits("train", "signed")[0]
    n = len(x_test) if n is None else n
    if not 2 <= n <= len(x_train):
        raise ValueError(f"n: expected 2..{len(x_train)}, got {n}")
    rows = torch.randperm(len(x_train), generator=rng.generator(1))[:n]
    return digits_fd(x_train[rows], x_test, checkpoint)
