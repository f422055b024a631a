"""Tests for edu_gen.models.nice (chapter 06): couplings, scaling, priors, dequantisation, bits/dim.

Oracles: the autograd Jacobian's ``slogdet`` for every log-determinant, torch.distributions
for the two priors, and the ``normflows`` library (optional extra) built with the same
weights for the full log-likelihood and the inverse.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from edu_gen.core.rng import generator as gen
from edu_gen.models import nice


def small_nice(prior: str = "logistic", seed: int = 0) -> nice.NICE:
    torch.manual_seed(seed)
    model = nice.NICE(6, n_couplings=4, hidden=16, n_hidden=2, prior=prior).double()
    with torch.no_grad():
        model.scaling.log_scale.copy_(0.5 * torch.randn(6, generator=gen(seed + 1)))
    return model


def slogdet_of(fn, x_row: torch.Tensor) -> float:
    jac = jacobian(lambda v: fn(v[None])[0], x_row)
    sign, logabs = torch.linalg.slogdet(jac)
    assert sign != 0
    return logabs.item()


# ------------------------------------------------------------------ layers
def test_partition_alternates_and_rejects_1d():
    i1, i2 = nice.partition(5, 0)
    assert i1.tolist() == [0, 2, 4] and i2.tolist() == [1, 3]
    j1, j2 = nice.partition(5, 1)
    assert j1.tolist() == [1, 3] and j2.tolist() == [0, 2, 4]
    with pytest.raises(ValueError, match="odd/even partition"):
        nice.partition(1, 0)
    with pytest.raises(ValueError, match="parity"):
        nice.partition(4, 2)
    with pytest.raises(ValueError, match="odd/even"):
        nice.NICE(1)


def test_coupling_log_det_is_zero_against_autograd():
    torch.manual_seed(0)
    layer = nice.AdditiveCoupling(6, 1, hidden=8, n_hidden=2).double()
    x = torch.randn(3, 6, generator=gen(0), dtype=torch.float64)
    for row in x:
        assert slogdet_of(layer, row) == pytest.approx(0.0, abs=1e-10)
    assert torch.all(layer.log_det_jacobian(x) == 0)
    torch.testing.assert_close(layer.inverse(layer(x)), x)
    assert torch.equal(layer(x)[:, layer.i1], x[:, layer.i1])  # the first half is copied


def test_scaling_log_det_is_sum_log_s_against_autograd():
    layer = nice.Scaling(5).double()
    with torch.no_grad():
        layer.log_scale.copy_(torch.tensor([0.3, -1.0, 2.0, 0.0, -0.2]))
    x = torch.randn(2, 5, dtype=torch.float64)
    want = torch.log(layer.scale).sum().item()
    assert slogdet_of(layer, x[0]) == pytest.approx(want, abs=1e-10)
    assert layer.log_det_jacobian(x)[1].item() == pytest.approx(want)
    assert nice.scaling_log_det(layer.scale.detach()).item() == pytest.approx(want)


def test_scaling_log_det_rejects_non_positive_scales():
    with pytest.raises(ValueError, match="scale: expected finite, strictly positive"):
        nice.scaling_log_det(torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="scale"):
        nice.scaling_log_det(torch.tensor([1.0, -2.0]))


def test_full_model_log_det_and_inverse(device):
    model = small_nice().to(device)
    x = torch.randn(4, 6, generator=gen(3), dtype=torch.float64).to(device)
    h, log_det = model(x)
    torch.testing.assert_close(model.inverse(h), x, atol=1e-10, rtol=0)
    want = slogdet_of(lambda v: model(v)[0], x[0])
    assert log_det[0].item() == pytest.approx(want, abs=1e-8)
    assert log_det[0].item() == pytest.approx(model.scaling.log_scale.sum().item(), abs=1e-10)


def test_bad_shapes_raise():
    model = small_nice()
    with pytest.raises(ValueError, match=r"x: expected shape \[batch, 6\]"):
        model(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        model(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="prior"):
        nice.NICE(4, prior="laplace")


# ------------------------------------------------------------------ priors and likelihood
def test_priors_match_torch_distributions():
    h = 4 * torch.randn(10, 3, generator=gen(1), dtype=torch.float64)
    normal = torch.distributions.Normal(0.0, 1.0).log_prob(h).sum(-1)
    torch.testing.assert_close(nice.gaussian_log_prob(h), normal)
    logistic = torch.distributions.TransformedDistribution(
        torch.distributions.Uniform(torch.tensor(0.0).double(), torch.tensor(1.0).double()),
        [torch.distributions.SigmoidTransform().inv],
    )
    torch.testing.assert_close(nice.logistic_log_prob(h), logistic.log_prob(h).sum(-1))
    assert torch.isfinite(nice.logistic_log_prob(torch.tensor([[1e4, -1e4]])))


def test_logistic_prior_samples_have_logistic_variance():
    h = nice.prior_sample(200_000, 1, "logistic", gen(0))
    assert h.var().item() == pytest.approx(math.pi**2 / 3, rel=0.03)


@pytest.mark.parametrize("prior", nice.PRIORS)
def test_log_prob_is_change_of_variables(prior):
    model = small_nice(prior)
    x = torch.randn(5, 6, generator=gen(4), dtype=torch.float64)
    h, _ = model(x)
    want = nice.prior_log_prob(h, prior) + model.scaling.log_scale.sum()
    torch.testing.assert_close(model.log_prob(x), want)


def test_log_prob_integrates_to_one_in_2d():
    torch.manual_seed(0)
    model = nice.NICE(2, n_couplings=3, hidden=8, n_hidden=1, prior="gaussian").double()
    with torch.no_grad():
        model.scaling.log_scale.copy_(torch.tensor([0.4, -0.3]))
    t = torch.linspace(-12, 12, 481, dtype=torch.float64)
    xx, yy = torch.meshgrid(t, t, indexing="ij")
    x = torch.stack([xx.flatten(), yy.flatten()], 1)
    mass = model.log_prob(x).exp().sum() * (t[1] - t[0]) ** 2
    assert mass.item() == pytest.approx(1.0, abs=2e-3)


def test_samples_are_inverse_of_prior_samples():
    model = small_nice().float()
    s = model.sample(7, generator=gen(5))
    h = nice.prior_sample(7, 6, "logistic", gen(5))
    torch.testing.assert_close(model(s)[0], h, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ logit preprocessing
def test_logit_transform_matches_torch_distributions_and_autograd():
    alpha = 0.05
    x = torch.rand(4, 5, generator=gen(0), dtype=torch.float64)
    z, log_det = nice.logit_forward(x, alpha)
    dist = torch.distributions.transforms
    oracle = dist.ComposeTransform(
        [dist.AffineTransform(alpha, 1 - 2 * alpha), dist.SigmoidTransform().inv]
    )
    torch.testing.assert_close(z, oracle(x))
    torch.testing.assert_close(log_det, oracle.log_abs_det_jacobian(x, z).sum(-1))
    fn = lambda v: nice.logit_forward(v, alpha)[0]  # noqa: E731
    assert log_det[0].item() == pytest.approx(slogdet_of(fn, x[0]), abs=1e-10)
    torch.testing.assert_close(nice.logit_inverse(z, alpha), x)


def test_logit_transform_rejects_values_it_cannot_map():
    for bad in (torch.tensor([[1.5]]), torch.tensor([[-0.2]]), torch.tensor([[float("nan")]])):
        with pytest.raises(ValueError, match=r"x: the logit preprocessing expects"):
            nice.logit_forward(bad, 0.01)
    for alpha in (0.0, 0.5, -1.0, True):
        with pytest.raises(ValueError, match="alpha"):
            nice.logit_forward(torch.tensor([[0.5]]), alpha)
    with pytest.raises(ValueError, match="alpha"):
        nice.NICE(4, logit_alpha=0.7)


def test_nice_with_logit_is_a_normalised_density():
    """In 2-D, the density integrates to 1 over the logit's whole domain, a bit beyond [0, 1]."""
    torch.manual_seed(0)
    alpha = 0.05
    model = nice.NICE(2, n_couplings=3, hidden=8, n_hidden=1, logit_alpha=alpha).double()
    with torch.no_grad():
        model.scaling.log_scale.copy_(torch.tensor([0.6, -0.2]))
    lo, hi = -alpha / (1 - 2 * alpha), (1 - alpha) / (1 - 2 * alpha)
    n = 500
    t = lo + (hi - lo) * (torch.arange(n, dtype=torch.float64) + 0.5) / n  # cell midpoints
    xx, yy = torch.meshgrid(t, t, indexing="ij")
    x = torch.stack([xx.flatten(), yy.flatten()], 1)
    with torch.no_grad():
        log_p = model.log_prob(x)
        mass = log_p.exp().sum() * ((hi - lo) / n) ** 2
        h, log_det = model(x)
    assert mass.item() == pytest.approx(1.0, abs=5e-3)
    # mutation check: without the logit's log-determinant the "density" is far from normalised
    no_logit_det = nice.prior_log_prob(h, "logistic") + model.scaling.log_scale.sum()
    wrong = no_logit_det.exp().sum() * ((hi - lo) / n) ** 2
    assert abs(wrong.item() - 1.0) > 0.5
    # the inverse undoes the logit too, and samples land inside the logit's domain
    torch.testing.assert_close(model.inverse(h), x)
    s = model.sample(1000, generator=gen(2))
    assert s.min() > lo and s.max() < hi


