"""Chapter 01 exercises: the autoencoder equations (17.1-17.2), the PCA link, and one
training step of an autoencoder (the chapter's central algorithm).

Length: one module per chapter's exercises; five specs with their planted mistakes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edu_gen.core import rng
from edu_gen.course.grading.core import (
    Case,
    Exercise,
    allclose,
    register,
    seeded_generator,
    stale_gradients,
    state_after,
)
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


def _ce_extreme(seed: int) -> dict:
    """Logits of ±10⁴, where sigmoid(a) rounds to exactly 0 or 1."""
    inputs = _ce_inputs(seed)
    sign = torch.where(torch.arange(inputs["logits"].numel()) % 3 == 0, -1.0, 1.0)
    inputs["logits"] = 1e4 * sign.reshape(inputs["logits"].shape)
    return inputs


def _ce_soft_targets(seed: int) -> dict:
    inputs = _ce_inputs(seed)
    inputs["x"] = torch.rand(inputs["x"].shape, generator=seeded_generator(seed + 1))
    return inputs


def _ce_log_sigmoid(x, logits):
    """Right on ordinary logits, inf or NaN once sigmoid(a) rounds to 0 or 1."""
    s = torch.sigmoid(logits)
    return -(x * torch.log(s) + (1 - x) * torch.log(1 - s)).sum(1).mean()


register(
    Exercise(
        id="01.cross_entropy",
        title="Cross-entropy reconstruction loss (eq. 17.2) from logits",
        inputs=_ce_inputs,
        reference=ae.cross_entropy_loss,
        grad_inputs=("logits",),
        stability=(
            Case(
                "logits of ±10⁴",
                _ce_extreme,
                "compute -log σ(a) as softplus(-a) and -log(1 - σ(a)) as softplus(a)",
            ),
        ),
        edge_cases=(
            Case(
                "targets x anywhere in [0, 1], not only 0 or 1",
                _ce_soft_targets,
                "the formula holds for any target in [0, 1]: do not branch on x == 1",
            ),
        ),
        unstable=_ce_log_sigmoid,
        mistakes={
            "sum over the D dimensions, then average over the batch": lambda x, a: (
                F.softplus(a) - x * a
            ).mean(),
            "the loss is a *negative* log-likelihood": lambda x, a: (
                -(F.softplus(a) - x * a).sum(1).mean()
            ),
            "include the (1 - x) log(1 - x_hat) term": lambda x, a: (
                (-x * F.logsigmoid(a)).sum(1).mean()
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


def _same_span(seed: int) -> dict:
    """B spans the same subspace as A: every angle is 0 (cosines round to 1 ± 1e-16)."""
    inputs = _angles_inputs(seed)
    a = inputs["A"]
    mix = torch.tensor([[2.0, -1.0], [0.5, 3.0]], dtype=torch.float64)
    k = a.shape[1]
    full = torch.eye(k, dtype=torch.float64)
    full[:2, :2] = mix
    return {"A": a, "B": a @ full}


def _more_columns(seed: int) -> dict:
    """A has three columns, B two: min(k, m) = 2 angles."""
    g = seeded_generator(seed + 1)
    return {
        "A": torch.randn(8, 3, generator=g, dtype=torch.float64),
        "B": torch.randn(8, 2, generator=g, dtype=torch.float64),
    }


register(
    Exercise(
        id="01.principal_angles",
        title="Principal angles between two subspaces (radians, ascending)",
        inputs=_angles_inputs,
        reference=ae.principal_angles,
        compare=allclose(atol=1e-6),
        edge_cases=(
            Case(
                "B spans the same subspace as A (every angle 0)",
                _same_span,
                "clamp the cosines to [-1, 1] before torch.arccos",
            ),
            Case(
                "A with 3 columns, B with 2 (min(k, m) = 2 angles)",
                _more_columns,
                "k and m may differ: there are min(k, m) angles",
            ),
        ),
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
    """New data ``x`` and a PCA (mean, components) fitted on a separate training sample, so
    that neither can be recomputed from ``x``."""
    g = seeded_generator(seed)
    n, d, k = 20 + seed, 6, 2 + seed % 3
    spread = torch.linspace(3, 0.2, d).double()
    centre = 5 * torch.randn(d, generator=g, dtype=torch.float64)  # a far-from-zero mean
    train = torch.randn(40, d, generator=g, dtype=torch.float64) * spread + centre
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * spread + centre
    mean, comps = ae.pca(train, k)
    return {"x": x, "mean": mean, "components": comps}


def _other_components(inputs, g) -> torch.Tensor:
    """Other directions, still orthonormal rows (a perturbation, then QR)."""
    v = inputs["components"]
    q, _ = torch.linalg.qr((v + 0.3 * torch.randn(v.shape, generator=g, dtype=v.dtype)).T)
    return q.T


register(
    Exercise(
        id="01.pca_reconstruct",
        title="Project onto the top-k principal subspace and map back",
        inputs=_pca_inputs,
        reference=ae.pca_reconstruct,
        perturb={"components": _other_components},
        mistakes={
            "centre x (subtract the mean) before projecting": lambda x, m, v: x @ v.T @ v + m,
            "add the mean back after projecting": lambda x, m, v: (x - m) @ v.T @ v,
            "map the k-dim code (x - mean) V^T back to D dimensions": lambda x, m, v: (x - m) @ v.T,
        },
    )
)


# ------------------------------------------------------------ the central algorithm


def _step_inputs(seed: int) -> dict:
    """A small float64 autoencoder with gradients left over from an earlier backward pass,
    a plain SGD optimiser on it, and a batch of pixel intensities in [0, 1]."""
    g = seeded_generator(seed)
    d, k, n = 12 + seed % 5, 2 + seed % 3, 6 + seed % 4
    with rng.seeded(seed):
        model = ae.Autoencoder(d, k, hidden=(8,), out_activation="identity").double()
    stale_gradients(model, g)
    optimizer = torch.optim.SGD(model.parameters(), lr=[0.05, 0.2, 0.5][seed % 3])
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    return {"model": model, "optimizer": optimizer, "x": x}


def ref_train_step(model, optimizer, x):
    """One step on the cross-entropy of eq. 17.2: clear old gradients, loss, backward, step."""
    optimizer.zero_grad()
    loss = ae.cross_entropy_loss(x, model(x))
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_no_zero_grad(model, optimizer, x):
    loss = ae.cross_entropy_loss(x, model(x))
    loss.backward()  # adds to the gradients already there
    optimizer.step()
    return loss.item()


def _step_mean_over_pixels(model, optimizer, x):
    optimizer.zero_grad()
    loss = F.binary_cross_entropy_with_logits(model(x), x)  # also averages over the D pixels
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_sigmoid_twice(model, optimizer, x):
    optimizer.zero_grad()
    loss = ae.cross_entropy_loss(x, torch.sigmoid(model(x)))  # the output is already a logit
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_before_backward(model, optimizer, x):
    optimizer.zero_grad()
    loss = ae.cross_entropy_loss(x, model(x))
    optimizer.step()  # the gradients are still zero here
    loss.backward()
    return loss.item()


def _step_loss_after(model, optimizer, x):
    ref_train_step(model, optimizer, x)
    with torch.no_grad():
        return ae.cross_entropy_loss(x, model(x)).item()


register(
    Exercise(
        id="01.train_step",
        title="One training step of an autoencoder on the cross-entropy of eq. 17.2",
        points=20,
        inputs=_step_inputs,
        reference=ref_train_step,
        changes=("model", "optimizer"),  # a step updates them: that is its job
        outcome=state_after("model"),  # graded: the loss it returns and the new parameters
        perturb={"model": None, "optimizer": None},  # the optimiser holds the model's tensors
        mistakes={
            "clear the old gradients (optimizer.zero_grad()) before loss.backward()": (
                _step_no_zero_grad
            ),
            "sum the cross-entropy over the pixels, then average over the batch": (
                _step_mean_over_pixels
            ),
            "the model outputs logits: do not apply a sigmoid before the cross-entropy": (
                _step_sigmoid_twice
            ),
            "call loss.backward() before optimizer.step()": _step_before_backward,
            "return the loss of the batch before the step (loss.item())": _step_loss_after,
        },
    )
)
