"""Chapter 01 exercises: the autoencoder equations (17.1-17.2) and the PCA link."""

from __future__ import annotations

import torch

from edu_gen.course.grading.core import Exercise, allclose, register, seeded_generator
from edu_gen.models import autoencoder as ae


def _forward_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d, k = 4 + seed % 3, 6 + seed % 4, 2 + seed % 3
    return {
        "x": torch.rand(n, d, generator=g),
        "W": torch.randn(k, d, generator=g),
        "b": torch.randn(k, generator=g),
        "W_prime": torch.randn(d, k, generator=g),
        "b_prime": torch.randn(d, generator=g),
    }


def ref_autoencoder_forward(x, W, b, W_prime, b_prime):
    h = torch.sigmoid(x @ W.T + b)
    return torch.sigmoid(h @ W_prime.T + b_prime)


register(
    Exercise(
        id="01.autoencoder_forward",
        title="Encoder and decoder of eq. 17.1 with sigmoid activations",
        inputs=_forward_inputs,
        reference=ref_autoencoder_forward,
        mistakes={
            "apply s_f (the sigmoid) to the code h too": lambda x, W, b, Wp, bp: torch.sigmoid(
                (x @ W.T + b) @ Wp.T + bp
            ),
            "the decoder has its own bias b'": lambda x, W, b, Wp, bp: torch.sigmoid(
                torch.sigmoid(x @ W.T + b) @ Wp.T
            ),
            "the decoder uses W', not the tied weights W^T": lambda x, W, b, Wp, bp: torch.sigmoid(
                torch.sigmoid(x @ W.T + b) @ W + bp
            ),
        },
    )
)


def _ce_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d = 5 + seed % 4, 8 + seed % 5
    return {
        "x": (torch.rand(n, d, generator=g) > 0.5).float(),
        "logits": 3 * torch.randn(n, d, generator=g),
    }


register(
    Exercise(
        id="01.cross_entropy",
        title="Cross-entropy reconstruction loss (eq. 17.2) from logits",
        inputs=_ce_inputs,
        reference=ae.cross_entropy_loss,
        mistakes={
            "sum over the D dimensions, then average over the batch": lambda x, a: (
                torch.nn.functional.softplus(a) - x * a
            ).mean(),
            "the loss is a *negative* log-likelihood": lambda x, a: (
                -(torch.nn.functional.softplus(a) - x * a).sum(1).mean()
            ),
            "include the (1 - x) log(1 - x_hat) term": lambda x, a: (
                (-x * torch.nn.functional.logsigmoid(a)).sum(1).mean()
            ),
        },
    )
)


def _angles_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    d, k = 7 + seed % 3, 2 + seed % 2
    a = torch.randn(d, k, generator=g, dtype=torch.float64)
    mix = torch.randn(k, k, generator=g, dtype=torch.float64) + 3 * torch.eye(
        k, dtype=torch.float64
    )
    b = a @ mix + 0.3 * torch.randn(d, k, generator=g, dtype=torch.float64)
    return {"A": a, "B": b}


def _angles_no_qr(a, b):
    cos = torch.linalg.svdvals(a.T @ b).clamp(-1, 1)
    return torch.sort(torch.arccos(cos)).values


register(
    Exercise(
        id="01.principal_angles",
        title="Principal angles between two subspaces (radians, ascending)",
        inputs=_angles_inputs,
        reference=ae.principal_angles,
        compare=allclose(atol=1e-6),
        mistakes={
            "orthonormalise both bases (QR) before the SVD": _angles_no_qr,
            "return angles in radians, not degrees": lambda a, b: torch.rad2deg(
                ae.principal_angles(a, b)
            ),
            "return the angles, not their cosines": lambda a, b: torch.cos(
                ae.principal_angles(a, b)
            ).flip(0),
        },
    )
)


def _pca_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n, d, k = 20 + seed, 6, 2 + seed % 3
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.linspace(3, 0.2, d).double()
    x = x + 5 * torch.randn(d, generator=g, dtype=torch.float64)  # a far-from-zero mean
    mean, comps = ae.pca(x, k)
    return {"x": x, "mean": mean, "components": comps}


register(
    Exercise(
        id="01.pca_reconstruct",
        title="Project onto the top-k principal subspace and map back",
        inputs=_pca_inputs,
        reference=ae.pca_reconstruct,
        mistakes={
            "centre x (subtract the mean) before projecting": lambda x, m, v: x @ v.T @ v + m,
            "add the mean back after projecting": lambda x, m, v: (x - m) @ v.T @ v,
            "map the k-dim code (x - mean) V^T back to D dimensions": lambda x, m, v: (x - m) @ v.T,
        },
    )
)