# ------------------------------------------------------------------ discrete data
def test_dequantize_stays_in_its_cell():
    levels = torch.randint(0, 17, (50, 64), generator=gen(0)).float()
    x = nice.dequantize(levels, 17, gen(1))
    assert torch.all(torch.floor(x * 17) == levels)
    assert x.min() >= 0 and x.max() < 1
    with pytest.raises(ValueError, match="levels"):
        nice.dequantize(torch.tensor([17.0]), 17)
    with pytest.raises(ValueError, match="integer"):
        nice.dequantize(torch.tensor([1.5]), 17)


def test_bits_per_dim_includes_the_rescaling():
    # the uniform density on [0, 1)^D is the uniform distribution over levels: log2(L) bits/dim
    assert nice.bits_per_dim(torch.tensor(0.0), 64, 17).item() == pytest.approx(math.log2(17))
    # against the level-scale density computed directly: p_Y(y) = p_X(y / L) / L^D
    log_px = torch.tensor([-20.0, 35.0])
    log_py = log_px - 64 * math.log(17)
    torch.testing.assert_close(nice.bits_per_dim(log_px, 64, 17), -log_py / (64 * math.log(2)))


def test_mutants_of_bits_per_dim_are_caught():
    """The test above bites: dropping the log-det term or using nats would fail it."""
    log_px = torch.tensor([-20.0])
    right = nice.bits_per_dim(log_px, 64, 17)
    no_logdet = -log_px / (64 * math.log(2))
    nats = (-log_px + 64 * math.log(17)) / 64
    assert not torch.allclose(no_logdet, right) and not torch.allclose(nats, right)


