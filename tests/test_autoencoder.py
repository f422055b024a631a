"""Tests for edu_gen.models.autoencoder (chapter 01): models, losses, PCA and principal angles.

Losses are compared with torch's own functional / distribution implementations, PCA with
scikit-learn and principal angles with SciPy, so each check has an independent oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from torch import nn

from edu_gen.core.rng import generator as gen
from edu_gen.models import autoencoder as ae
from edu_gen.models.autoencoder import (
    Autoencoder,
    cross_entropy_loss,
    l2_loss,
    linear_autoencoder,
    pca,
    pca_reconstruct,
    principal_angles,
)


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=dtype)


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize("hidden", [(), (32,), (24, 12)])
def test_autoencoder_shapes_on_device(device, hidden):
    torch.manual_seed(0)
    model = Autoencoder(20, 3, hidden=hidden).to(device)
    x = torch.rand(7, 20, generator=gen(1)).to(device)
    h = model.encode(x)
    x_hat = model.decode(h)
    assert h.shape == (7, 3) and h.device.type == device.type
    assert x_hat.shape == (7, 20) and x_hat.device.type == device.type
    torch.testing.assert_close(model(x), x_hat)
    # default out_activation is a sigmoid, so reconstructions lie in (0, 1)
    assert torch.all((x_hat > 0) & (x_hat < 1))


def test_autoencoder_layers_follow_the_requested_architecture():
    model = Autoencoder(10, 2, hidden=(8, 4), activation="tanh", code_activation="sigmoid")
    linears = [m for m in model.encoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 8), (8, 4), (4, 2)]
    linears = [m for m in model.decoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 4), (4, 8), (8, 10)]
    assert isinstance(model.encoder[-1], nn.Sigmoid)  # code activation s_f
    assert isinstance(model.encoder[1], nn.Tanh)
    assert isinstance(model.decoder[-1], nn.Sigmoid)  # out activation s_g


def test_linear_autoencoder_is_affine(device):
    torch.manual_seed(0)
    model = linear_autoencoder(12, 4).to(device)
    layers = [*model.encoder, *model.decoder]
    assert all(isinstance(m, (nn.Linear, nn.Identity)) for m in layers)
    x1 = randn(9, 12, seed=1, dtype=torch.float32).to(device)
    x2 = randn(9, 12, seed=2, dtype=torch.float32).to(device)
    for a in (-1.5, 0.0, 0.3, 2.0):
        mixed = model(a * x1 + (1 - a) * x2)
        torch.testing.assert_close(mixed, a * model(x1) + (1 - a) * model(x2), atol=1e-5, rtol=1e-5)
    # the affinity check bites: the default (ReLU + sigmoid) autoencoder fails it
    torch.manual_seed(0)
    nonlinear = Autoencoder(12, 4).to(device)
    a = 0.3
    gap = nonlinear(a * x1 + (1 - a) * x2) - (a * nonlinear(x1) + (1 - a) * nonlinear(x2))
    assert gap.abs().max().item() > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_dim": 10, "bottleneck": 0}, "bottleneck"),
        ({"in_dim": 10, "bottleneck": -2}, "bottleneck"),
        ({"in_dim": 10, "bottleneck": 2.5}, "bottleneck"),
        ({"in_dim": 0, "bottleneck": 2}, "in_dim"),
        ({"in_dim": 10, "bottleneck": 2, "activation": "gelu"}, "activation"),
        ({"in_dim": 10, "bottleneck": 2, "code_activation": "softmax"}, "code_activation"),
        ({"in_dim": 10, "bottleneck": 2, "out_activation": "Sigmoid"}, "out_activation"),
    ],
)
def test_autoencoder_rejects_bad_constructor_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Autoencoder(**kwargs)


def test_unknown_activation_message_lists_the_choices():
    with pytest.raises(ValueError, match="identity.*relu.*sigmoid.*tanh"):
        Autoencoder(10, 2, activation="swish")


@pytest.mark.parametrize(
    ("method", "bad", "match"),
    [
        ("encode", torch.zeros(4, 9), r"x: expected shape \[batch, 10\], got \(4, 9\)"),
        ("encode", torch.zeros(10), r"x: expected shape \[batch, 10\], got \(10,\)"),
        ("encode", torch.zeros(2, 1, 10), r"x: expected shape \[batch, 10\]"),
        ("encode", [[0.0] * 10], r"x: expected shape \[batch, 10\], got list"),
        ("forward", torch.zeros(4, 11), r"x: expected shape \[batch, 10\], got \(4, 11\)"),
        ("decode", torch.zeros(4, 10), r"h: expected shape \[batch, 3\], got \(4, 10\)"),
        ("decode", torch.zeros(3), r"h: expected shape \[batch, 3\], got \(3,\)"),
    ],
)
def test_autoencoder_rejects_bad_input_shapes(method, bad, match):
    model = Autoencoder(10, 3)
    with pytest.raises(ValueError, match=match):
        getattr(model, method)(bad)


# ------------------------------------------------------------------ the losses


def test_l2_loss_matches_mse_oracle(device):
    x = torch.rand(16, 30, generator=gen(0)).to(device)
    x_hat = torch.rand(16, 30, generator=gen(1)).to(device)
    oracle = F.mse_loss(x_hat, x, reduction="none").sum(1).mean()
    torch.testing.assert_close(l2_loss(x, x_hat), oracle)
    assert l2_loss(x, x).item() == 0.0
    # sum over D, mean over N: one unit error in one cell of a 2-row batch gives 0.5
    y = torch.zeros(2, 5, device=device)
    y_hat = y.clone()
    y_hat[0, 3] = 1.0
    assert l2_loss(y, y_hat).item() == pytest.approx(0.5)


def test_cross_entropy_matches_bce_with_logits_oracle(device):
    x = torch.rand(16, 30, generator=gen(0)).to(device)  # soft targets in [0, 1]
    logits = 3 * torch.randn(16, 30, generator=gen(1)).to(device)
    oracle = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()
    torch.testing.assert_close(cross_entropy_loss(x, logits), oracle)


def test_cross_entropy_matches_bernoulli_log_prob_oracle():
    x = (torch.rand(20, 15, generator=gen(2)) < 0.4).double()  # binary targets
    logits = 2 * randn(20, 15, seed=3)
    nll = -torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(1).mean()
    torch.testing.assert_close(cross_entropy_loss(x, logits), nll)
    # and the textbook formula on sigma(a), away from saturation
    p = torch.sigmoid(logits)
    textbook = -(x * p.log() + (1 - x) * (1 - p).log()).sum(1).mean()
    torch.testing.assert_close(cross_entropy_loss(x, logits), textbook)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cross_entropy_is_finite_for_extreme_logits(dtype):
    logits = torch.tensor([[1e4, -1e4, 1e4, -1e4]], dtype=dtype)
    right = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=dtype)
    wrong = 1 - right
    assert cross_entropy_loss(right, logits).item() == pytest.approx(0.0, abs=1e-6)
    assert cross_entropy_loss(wrong, logits).item() == pytest.approx(4e4, rel=1e-6)
    half = torch.full_like(logits, 0.5)
    loss = cross_entropy_loss(half, logits)
    assert torch.isfinite(loss)
    oracle = F.binary_cross_entropy_with_logits(logits, half, reduction="none").sum(1).mean()
    torch.testing.assert_close(loss, oracle)
    logits.requires_grad_(True)
    cross_entropy_loss(half, logits).backward()
    assert torch.all(torch.isfinite(logits.grad))


@pytest.mark.parametrize("loss", [l2_loss, cross_entropy_loss])
def test_losses_reject_shape_mismatch(loss):
    with pytest.raises(ValueError, match=r"expected the shape of x \(4, 5\), got \(4, 6\)"):
        loss(torch.rand(4, 5), torch.rand(4, 6))
    with pytest.raises(ValueError, match=r"expected shape \[batch, D\], got \(5,\)"):
        loss(torch.rand(5), torch.rand(5))


@pytest.mark.parametrize("loss", [l2_loss, cross_entropy_loss])
def test_losses_reject_integer_tensors(loss):
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        loss(torch.ones(3, 4, dtype=torch.long), torch.rand(3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        loss(torch.rand(3, 4), torch.ones(3, 4, dtype=torch.int32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        loss(np.zeros((3, 4)), torch.rand(3, 4))


@pytest.mark.parametrize("bad", [-0.01, 1.01, 255.0])
def test_cross_entropy_rejects_targets_outside_unit_interval(bad):
    x = torch.rand(3, 4, generator=gen(0))
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"x: .*\[0, 1\]"):
        cross_entropy_loss(x, torch.zeros(3, 4))
    l2_loss(x, torch.zeros(3, 4))  # the squared error has no such restriction


# ------------------------------------------------------------------ PCA


def correlated_data(n: int, d: int, seed: int) -> torch.Tensor:
    """Data with a well-separated spectrum, so sklearn's and our directions are unique."""
    scales = torch.linspace(5.0, 0.2, d, dtype=torch.float64)
    mix = torch.linalg.qr(randn(d, d, seed=seed + 100))[0]
    return randn(n, d, seed=seed) * scales @ mix.T + torch.arange(d, dtype=torch.float64)


