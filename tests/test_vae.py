"""Tests for edu_gen.models.vae (chapter 04): decoders, ELBO, active units, KL warm-up, free bits.

Oracles: torch.distributions (Bernoulli / Normal log-densities, Gaussian KL), numerical
quadrature of log p(x) on a 1-D latent model (the ELBO must lie below it, and the gap must
equal KL(q || p(z|x))), and exhaustive enumeration of all binary images for the
autoregressive decoder (its probabilities must sum to one).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from edu_gen.core.distributions import LOGVAR_RANGE
from edu_gen.core.rng import generator as gen
from edu_gen.core.train import fit
from edu_gen.data import digits, digits_loader
from edu_gen.models import vae


def binary(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, d, generator=gen(seed)) > 0.5).float()


# ------------------------------------------------------------------ building blocks


def test_reparameterize_is_exact_with_given_noise_and_has_the_right_moments():
    mu = torch.tensor([[0.5, -1.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    eps = torch.tensor([[1.0, 1.0]])
    torch.testing.assert_close(vae.reparameterize(mu, logvar, eps), torch.tensor([[1.5, 1.0]]))
    torch.manual_seed(0)
    z = vae.reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.03, rtol=0)
    torch.testing.assert_close(z.var(0), logvar.exp()[0], atol=0.05, rtol=0)


def test_bernoulli_log_prob_matches_torch_distribution(device):
    x = binary(8, 12).to(device)
    logits = (4 * torch.randn(8, 12, generator=gen(1))).to(device)
    oracle = Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(vae.bernoulli_log_prob(x, logits), oracle)


def test_gaussian_decoder_log_prob_matches_torch_normal():
    torch.manual_seed(0)
    dec = vae.GaussianDecoder(3, 10, (16,))
    with torch.no_grad():
        dec.raw_logvar.fill_(-1.3)
    z, x = torch.randn(5, 3), torch.rand(5, 10)
    oracle = Normal(dec.mean(z), math.exp(-1.3 / 2)).log_prob(x).sum(-1)
    torch.testing.assert_close(dec.log_prob(x, z), oracle)
    assert any(p is dec.raw_logvar for p in dec.parameters())  # learned by default


def test_gaussian_decoder_fixed_variance_is_a_buffer_and_learned_one_is_clamped():
    fixed = vae.GaussianDecoder(2, 4, logvar=-2.0)
    assert all(p is not fixed.raw_logvar for p in fixed.parameters())
    assert fixed.logvar.item() == -2.0
    learned = vae.GaussianDecoder(2, 4, min_logvar=-4.0)
    with torch.no_grad():
        learned.raw_logvar.fill_(-50.0)
    assert learned.logvar.item() == -4.0
    with torch.no_grad():
        learned.raw_logvar.fill_(50.0)
    assert learned.logvar.item() == LOGVAR_RANGE[1]


def test_encoder_clamps_the_log_variance():
    enc = vae.GaussianEncoder(4, 2, (8,))
    with torch.no_grad():
        enc.logvar.bias.fill_(1e4)
    _, logvar = enc(torch.rand(3, 4))
    assert torch.all(logvar == LOGVAR_RANGE[1])


def test_autoregressive_decoder_is_autoregressive_and_normalised():
    torch.manual_seed(0)
    d = 6
    dec = vae.AutoregressiveDecoder(2, d, width=32)
    z = torch.randn(1, 2)
    # logit j must not depend on pixels j, j+1, ... (Jacobian strictly lower triangular)
    x = torch.rand(1, d, requires_grad=True)
    jac = torch.stack([torch.autograd.grad(dec.logits(x, z)[0, j], x)[0][0] for j in range(d)])
    assert torch.all(jac.triu() == 0) and jac.tril(-1).abs().sum() > 0
    # probabilities of all 2^d images sum to one, for any z
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))
    for zz in (z, 3 * torch.randn(1, 2)):
        total = torch.logsumexp(dec.log_prob(images, zz.expand(len(images), 2)), 0)
        assert abs(total.item()) < 1e-5


def test_autoregressive_sampling_matches_its_log_prob():
    torch.manual_seed(0)
    d = 4
    dec = vae.AutoregressiveDecoder(1, d, width=16)
    z = torch.zeros(20_000, 1)
    x = dec.sample(z, generator=gen(2))
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))
    probs = dec.log_prob(images, torch.zeros(len(images), 1)).exp().detach()
    codes = (x * 2 ** torch.arange(d - 1, -1, -1)).sum(1).long()
    freq = torch.bincount(codes, minlength=2**d).float() / len(x)
    assert (freq - probs).abs().max() < 0.015


def test_autoregressive_log_prob_broadcasts_over_sample_dims():
    torch.manual_seed(0)
    dec = vae.AutoregressiveDecoder(3, 8, width=16)
    x, z = binary(5, 8), torch.randn(7, 5, 3)
    out = dec.log_prob(x, z)
    assert out.shape == (7, 5)
    torch.testing.assert_close(out[2], dec.log_prob(x, z[2]))


# ------------------------------------------------------------------------ the ELBO


def _tiny_model(seed: int = 0) -> vae.VAE:
    torch.manual_seed(seed)
    model = vae.make_vae(3, 1, (8,), likelihood="bernoulli").double()
    with torch.no_grad():  # a decoder that depends strongly on z, a q far from the prior
        for p in model.decoder.parameters():
            p.mul_(3)
        model.encoder.mu.bias.add_(1.5)
        model.encoder.logvar.bias.fill_(-2.0)
    return model


def _log_px_by_quadrature(model: vae.VAE, x: torch.Tensor) -> torch.Tensor:
    z = torch.linspace(-10, 10, 20_001, dtype=torch.float64)[:, None]
    log_joint = model.decoder.log_prob(x[:, None, :], z[None]) + Normal(0.0, 1.0).log_prob(z[:, 0])
    dz = (z[1] - z[0]).item()
    return torch.logsumexp(log_joint, dim=1) + math.log(dz)


def test_elbo_is_below_log_px_and_the_gap_is_the_posterior_kl():
    model = _tiny_model()
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        log_px = _log_px_by_quadrature(model, x)
        torch.manual_seed(1)
        n = 50_000
        out = vae.elbo(model, x.repeat(n, 1))  # n independent draws per example
        recon = out["recon"].reshape(n, len(x))
        kl = out["kl"][: len(x)]  # closed form: the same for every draw
        reps = recon - kl
        elbo_mean, elbo_se = reps.mean(0), reps.std(0) / math.sqrt(len(reps))
        # exact gap KL(q || p(z|x)) by quadrature on the same grid
        mu, logvar = model.encode(x)
        z = torch.linspace(-10, 10, 20_001, dtype=torch.float64)[:, None]
        log_q = Normal(mu[:, 0, None], (0.5 * logvar[:, 0, None]).exp()).log_prob(z[:, 0])
        log_post = (
            model.decoder.log_prob(x[:, None, :], z[None])
            + Normal(0.0, 1.0).log_prob(z[:, 0])
            - log_px[:, None]
        )
        gap = ((log_q.exp() * (log_q - log_post)).sum(1) * (z[1] - z[0])).squeeze()
    tol = 5 * elbo_se.max().item()
    assert torch.all(elbo_mean < log_px) and torch.all(gap > 0.05)
    torch.testing.assert_close(log_px - elbo_mean, gap, atol=tol, rtol=0)
    # mutation: a KL term with a wrong factor breaks the identity by far more than the noise
    wrong = recon.mean(0) - 0.5 * kl
    assert (log_px - wrong - gap).abs().min() > 3 * tol


def test_elbo_terms_match_torch_kl_and_decoder(device):
    torch.manual_seed(0)
    model = vae.make_vae(10, 3, (16,)).to(device)
    x = binary(6, 10).to(device)
    torch.manual_seed(5)
    out = vae.elbo(model, x)
    mu, logvar = model.encode(x)
    oracle_kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(out["kl"], oracle_kl)
    torch.testing.assert_close(out["kl_units"].sum(-1), out["kl"])
    torch.manual_seed(5)
    mu, logvar = model.encode(x)
    z = vae.reparameterize(mu, logvar)
    torch.testing.assert_close(out["recon"], model.decoder.log_prob(x, z))
    torch.testing.assert_close(out["elbo"], out["recon"] - out["kl"])
    torch.testing.assert_close(out["objective"], out["elbo"])


def test_beta_and_free_bits_change_only_the_penalty():
    torch.manual_seed(0)
    model = vae.make_vae(10, 4, (16,))
    x = binary(32, 10)
    torch.manual_seed(3)
    out = vae.elbo(model, x, beta=0.0)
    torch.testing.assert_close(out["objective"], out["recon"])
    big = 100.0  # every unit below the floor: penalty is the constant 4 * lambda
    torch.manual_seed(3)
    out = vae.elbo(model, x, free_bits=big)
    torch.testing.assert_close(out["objective"], out["recon"] - 4 * big)
    # ... so the KL sends no gradient to the encoder's log-variance head
    loss = -out["objective"].mean()
    recon_only = -out["recon"].mean()
    g1 = torch.autograd.grad(loss, model.encoder.logvar.weight, retain_graph=True)[0]
    g2 = torch.autograd.grad(recon_only, model.encoder.logvar.weight)[0]
    torch.testing.assert_close(g1, g2)
    # with a floor of 0 free bits is the plain ELBO
    torch.manual_seed(3)
    a = vae.elbo(model, x, free_bits=0.0)["objective"]
    torch.manual_seed(3)
    torch.testing.assert_close(a, vae.elbo(model, x)["elbo"])


def test_free_bits_penalty_is_sum_of_max_lambda_and_batch_mean_kl():
    torch.manual_seed(0)
    model = vae.make_vae(10, 4, (16,))
    x = binary(32, 10)
    torch.manual_seed(3)
    out = vae.elbo(model, x, free_bits=0.05)
    kl_mean = out["kl_units"].mean(0)
    expected = out["recon"].mean() - torch.clamp(kl_mean, min=0.05).sum()
    torch.testing.assert_close(out["objective"].mean(), expected)


# ----------------------------------------------------------- active units and warm-up


def test_active_units_counts_units_whose_posterior_mean_varies():
    torch.manual_seed(0)
    model = vae.make_vae(8, 3, (16,))
    with torch.no_grad():
        model.encoder.mu.weight[0].mul_(20)  # unit 0: clearly varying -> active
        model.encoder.mu.weight[1].zero_()  # unit 1: constant mean -> inactive
        model.encoder.mu.weight[2].mul_(1e-3)  # unit 2: tiny variation -> inactive
    x = torch.rand(200, 8, generator=gen(4))
    count, variances = vae.active_units(model, x)
    mu = model.encode(x)[0].detach().numpy()
    np.testing.assert_allclose(variances.numpy(), mu.var(axis=0, ddof=1), rtol=1e-5, atol=1e-12)
    assert variances[0] > 1e-2 and variances[1] == 0 and variances[2] < 1e-2
    assert count == 1
    assert vae.active_units(model, x, threshold=variances[0].item() * 2)[0] == 0


def test_kl_warmup_schedule_and_objective():
    assert [vae.kl_warmup(t, 4) for t in (0, 2, 4, 10)] == [0.0, 0.5, 1.0, 1.0]
    assert vae.kl_warmup(0, 10, start=0.2) == pytest.approx(0.2)
    assert vae.kl_warmup(5, 0) == 1.0
    objective = vae.KLWarmup(2)
    torch.manual_seed(0)
    model = vae.make_vae(6, 2, (8,))
    batch = (binary(4, 6), torch.zeros(4))
    betas = [objective(model, batch)["beta"].item() for _ in range(4)]
    assert betas == [0.0, 0.5, 1.0, 1.0] and objective.step == 4


def test_training_improves_the_test_elbo(device):
    torch.manual_seed(0)
    model = vae.make_vae(64, 4, (64,))
    x_test, _ = digits("test", "binary")
    with torch.no_grad():
        before = vae.elbo(model, x_test)["elbo"].mean().item()
    fit(
        model,
        vae.vae_loss,
        digits_loader("train", "binary"),
        steps=150,
        lr=3e-3,
        device=device,
        progress=False,
    )
    model = model.cpu()
    with torch.no_grad():
        after = vae.elbo(model, x_test)["elbo"].mean().item()
    assert after > before + 10
    assert model.sample(5, gen(0)).shape == (5, 64)
    assert model(x_test[:3]).shape == (3, 64)


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: vae.make_vae(64, 0), "latent_dim"),
        (lambda: vae.make_vae(64, 2, likelihood="poisson"), "likelihood"),
        (lambda: vae.make_vae(64, 2, width=8), "decoder_kwargs"),
        (lambda: vae.GaussianEncoder(0, 2), "in_dim"),
        (lambda: vae.GaussianDecoder(2, 4, out_activation="tanh"), "out_activation"),
        (lambda: vae.GaussianDecoder(2, 4, min_logvar=-100.0), "min_logvar"),
        (lambda: vae.AutoregressiveDecoder(2, 1), "out_dim"),
        (lambda: vae.VAE(vae.GaussianEncoder(4, 2), vae.BernoulliDecoder(3, 4)), "latent_dim"),
    ],
)
def test_bad_constructor_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_inputs_name_the_argument():
    model = vae.make_vae(10, 2, (8,))
    with pytest.raises(ValueError, match=r"x: expected shape \[\.\.\., 10\]"):
        model.encode(torch.zeros(3, 9))
    with pytest.raises(ValueError, match="x: expected dtype"):
        model.encode(torch.zeros(3, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"z: expected shape \[\.\.\., 2\]"):
        model.decoder(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="beta"):
        vae.elbo(model, torch.zeros(3, 10), beta=-1.0)
    with pytest.raises(ValueError, match="free_bits"):
        vae.elbo(model, torch.zeros(3, 10), free_bits=-1.0)
    with pytest.raises(ValueError, match="x: expected a batch"):
        vae.active_units(model, torch.zeros(1, 10))
    with pytest.raises(ValueError, match="warmup_steps"):
        vae.kl_warmup(0, -1)
    with pytest.raises(ValueError, match="n: expected"):
        model.sample(0)


def test_state_dict_layout_is_stable():
    """Checkpoints of earlier versions load: the same parameter names in the same order."""
    keys = list(vae.make_vae(10, 3, (8, 6)).state_dict())
    assert keys == [
        "encoder.trunk.0.0.weight", "encoder.trunk.0.0.bias",
        "encoder.trunk.0.2.weight", "encoder.trunk.0.2.bias",
        "encoder.mu.weight", "encoder.mu.bias", "encoder.logvar.weight", "encoder.logvar.bias",
        "decoder.net.0.weight", "decoder.net.0.bias", "decoder.net.2.weight",
        "decoder.net.2.bias", "decoder.net.4.weight", "decoder.net.4.bias",
    ]  # fmt: skip