# ------------------------------------------------------------------ oracle: normflows
def _as_normflows(model: nice.NICE):
    nf = pytest.importorskip("normflows")

    class Shift(torch.nn.Module):
        """normflows' t(b * z): a full-size vector, -m(z_I1) at I2 (its inverse subtracts t)."""

        def __init__(self, layer: nice.AdditiveCoupling) -> None:
            super().__init__()
            self.layer = layer

        def forward(self, z_masked):
            out = torch.zeros_like(z_masked)
            out[:, self.layer.i2] = -self.layer.m(z_masked[:, self.layer.i1])
            return out

    flows = []
    scale = nf.flows.AffineConstFlow((model.dim,), scale=True, shift=False)
    with torch.no_grad():  # normflows maps z -> x; its inverse (x -> z) divides by exp(s)
        scale.s.copy_(-model.scaling.log_scale.detach()[None])
    flows.append(scale)
    for layer in reversed(model.couplings):
        mask = torch.zeros(model.dim, dtype=model.scaling.log_scale.dtype)
        mask[layer.i1] = 1
        flows.append(nf.flows.MaskedAffineFlow(mask, t=Shift(layer)))
    if model.logit_alpha is not None:  # applied last on the way latent -> data
        flows.append(nf.transforms.Logit(model.logit_alpha))
    base = nf.distributions.DiagGaussian(model.dim, trainable=False)
    return nf.NormalizingFlow(base, flows).to(model.scaling.log_scale.dtype)


def test_log_prob_and_inverse_match_normflows():
    model = small_nice("gaussian").double()
    oracle = _as_normflows(model)
    x = torch.randn(8, 6, generator=gen(6), dtype=torch.float64)
    torch.testing.assert_close(model.log_prob(x), oracle.log_prob(x))
    h, _ = model(x)
    torch.testing.assert_close(oracle.inverse(x), h)  # normflows' inverse is data -> latent
    torch.testing.assert_close(oracle.forward(h), model.inverse(h))
    torch.testing.assert_close(oracle.forward(h), x)


def test_logit_nice_matches_normflows_logit_transform():
    torch.manual_seed(0)
    model = nice.NICE(6, n_couplings=4, hidden=16, n_hidden=2, prior="gaussian", logit_alpha=0.05)
    model = model.double()
    with torch.no_grad():
        model.scaling.log_scale.copy_(0.5 * torch.randn(6, generator=gen(1), dtype=torch.float64))
    oracle = _as_normflows(model)
    x = torch.rand(8, 6, generator=gen(7), dtype=torch.float64)
    torch.testing.assert_close(model.log_prob(x), oracle.log_prob(x))
    h, _ = model(x)
    torch.testing.assert_close(oracle.forward(h), model.inverse(h))


def test_nll_objective_is_minus_log_prob_per_dimension():
    torch.manual_seed(0)
    flow = nice.NICE(6, 2, 8, 1, logit_alpha=1e-3)
    levels = torch.randint(0, 17, (5, 6), generator=gen(0)).float()
    out = nice.nll_objective(17, gen(3))(flow, (levels, torch.zeros(5)))
    log_px = flow.log_prob(nice.dequantize(levels, 17, gen(3)))
    torch.testing.assert_close(out["loss"], -log_px.mean() / 6)
    torch.testing.assert_close(out["bits_per_dim"], nice.bits_per_dim(log_px, 6, 17).mean())
    with pytest.raises(TypeError, match="generator"):
        nice.nll_objective(17, 3)


def test_coupling_net_layout_is_stable():
    """Checkpoints of earlier versions load: Linear, ReLU, ..., Linear at the same indices."""
    net = nice.coupling_net(3, 3, 8, 2)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