@pytest.mark.parametrize(("n", "d", "k"), [(200, 10, 3), (50, 6, 6), (15, 30, 4)])
def test_pca_matches_sklearn(n, d, k):
    x = correlated_data(n, d, seed=n + d)
    mean, comps = pca(x, k)
    ref = PCA(n_components=k, svd_solver="full").fit(x.numpy())
    assert mean.shape == (d,) and comps.shape == (k, d)
    np.testing.assert_allclose(mean.numpy(), ref.mean_, atol=1e-10)
    signs = np.sign(np.sum(comps.numpy() * ref.components_, axis=1, keepdims=True))
    np.testing.assert_allclose(comps.numpy() * signs, ref.components_, atol=1e-8)
    torch.testing.assert_close(comps @ comps.T, torch.eye(k, dtype=comps.dtype))


@pytest.mark.parametrize("k", [0, -1, 7, 11])
def test_pca_rejects_bad_k(k):
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 6"):
        pca(randn(6, 10), k)  # min(N, D) = 6


def test_pca_rejects_non_matrix():
    with pytest.raises(ValueError, match=r"x: expected shape \[N, D\]"):
        pca(randn(10), 1)


def test_pca_reconstruct_is_a_projection():
    x = correlated_data(100, 8, seed=4)
    mean, comps = pca(x, 3)
    x_hat = pca_reconstruct(x, mean, comps)
    torch.testing.assert_close(pca_reconstruct(x_hat, mean, comps), x_hat)  # idempotent
    residual = x - x_hat
    torch.testing.assert_close(residual @ comps.T, torch.zeros(100, 3, dtype=x.dtype))
    # sklearn's inverse_transform(transform(x)) is the same reconstruction
    ref = PCA(n_components=3, svd_solver="full").fit(x.numpy())
    np.testing.assert_allclose(x_hat.numpy(), ref.inverse_transform(ref.transform(x.numpy())))
    # with k = D nothing is lost
    mean, comps = pca(x, 8)
    torch.testing.assert_close(pca_reconstruct(x, mean, comps), x)


