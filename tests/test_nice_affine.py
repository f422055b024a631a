"""Tests for the affine coupling in edu_gen.models.nice (chapter 06, Real NVP's coupling).

Oracles: the autograd Jacobian's ``slogdet`` for the log-determinant, the additive coupling
(``s = 0``) and the composition with the inverse; planted wrong log-determinants must fail
the same comparison.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from edu_gen.core.rng import generator as gen
from edu_gen.models import nice


def affine_layer(parity: int = 0, seed: int = 0) -> nice.AffineCoupling:
    torch.manual_seed(seed)
    return nice.AffineCoupling(7, parity, hidden=16, n_hidden=2).double()


def slogdet_of(fn, x_row: torch.Tensor) -> float:
    sign, logabs = torch.linalg.slogdet(jacobian(lambda v: fn(v[None])[0], x_row))
    assert sign != 0
    return logabs.item()


@pytest.mark.parametrize("parity", [0, 1])
def test_log_det_is_sum_s_against_autograd(parity):
    layer = affine_layer(parity)
    x = torch.randn(4, 7, generator=gen(1), dtype=torch.float64)
    log_det = layer.log_det_jacobian(x)
    i1, _ = nice.partition(7, parity)
    s, _ = layer.st(x[:, i1])
    torch.testing.assert_close(log_det, s.sum(-1))
    for row, want in zip(x, log_det, strict=True):
        assert slogdet_of(layer, row) == pytest.approx(want.item(), abs=1e-10)
    assert log_det.abs().min() > 1e-3  # not volume preserving: the log-det is not zero
    assert log_det.std() > 1e-3  # and it depends on x, unlike a scaling layer's


def test_planted_wrong_log_dets_fail_the_autograd_check():
    layer = affine_layer()
    x = torch.randn(3, 7, generator=gen(2), dtype=torch.float64)
    s, _ = layer.st(x[:, nice.partition(7, 0)[0]])
    truth = torch.tensor([slogdet_of(layer, row) for row in x], dtype=torch.float64)
    for wrong in (torch.zeros(3, dtype=torch.float64), -s.sum(-1), s.exp().sum(-1)):
        assert (wrong - truth).abs().max() > 1e-3


@pytest.mark.parametrize("parity", [0, 1])
def test_inverse_and_copied_half(parity):
    layer = affine_layer(parity, seed=3)
    x = torch.randn(5, 7, generator=gen(4), dtype=torch.float64)
    y = layer(x)
    i1, i2 = nice.partition(7, parity)
    assert torch.equal(y[:, i1], x[:, i1])
    assert not torch.allclose(y[:, i2], x[:, i2])
    torch.testing.assert_close(layer.inverse(y), x, atol=1e-12, rtol=0)
    torch.testing.assert_close(layer(layer.inverse(x)), x, atol=1e-12, rtol=0)


def test_zero_scale_recovers_the_additive_coupling():
    torch.manual_seed(5)
    m = nice.coupling_net(3, 3, 8, 2).double()
    x = torch.randn(6, 6, generator=gen(5), dtype=torch.float64)
    y, log_det = nice.affine_coupling_forward(x, lambda a: (torch.zeros_like(m(a)), m(a)), 1)
    torch.testing.assert_close(y, nice.coupling_forward(x, m, 1), atol=0, rtol=0)
    assert torch.all(log_det == 0)
    back = nice.affine_coupling_inverse(y, lambda a: (torch.zeros_like(m(a)), m(a)), 1)
    torch.testing.assert_close(back, nice.coupling_inverse(y, m, 1), atol=0, rtol=0)


def test_gradients_reach_the_network_and_the_input():
    layer = affine_layer(seed=6)
    x = torch.randn(4, 7, generator=gen(6), dtype=torch.float64, requires_grad=True)
    (layer(x).sum() + layer.log_det_jacobian(x).sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


def test_bad_arguments_raise():
    layer = affine_layer()
    with pytest.raises(ValueError, match=r"x: expected shape \[batch, 7\]"):
        layer(torch.zeros(2, 6, dtype=torch.float64))
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        nice.affine_coupling_forward(torch.zeros(2, 4, dtype=torch.long), layer.st, 0)
    x = torch.zeros(2, 4)
    with pytest.raises(TypeError, match="st: expected a function returning a pair"):
        nice.affine_coupling_forward(x, lambda a: a, 0)
    with pytest.raises(ValueError, match=r"s: expected shape \[2, 2\]"):
        nice.affine_coupling_forward(x, lambda a: (a[:, :1], a), 0)
    with pytest.raises(ValueError, match=r"t: expected shape \[2, 2\]"):
        nice.affine_coupling_inverse(x, lambda a: (a, a[:, :1]), 0)
    with pytest.raises(ValueError, match="odd/even partition"):
        nice.AffineCoupling(1, 0)