# ------------------------------------------------------------------ principal angles


def scipy_angles(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return scipy.linalg.subspace_angles(a.numpy(), b.numpy())[::-1]  # scipy is descending


@pytest.mark.parametrize(("d", "k", "m"), [(10, 3, 3), (20, 5, 2), (8, 2, 6), (40, 10, 10)])
def test_principal_angles_match_scipy(d, k, m):
    a, b = randn(d, k, seed=d + k), randn(d, m, seed=d + m + 1)
    ours = principal_angles(a, b)
    assert ours.shape == (min(k, m),) and ours.dtype == a.dtype
    assert torch.all(ours[1:] >= ours[:-1])  # ascending
    np.testing.assert_allclose(ours.numpy(), scipy_angles(a, b), atol=1e-10)
    np.testing.assert_allclose(principal_angles(b, a).numpy(), ours.numpy(), atol=1e-10)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_principal_angles_of_nearly_identical_subspaces(k):
    d = 15
    q = torch.linalg.qr(randn(d, 2 * k, seed=k))[0]
    qa, p = q[:, :k], q[:, k:]  # p is orthonormal and orthogonal to span(qa)
    theta = torch.linspace(1e-3, 3e-3, k, dtype=torch.float64)
    b = (qa * theta.cos() + p * theta.sin()) @ randn(k, k, seed=7)  # skewed basis
    a = qa @ randn(k, k, seed=8)
    ours = principal_angles(a, b)
    np.testing.assert_allclose(ours.numpy(), theta.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.numpy(), scipy_angles(a, b), rtol=0, atol=1e-6)


def test_principal_angles_zero_for_a_rotated_basis_of_the_same_span():
    a = randn(12, 4, seed=0)
    rotation = torch.linalg.qr(randn(4, 4, seed=1))[0]
    for b in (a @ rotation, a @ randn(4, 4, seed=2), a.flip(1)):
        angles = principal_angles(a, b)
        assert angles.shape == (4,)
        assert angles.abs().max().item() < 1e-6
    # float32 inputs give float32 angles (computed in float64 inside)
    angles = principal_angles(a.float(), (a @ rotation).float())
    assert angles.dtype == torch.float32 and angles.abs().max().item() < 1e-3


def test_principal_angles_right_angle_for_orthogonal_subspaces():
    eye = torch.eye(6, dtype=torch.float64)
    a = eye[:, :2] @ randn(2, 2, seed=3)
    b = eye[:, 2:5] @ randn(3, 3, seed=4)
    angles = principal_angles(a, b)
    torch.testing.assert_close(angles, torch.full((2,), math.pi / 2, dtype=torch.float64))


def test_principal_angles_mixed_case_known_answer():
    # span{e1, e2} vs span{e1, cos t e2 + sin t e3}: angles (0, t)
    t = 0.7
    a = torch.eye(4, dtype=torch.float64)[:, :2]
    b = torch.tensor([[1.0, 0, 0, 0], [0, math.cos(t), math.sin(t), 0]], dtype=torch.float64).T
    torch.testing.assert_close(principal_angles(a, b), torch.tensor([0.0, t], dtype=b.dtype))


def test_principal_angles_of_integer_matrices_are_not_truncated():
    """Integer bases must give the true angles (or be refused), never angles cast to int."""
    a = torch.eye(4, dtype=torch.long)[:, :2]  # span{e1, e2}
    b = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0]]).T  # span{e1, e2 + e3}: angles (0, pi/4)
    try:
        angles = principal_angles(a, b)
    except (TypeError, ValueError):
        return
    assert angles.is_floating_point(), f"angles came back as {angles.dtype}: {angles}"
    torch.testing.assert_close(angles.double(), torch.tensor([0.0, math.pi / 4]).double())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (torch.zeros(5, 2), torch.zeros(6, 2)),
        (torch.zeros(5), torch.zeros(5, 2)),
        (torch.zeros(5, 2), torch.zeros(5, 2, 1)),
    ],
)
def test_principal_angles_reject_mismatched_shapes(a, b):
    with pytest.raises(ValueError, match=r"a, b: expected \[D, k\] matrices with equal D"):
        principal_angles(a, b)


def test_mutation_without_qr_is_caught_by_the_scipy_oracle(monkeypatch):
    """Cheap mutation check: drop the orthonormalisation and the oracle comparison fails."""
    a, b = randn(10, 3, seed=11), randn(10, 3, seed=12)  # random, far from orthonormal
    expected = scipy_angles(a, b)
    np.testing.assert_allclose(principal_angles(a, b).numpy(), expected, atol=1e-10)
    monkeypatch.setattr(ae.torch.linalg, "qr", lambda m: (m, None))  # mutant: no QR
    mutant = principal_angles(a, b)
    assert not np.allclose(mutant.numpy(), expected, atol=1e-3)
    monkeypatch.undo()
    np.testing.assert_allclose(principal_angles(a, b).numpy(), expected, atol=1e-10)


# ------------------------------------------------------ the fit loss and the layout


@pytest.mark.parametrize(("loss", "fn"), [("l2", l2_loss), ("ce", cross_entropy_loss)])
def test_autoencoder_loss_is_the_reconstruction_loss(loss, fn):
    torch.manual_seed(0)
    model = Autoencoder(10, 3, out_activation="identity")
    x = torch.rand(6, 10, generator=gen(1))
    want = fn(x, model(x))
    torch.testing.assert_close(ae.autoencoder_loss(model, (x, torch.zeros(6)), loss), want)
    torch.testing.assert_close(ae.autoencoder_loss(model, x, loss), want)
    with pytest.raises(ValueError, match="loss: expected one of"):
        ae.autoencoder_loss(model, x, "l1")


def test_state_dict_layout_is_stable():
    """Checkpoints of earlier versions load: one activation module after every linear layer."""
    keys = list(Autoencoder(10, 3, hidden=(8,)).state_dict())
    want = [
        f"{part}.{i}.{p}"
        for part in ("encoder", "decoder")
        for i in (0, 2)
        for p in ("weight", "bias")
    ]
    assert keys == want
    assert list(linear_autoencoder(10, 3).state_dict()) == [
        "encoder.0.weight", "encoder.0.bias", "decoder.0.weight", "decoder.0.bias"
    ]  # fmt: skip
