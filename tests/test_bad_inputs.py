"""Bad inputs over the public API (issue 17): every row must raise a clear error.

Each row is ``(id, call, exception type, regex)``: ``call()`` must raise the exception and its
message must match the regex, which names the argument (``x:``, ``log_w:``, ...) and says what
was expected. The rows cover data ranges a likelihood needs (Bernoulli in [0, 1]), NaN/inf in
the inputs of losses, estimators and the DP step, empty batches, degenerate vectors and
counts, mismatched shapes (both shapes named), and numbers that would turn into NaN.

``BEFORE_CLEAR`` / ``BEFORE_OBSCURE`` record what each row did on the code before issue 17
(measured by running these rows against a worktree of the parent commit): clear (already an
error naming the argument), obscure (an error that names nothing useful) or, in neither set,
silent (no error: a wrong or NaN result). Every row is clear now.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from edu_gen.evaluation import frechet
from edu_gen.models import autoencoder as ae
from edu_gen.models import dae, elbo, gan, iwae, nice, topics, vae
from edu_gen.models import diffusion as dm
from edu_gen.models import estimators as est
from edu_gen.models import likelihood as lik
from edu_gen.tabular import encoding, privacy

NAN, INF = math.nan, math.inf


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[], object]
    error: type[Exception]
    match: str


def _with(t: torch.Tensor, index: tuple[int, ...], value: float) -> torch.Tensor:
    t = t.clone()
    t[index] = value
    return t


torch.manual_seed(0)
X = torch.rand(5, 4)  # Bernoulli data in [0, 1]
X_NAN = _with(X, (2, 1), NAN)
X_INF = _with(X, (3, 0), INF)
EMPTY = torch.zeros(0, 4)
LOG_W = torch.randn(6, 3)


def _vae(likelihood: str = "bernoulli") -> vae.VAE:
    torch.manual_seed(0)
    return vae.make_vae(4, 2, (8,), likelihood)


def _ar_vae() -> vae.VAE:
    torch.manual_seed(0)
    return vae.make_vae(4, 2, (8,), "autoregressive", width=8)


def _ae() -> ae.Autoencoder:
    torch.manual_seed(0)
    return ae.Autoencoder(4, 2, (8,))


def _lg() -> elbo.LinearGaussian:
    return elbo.LinearGaussian(
        torch.randn(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), 0.5
    )


# ----------------------------------------------------------------- DP-SGD fixtures


def _dp_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(3, 1)


def _dp_loss(model, x):
    return model(x).squeeze(-1) ** 2


def _dp_nan_loss(model, x):  # finite data, a NaN loss for rows with a negative first entry
    out = model(x).squeeze(-1) ** 2
    return torch.where(x[:, 0] < 0, out * NAN, out)


DP_X = torch.rand(8, 3)
DP_X_NAN = _with(DP_X, (5, 2), NAN)


def _dp_step(batch, loss=_dp_loss, model=None, **kwargs):
    model = _dp_model() if model is None else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    settings = {"clip_norm": 1.0, "noise_multiplier": 1.0, "expected_batch_size": 4.0}
    return privacy.dp_step(model, loss, batch, opt, **{**settings, **kwargs})


def _per_example_grads(x):
    model = _dp_model()
    return privacy.per_example_grads(model, _dp_nan_loss, x)


CASES = [
    # ---------------------------------------------------------------- VAE (chapter 04)
    Case(
        "elbo-bernoulli-x-5",
        lambda: vae.elbo(_vae(), X * 0 + 5),
        ValueError,
        r"x: expected values in \[0, 1\] \(Bernoulli data\), got 5 in rows \[0, 1, 2, 3, 4\]",
    ),
    Case(
        "elbo-bernoulli-x-negative",
        lambda: vae.elbo(_vae(), X - 2),
        ValueError,
        r"x: expected values in \[0, 1\]",
    ),
    Case(
        "elbo-bernoulli-x-nan",
        lambda: vae.elbo(_vae(), X_NAN),
        ValueError,
        r"x: .*nan in rows \[2\]",
    ),
    Case(
        "elbo-gaussian-x-nan",
        lambda: vae.elbo(_vae("gaussian"), X_NAN),
        ValueError,
        r"x: expected finite values, got NaN in rows \[2\]",
    ),
    Case(
        "elbo-gaussian-x-inf",
        lambda: vae.elbo(_vae("gaussian"), X_INF),
        ValueError,
        r"x: expected finite values, got inf in rows \[3\]",
    ),
    Case(
        "elbo-autoregressive-x-3",
        lambda: vae.elbo(_ar_vae(), X * 3),
        ValueError,
        r"x: expected values in \[0, 1\]",
    ),
    Case(
        "elbo-empty-batch",
        lambda: vae.elbo(_vae(), EMPTY),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "elbo-beta-negative",
        lambda: vae.elbo(_vae(), X, beta=-1.0),
        ValueError,
        r"beta: expected a value in >= 0",
    ),
    Case(
        "elbo-beta-nan",
        lambda: vae.elbo(_vae(), X, beta=NAN),
        TypeError,
        r"beta: expected a number",
    ),
    Case(
        "elbo-free-bits-nan",
        lambda: vae.elbo(_vae(), X, free_bits=NAN),
        TypeError,
        r"free_bits: expected a number",
    ),
    Case(
        "elbo-free-bits-negative",
        lambda: vae.elbo(_vae(), X, free_bits=-0.5),
        ValueError,
        r"free_bits: expected a value",
    ),
    Case(
        "elbo-x-wrong-width",
        lambda: vae.elbo(_vae(), torch.rand(5, 3)),
        ValueError,
        r"x: expected shape \[\.\.\., 4\], got \(5, 3\)",
    ),
    Case(
        "vae-loss-empty-batch",
        lambda: vae.vae_loss(_vae(), EMPTY),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "vae-loss-empty-tuple-batch",
        lambda: vae.vae_loss(_vae(), (EMPTY, torch.zeros(0))),
        ValueError,
        r"x: expected at least one row",
    ),
    Case("vae-loss-x-nan", lambda: vae.vae_loss(_vae(), X_NAN), ValueError, r"x: .*rows \[2\]"),
    Case(
        "vae-loss-x-out-of-range",
        lambda: vae.vae_loss(_vae(), (X * 255,)),
        ValueError,
        r"x: expected values in \[0, 1\]",
    ),
    Case(
        "reparameterize-logvar-shape",
        lambda: vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 3)),
        ValueError,
        r"logvar: expected the shape of mu \(3, 2\), got \(3, 3\)",
    ),
    Case(
        "reparameterize-logvar-broadcast",
        lambda: vae.reparameterize(torch.zeros(3, 2), torch.zeros(2)),
        ValueError,
        r"logvar: expected the shape of mu \(3, 2\), got \(2,\)",
    ),
    Case(
        "reparameterize-eps-shape",
        lambda: vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 5)),
        ValueError,
        r"eps: expected the shape of mu \(3, 2\).*got \(3, 5\)",
    ),
    Case(
        "reparameterize-eps-samples-shape",
        lambda: vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4, 2, 2)),
        ValueError,
        r"eps: .*\(3, 2\).*got \(4, 2, 2\)",
    ),
    Case(
        "bernoulli-log-prob-x-2",
        lambda: vae.bernoulli_log_prob(X * 2 + 0.5, torch.zeros(5, 4)),
        ValueError,
        r"x: expected values in \[0, 1\]",
    ),
    Case(
        "bernoulli-decoder-x-nan",
        lambda: _vae().decoder.log_prob(X_NAN, torch.zeros(5, 2)),
        ValueError,
        r"x: .*rows \[2\]",
    ),
    Case(
        "gaussian-decoder-x-inf",
        lambda: _vae("gaussian").decoder.log_prob(X_INF, torch.zeros(5, 2)),
        ValueError,
        r"x: expected finite values",
    ),
    Case(
        "make-vae-likelihood",
        lambda: vae.make_vae(4, 2, likelihood="poisson"),
        ValueError,
        r"likelihood: expected one of",
    ),
    Case(
        "make-vae-latent-0",
        lambda: vae.make_vae(4, 0),
        ValueError,
        r"latent_dim: expected a positive int",
    ),
    Case("vae-sample-0", lambda: _vae().sample(0), ValueError, r"n: expected a positive int"),
    Case(
        "active-units-one-row",
        lambda: vae.active_units(_vae(), X[:1]),
        ValueError,
        r"x: expected a batch \[N >= 2, D\]",
    ),
    Case(
        "active-units-threshold-nan",
        lambda: vae.active_units(_vae(), X, threshold=NAN),
        ValueError,
        r"threshold: expected a positive",
    ),
    Case(
        "kl-warmup-negative-steps",
        lambda: vae.kl_warmup(0, -1),
        ValueError,
        r"warmup_steps: expected",
    ),
    Case(
        "kl-warmup-negative-step",
        lambda: vae.kl_warmup(-5, 10),
        ValueError,
        r"step: expected an int >= 0, got -5",
    ),
    Case(
        "kl-warmup-start-2",
        lambda: vae.kl_warmup(0, 10, start=2.0),
        ValueError,
        r"start: expected a value in \[0, 1\]",
    ),
    Case(
        "klwarmup-free-bits-negative",
        lambda: vae.KLWarmup(10, free_bits=-1.0),
        ValueError,
        r"free_bits: expected a value",
    ),
    # --------------------------------------------------------------- IWAE (chapter 05)
    Case(
        "ess-nan-weights",
        lambda: iwae.effective_sample_size(_with(LOG_W, (1, 2), NAN)),
        ValueError,
        r"log_w: expected finite values or -inf, got NaN in rows \[1\]",
    ),
    Case(
        "ess-inf-weights",
        lambda: iwae.effective_sample_size(_with(LOG_W, (4, 0), INF)),
        ValueError,
        r"log_w: .*got inf in rows \[4\]",
    ),
    Case(
        "ess-all-zero-weights",
        lambda: iwae.effective_sample_size(torch.full((4, 2), -INF)),
        ValueError,
        r"log_w: expected at least one finite log-weight",
    ),
    Case(
        "ess-empty",
        lambda: iwae.effective_sample_size(torch.zeros(0, 3)),
        ValueError,
        r"log_w: expected at least one row",
    ),
    Case(
        "ess-int-tensor",
        lambda: iwae.effective_sample_size(torch.zeros(4, dtype=torch.long)),
        TypeError,
        r"log_w: expected a floating-point",
    ),
    Case(
        "iwae-bound-nan",
        lambda: iwae.iwae_bound(_with(LOG_W, (0, 0), NAN)),
        ValueError,
        r"log_w: .*NaN in rows \[0\]",
    ),
    Case(
        "iwae-bound-empty-k",
        lambda: iwae.iwae_bound(torch.zeros(0, 3)),
        ValueError,
        r"log_w: dimension 0",
    ),
    Case(
        "bounds-by-k-nan",
        lambda: iwae.bounds_by_k(_with(LOG_W, (3, 1), NAN), [1, 2]),
        ValueError,
        r"log_w: .*NaN in rows \[3\]",
    ),
    Case(
        "bounds-by-k-too-large",
        lambda: iwae.bounds_by_k(LOG_W, [7]),
        ValueError,
        r"ks: k=7 is larger",
    ),
    Case(
        "bounds-by-k-1d",
        lambda: iwae.bounds_by_k(LOG_W[0], [1]),
        ValueError,
        r"log_w: expected \[S, N\]",
    ),
    Case(
        "iwae-loss-empty",
        lambda: iwae.iwae_loss(_vae(), EMPTY, 5),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "iwae-loss-x-out-of-range",
        lambda: iwae.iwae_loss(_vae(), X + 1, 5),
        ValueError,
        r"x: expected values in \[0, 1\]",
    ),
    Case(
        "iwae-loss-k-0",
        lambda: iwae.iwae_loss(_vae(), X, 0),
        ValueError,
        r"k: expected a positive int",
    ),
    Case(
        "multi-sample-elbo-empty",
        lambda: iwae.multi_sample_elbo_loss(_vae(), (EMPTY,), 3),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "log-weights-eps-shape",
        lambda: iwae.log_importance_weights(_vae(), X, 3, torch.zeros(3, 5, 3)),
        ValueError,
        r"eps: expected shape",
    ),
    Case(
        "log-weights-x-1d",
        lambda: iwae.log_importance_weights(_vae(), X[0], 3),
        ValueError,
        r"x: expected a batch",
    ),
    Case(
        "log-marginal-x-nan",
        lambda: iwae.log_marginal_likelihood(_vae(), X_NAN, k=4),
        ValueError,
        r"x: .*rows \[2\]",
    ),
    Case(
        "importance-estimate-shapes",
        lambda: iwae.importance_estimate(torch.ones(4), torch.zeros(4), torch.zeros(3)),
        ValueError,
        r"f_values, log_p, log_q: .*\(4,\), \(4,\), \(3,\)",
    ),
    Case(
        "importance-estimate-nan-log-p",
        lambda: iwae.importance_estimate(
            torch.ones(4), _with(torch.zeros(4), (2,), NAN), torch.zeros(4)
        ),
        ValueError,
        r"log_p: .*NaN in rows \[2\]",
    ),
    Case(
        "importance-estimate-inf-log-q",
        lambda: iwae.importance_estimate(
            torch.ones(4), torch.zeros(4), _with(torch.zeros(4), (1,), -INF)
        ),
        ValueError,
        r"log_q: expected finite values, got -inf in rows \[1\]",
    ),
    Case(
        "tail-probability-n-1",
        lambda: iwae.tail_probability(1),
        ValueError,
        r"n: expected an int >= 2",
    ),
    Case(
        "tail-probability-threshold-nan",
        lambda: iwae.tail_probability(100, threshold=NAN),
        TypeError,
        r"threshold: expected a number",
    ),
    Case(
        "tail-probability-proposal-inf",
        lambda: iwae.tail_probability(100, proposal_mean=INF),
        ValueError,
        r"proposal_mean: expected a finite number",
    ),
    Case(
        "sample-log-weights-chunk-0",
        lambda: iwae.sample_log_weights(_vae(), X, 4, chunk=0),
        ValueError,
        r"chunk: expected a positive int",
    ),
    # ---------------------------------------------------------------- GAN (chapter 07)
    Case(
        "count-modes-no-samples",
        lambda: gan.count_modes(torch.zeros(0, 2), gan.ring_centres(), 0.5),
        ValueError,
        r"samples: expected at least one row",
    ),
    Case(
        "count-modes-min-fraction-nan",
        lambda: gan.count_modes(gan.sample_ring(50), gan.ring_centres(), 0.5, NAN),
        TypeError,
        r"min_fraction: expected a number",
    ),
    Case(
        "count-modes-min-fraction-2",
        lambda: gan.count_modes(gan.sample_ring(50), gan.ring_centres(), 0.5, 2.0),
        ValueError,
        r"min_fraction: expected a value in \[0, 1\]",
    ),
    Case(
        "count-modes-max-dist-negative",
        lambda: gan.count_modes(gan.sample_ring(50), gan.ring_centres(), -1.0),
        ValueError,
        r"max_dist: expected a positive",
    ),
    Case(
        "mode-counts-nan-samples",
        lambda: gan.mode_counts(_with(gan.sample_ring(10), (7, 0), NAN), gan.ring_centres(), 0.5),
        ValueError,
        r"samples: expected finite values, got NaN in rows \[7\]",
    ),
    Case(
        "mode-counts-dims",
        lambda: gan.mode_counts(torch.zeros(4, 3), gan.ring_centres(), 0.5),
        ValueError,
        r"samples, centres: .*\(4, 3\) and \(8, 2\)",
    ),
    Case(
        "sample-ring-std-nan",
        lambda: gan.sample_ring(10, std=NAN),
        TypeError,
        r"std: expected a number",
    ),
    Case(
        "sample-ring-std-negative",
        lambda: gan.sample_ring(10, std=-0.1),
        ValueError,
        r"std: expected a value in",
    ),
    Case(
        "ring-centres-radius-nan",
        lambda: gan.ring_centres(8, NAN),
        ValueError,
        r"radius: expected a positive",
    ),
    Case(
        "ring-centres-0-modes",
        lambda: gan.ring_centres(0),
        ValueError,
        r"n_modes: expected a positive int",
    ),
    Case(
        "jsd-shapes",
        lambda: gan.jsd(torch.full((5,), 0.2), torch.full((4,), 0.25)),
        ValueError,
        r"p, q: expected the same grid, got p \(5,\) and q \(4,\)",
    ),
    Case(
        "jsd-shapes-batch",
        lambda: gan.jsd(torch.full((2, 5), 0.2), torch.full((5,), 0.2)),
        ValueError,
        r"p, q: .*p \(2, 5\) and q \(5,\)",
    ),
    Case(
        "jsd-log-shapes",
        lambda: gan.jsd(torch.zeros(5), torch.zeros(4), log_densities=True),
        ValueError,
        r"log_p, log_q: expected the same grid, got log_p \(5,\) and log_q \(4,\)",
    ),
    Case(
        "jsd-nan-p",
        lambda: gan.jsd(_with(torch.full((4,), 0.25), (1,), NAN), torch.full((4,), 0.25)),
        ValueError,
        r"p: expected finite, non-negative",
    ),
    Case(
        "jsd-negative-q",
        lambda: gan.jsd(torch.full((4,), 0.25), torch.tensor([0.5, 0.5, 0.5, -0.5])),
        ValueError,
        r"q: expected finite, non-negative",
    ),
    Case(
        "jsd-log-nan",
        lambda: gan.jsd(torch.zeros(4), _with(torch.zeros(4), (0,), NAN), log_densities=True),
        ValueError,
        r"log_q: expected log-densities",
    ),
    Case(
        "jsd-dx-negative",
        lambda: gan.jsd(torch.full((4,), 0.25), torch.full((4,), 0.25), dx=-1.0),
        ValueError,
        r"dx: expected a positive",
    ),
    Case(
        "optimal-d-shapes",
        lambda: gan.optimal_discriminator(torch.ones(3), torch.ones(4)),
        ValueError,
        r"p_data, p_g: .*\(3,\) and p_g \(4,\)",
    ),
    Case(
        "value-on-grid-d-nan",
        lambda: gan.value_on_grid(
            torch.ones(4), torch.ones(4), _with(torch.full((4,), 0.5), (2,), NAN), 0.1
        ),
        ValueError,
        r"d: expected values in \[0, 1\]",
    ),
    Case(
        "value-on-grid-d-logits",
        lambda: gan.value_on_grid(torch.ones(4), torch.ones(4), torch.full((4,), 3.0), 0.1),
        ValueError,
        r"d: expected values in \[0, 1\]",
    ),
    Case(
        "value-on-grid-dx-nan",
        lambda: gan.value_on_grid(torch.ones(4), torch.ones(4), torch.full((4,), 0.5), NAN),
        ValueError,
        r"dx: expected a positive",
    ),
    Case(
        "gradient-penalty-shapes",
        lambda: gan.gradient_penalty(lambda x: x.sum(1), torch.zeros(4, 2), torch.zeros(4, 3)),
        ValueError,
        r"real, fake: .*\(4, 2\) and \(4, 3\)",
    ),
    Case(
        "gradient-penalty-weight-nan",
        lambda: gan.gradient_penalty(
            lambda x: x.sum(1), torch.zeros(4, 2), torch.zeros(4, 2), weight=NAN
        ),
        ValueError,
        r"weight: expected a non-negative",
    ),
    Case(
        "gradient-penalty-eps-nan",
        lambda: gan.gradient_penalty(
            lambda x: x.sum(1),
            torch.zeros(4, 2),
            torch.zeros(4, 2),
            eps=_with(torch.full((4,), 0.5), (0,), NAN),
        ),
        ValueError,
        r"eps: expected shape \(4,\) with values in \[0, 1\]",
    ),
    Case(
        "pack-not-multiple",
        lambda: gan.pack(torch.zeros(5, 2), 2),
        ValueError,
        r"x: batch size 5 is not a multiple of pac=2",
    ),
    Case(
        "critic-loss-shapes",
        lambda: gan.critic_loss_wasserstein(torch.zeros(4, 2), torch.zeros(4, 3)),
        ValueError,
        r"real_scores, fake_scores: .*\(4, 2\) and \(4, 3\)",
    ),
    # ------------------------------------------------------- autoencoders (chapters 01-02)
    Case(
        "l2-loss-shapes",
        lambda: ae.l2_loss(torch.zeros(4, 3), torch.zeros(4, 2)),
        ValueError,
        r"x_hat: expected the shape of x \(4, 3\), got \(4, 2\)",
    ),
    Case(
        "l2-loss-empty",
        lambda: ae.l2_loss(EMPTY, EMPTY),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "l2-loss-x-nan",
        lambda: ae.l2_loss(X_NAN, X),
        ValueError,
        r"x: expected finite values, got NaN in rows \[2\]",
    ),
    Case(
        "ce-loss-x-2",
        lambda: ae.cross_entropy_loss(X * 2 + 0.1, X),
        ValueError,
        r"x: expected values in \[0, 1\]",
    ),
    Case(
        "ce-loss-empty",
        lambda: ae.cross_entropy_loss(EMPTY, EMPTY),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "autoencoder-loss-name",
        lambda: ae.autoencoder_loss(_ae(), X, "l1"),
        ValueError,
        r"loss: expected one of",
    ),
    Case(
        "autoencoder-loss-empty",
        lambda: ae.autoencoder_loss(_ae(), (EMPTY,)),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "autoencoder-encode-width",
        lambda: _ae().encode(torch.zeros(2, 5)),
        ValueError,
        r"x: expected shape \[batch, 4\], got \(2, 5\)",
    ),
    Case(
        "autoencoder-in-dim-0",
        lambda: ae.Autoencoder(0, 2),
        ValueError,
        r"in_dim: expected a positive int",
    ),
    Case(
        "pca-nan",
        lambda: ae.pca(X_NAN, 2),
        ValueError,
        r"x: expected finite values, got NaN in rows \[2\]",
    ),
    Case("pca-k-too-large", lambda: ae.pca(X, 9), ValueError, r"k: expected 1 <= k <= 4"),
    Case(
        "pca-reconstruct-shapes",
        lambda: ae.pca_reconstruct(X, torch.zeros(4), torch.zeros(2, 3)),
        ValueError,
        r"components: expected shape \[k, 4\], got \(2, 3\)",
    ),
    Case(
        "principal-angles-shapes",
        lambda: ae.principal_angles(torch.zeros(4, 2), torch.zeros(3, 2)),
        ValueError,
        r"a, b: expected \[D, k\]",
    ),
    Case(
        "dae-loss-x-nan",
        lambda: dae.dae_loss(_ae(), X_NAN, dae.corruption("gaussian", 0.1)),
        ValueError,
        r"x: expected finite values",
    ),
    Case(
        "dae-loss-empty",
        lambda: dae.dae_loss(_ae(), EMPTY, dae.corruption("masking", 0.2)),
        ValueError,
        r"x: expected at least one row",
    ),
    Case(
        "gaussian-corrupt-sigma-negative",
        lambda: dae.gaussian_corrupt(X, -0.1),
        ValueError,
        r"sigma: expected a value in",
    ),
    Case(
        "masking-nu-1.5",
        lambda: dae.masking_corrupt(X, 1.5),
        ValueError,
        r"nu: expected a value in \[0, 1\]",
    ),
    Case(
        "salt-pepper-low-high",
        lambda: dae.salt_and_pepper_corrupt(X, 0.2, low=1.0, high=0.0),
        ValueError,
        r"low, high: expected low < high",
    ),
    Case(
        "corruption-kind", lambda: dae.corruption("blur", 0.1), ValueError, r"kind: expected one of"
    ),
    # ------------------------------------------------------------- ELBO (chapter 03)
    Case(
        "log-weights-logvar-shape",
        lambda: elbo.log_weights(
            lambda z: z.sum(-1), torch.zeros(3, 2), torch.zeros(3, 3), torch.zeros(5, 3, 2)
        ),
        ValueError,
        r"q_logvar: expected the shape of q_mean \(3, 2\), got \(3, 3\)",
    ),
    Case(
        "elbo-log-weights-eps-shape",
        lambda: elbo.log_weights(
            lambda z: z.sum(-1), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2)
        ),
        ValueError,
        r"eps: expected shape \[S, \*q_mean.shape\]",
    ),
    Case(
        "mean-field-not-pd",
        lambda: elbo.mean_field_gaussian(torch.zeros(3, 2), torch.tensor([[1.0, 2.0], [2.0, 1.0]])),
        ValueError,
        r"post_cov: expected a symmetric positive-definite",
    ),
    Case(
        "mean-field-nan-cov",
        lambda: elbo.mean_field_gaussian(torch.zeros(3, 2), torch.tensor([[1.0, NAN], [NAN, 1.0]])),
        ValueError,
        r"post_cov: expected finite values",
    ),
    Case(
        "linear-gaussian-nan-w",
        lambda: elbo.LinearGaussian(_with(torch.ones(4, 2), (1, 1), NAN), torch.zeros(4), 0.5),
        ValueError,
        r"W: expected finite values, got NaN in rows \[1\]",
    ),
    Case(
        "linear-gaussian-sigma2-0",
        lambda: elbo.LinearGaussian(torch.ones(4, 2), torch.zeros(4), 0.0),
        ValueError,
        r"sigma2: expected a positive",
    ),
    Case(
        "linear-gaussian-b-shape",
        lambda: elbo.LinearGaussian(torch.ones(4, 2), torch.zeros(3), 0.5),
        ValueError,
        r"b: expected shape \[4\]",
    ),
    Case(
        "linear-gaussian-x-nan",
        lambda: _lg().log_marginal(X_NAN.double()),
        ValueError,
        r"x: expected finite values, got NaN in rows \[2\]",
    ),
    Case(
        "linear-gaussian-q-mean-width",
        lambda: _lg().elbo(X.double(), torch.zeros(5, 3), torch.zeros(5, 2)),
        ValueError,
        r"q_mean: expected shape \[\.\.\., 2\]",
    ),
    Case(
        "log-marginal-grid-nan",
        lambda: elbo.log_marginal_grid(_with(torch.zeros(3, 4), (1, 1), NAN), 0.1),
        ValueError,
        r"log_joint: .*NaN in rows \[1\]",
    ),
    Case(
        "log-marginal-grid-area-0",
        lambda: elbo.log_marginal_grid(torch.zeros(3, 4), 0.0),
        ValueError,
        r"cell_area: expected a positive",
    ),
    Case(
        "posterior-grid-nan",
        lambda: elbo.posterior_grid(_with(torch.zeros(3, 4), (2, 0), NAN)),
        ValueError,
        r"log_joint: .*NaN in rows \[2\]",
    ),
    Case(
        "latent-grid-n-1", lambda: elbo.latent_grid(4.0, 1), ValueError, r"n: expected an int >= 2"
    ),
    Case(
        "per-datapoint-init-shape",
        lambda: elbo.PerDatapointGaussian(3, 2, (torch.zeros(3, 2), torch.zeros(2, 2))),
        ValueError,
        r"init: expected two tensors",
    ),
    # ------------------------------------------------------- estimators (chapter 04)
    Case(
        "score-eps-nan",
        lambda: est.score_function_gradient(torch.sin, 0.0, 1.0, _with(torch.zeros(5), (3,), NAN)),
        ValueError,
        r"eps: expected finite values, got NaN in rows \[3\]",
    ),
    Case(
        "pathwise-eps-inf",
        lambda: est.pathwise_gradient(torch.sin, 0.0, 1.0, _with(torch.zeros(5), (0,), INF)),
        ValueError,
        r"eps: expected finite values",
    ),
    Case(
        "pathwise-sigma-0",
        lambda: est.pathwise_gradient(torch.sin, 0.0, 0.0, torch.zeros(5)),
        ValueError,
        r"sigma: expected a positive",
    ),
    Case(
        "score-mu-nan",
        lambda: est.score_function_gradient(torch.sin, NAN, 1.0, torch.zeros(5)),
        ValueError,
        r"mu: expected a finite",
    ),
    Case(
        "estimator-summary-truth-shape",
        lambda: est.estimator_summary(torch.zeros(10, 2), torch.zeros(3)),
        ValueError,
        r"truth: expected shape \[2\], got \(3,\)",
    ),
    Case(
        "estimator-summary-one-row",
        lambda: est.estimator_summary(torch.zeros(1, 2), torch.zeros(2)),
        ValueError,
        r"samples: expected shape \[n >= 2, p\]",
    ),
    Case(
        "rsample-scale-nan",
        lambda: est.rsample("normal", 5, scale=NAN),
        ValueError,
        r"scale: expected a positive",
    ),
    Case(
        "rsample-rate-tensor-negative",
        lambda: est.rsample("exponential", 5, rate=torch.tensor(-1.0)),
        ValueError,
        r"rate: expected values in",
    ),
    Case(
        "rsample-loc-nan",
        lambda: est.rsample("logistic", 5, loc=NAN),
        ValueError,
        r"loc: expected a finite number",
    ),
    Case("rsample-family", lambda: est.rsample("gamma", 5), ValueError, r"name: expected one of"),
    Case(
        "exponential-icdf-u-1.5",
        lambda: est.exponential_icdf(torch.tensor([0.5, 1.5]), 1.0),
        ValueError,
        r"u: expected uniform noise strictly inside \(0, 1\)",
    ),
    Case(
        "rayleigh-icdf-u-0",
        lambda: est.rayleigh_icdf(torch.tensor([0.0, 0.5]), 1.0),
        ValueError,
        r"u: expected uniform noise",
    ),
    Case(
        "logistic-icdf-u-nan",
        lambda: est.logistic_icdf(torch.tensor([NAN]), 0.0, 1.0),
        ValueError,
        r"u: expected finite values",
    ),
    Case(
        "draw-noise-kind",
        lambda: est.draw_noise("beta", (3,)),
        ValueError,
        r"kind: expected 'normal' or 'uniform'",
    ),
    # -------------------------------------------------------- likelihood (chapter 00)
    Case(
        "mixture-std-nan",
        lambda: lik.GaussianMixture1D((1.0,), (0.0,), (NAN,)),
        ValueError,
        r"stds: expected positive finite",
    ),
    Case(
        "mixture-mean-nan",
        lambda: lik.GaussianMixture1D((1.0,), (NAN,), (1.0,)),
        ValueError,
        r"means: expected finite",
    ),
    Case(
        "mixture-weight-nan",
        lambda: lik.GaussianMixture1D((NAN,), (0.0,), (1.0,)),
        ValueError,
        r"weights: expected positive weights summing to 1",
    ),
    Case(
        "mixture-log-prob-nan",
        lambda: lik.GaussianMixture1D((1.0,), (0.0,), (1.0,)).log_prob(torch.tensor([0.0, NAN])),
        ValueError,
        r"x: expected finite values, got NaN in rows \[1\]",
    ),
    Case(
        "fit-mixture-nan",
        lambda: lik.fit_gaussian_mixture(torch.tensor([0.0, 1.0, NAN, 2.0]), 2),
        ValueError,
        r"x: expected finite values, got NaN in rows \[2\]",
    ),
    Case(
        "gaussian-mle-nan",
        lambda: lik.gaussian_mle(torch.tensor([0.0, NAN, 1.0])),
        ValueError,
        r"x: expected finite values",
    ),
    Case(
        "gaussian-log-prob-var-nan",
        lambda: lik.gaussian_log_prob(torch.zeros(3), 0.0, NAN),
        ValueError,
        r"var: expected a positive variance",
    ),
    Case(
        "histogram-mle-nan",
        lambda: lik.histogram_mle(torch.tensor([0.1, NAN]), torch.linspace(0, 1, 5)),
        ValueError,
        r"x: expected finite values",
    ),
    Case(
        "histogram-log-prob-nan",
        lambda: lik.HistogramDensity.fit(torch.rand(10), 0.0, 1.0, 4).log_prob(
            torch.tensor([NAN, 0.5])
        ),
        ValueError,
        r"x: expected finite values, got NaN in rows \[0\]",
    ),
    Case(
        "histogram-fit-bins-0",
        lambda: lik.HistogramDensity.fit(torch.rand(10), 0.0, 1.0, 0),
        ValueError,
        r"bins: expected a positive int",
    ),
    Case(
        "entropy-not-normalised",
        lambda: lik.entropy(torch.ones(4)),
        ValueError,
        r"p: expected a normalised distribution",
    ),
    Case(
        "kl-grid-mismatch",
        lambda: lik.kl_divergence(torch.full((4,), 0.25), torch.full((5,), 0.2)),
        ValueError,
        r"p, q: expected the same grid",
    ),
    Case(
        "cross-entropy-dx-inf",
        lambda: lik.cross_entropy(torch.full((4,), 0.25), torch.full((4,), 0.25), dx=INF),
        ValueError,
        r"dx: expected a positive",
    ),
    Case(
        "gaussian-ce-var-nan",
        lambda: lik.gaussian_cross_entropy(0.0, NAN, 0.0, 0.0),
        ValueError,
        r"var_p: expected finite values",
    ),
    Case(
        "empirical-ll-empty",
        lambda: lik.empirical_log_likelihood(lambda x: x, torch.zeros(0)),
        ValueError,
        r"x: expected at least one data point",
    ),
    Case(
        "likelihood-grid-n-1", lambda: lik.grid(0.0, 1.0, 1), ValueError, r"n: expected an int >= 2"
    ),
    Case(
        "implicit-sample-0",
        lambda: lik.implicit_sample(0),
        ValueError,
        r"n: expected a positive int",
    ),
    # ------------------------------------------------------------ topics (chapter 03)
    Case(
        "document-ll-negative-counts",
        lambda: topics.document_log_likelihood(
            torch.tensor([[1.0, -2.0, 0.0]]), torch.zeros(1, 2), torch.zeros(2, 3), torch.zeros(3)
        ),
        ValueError,
        r"counts: expected values in \[0, inf\] \(word counts\), got -2 in rows \[0\]",
    ),
    Case(
        "document-ll-nan-counts",
        lambda: topics.document_log_likelihood(
            torch.tensor([[1.0, NAN, 0.0]]), torch.zeros(1, 2), torch.zeros(2, 3), torch.zeros(3)
        ),
        ValueError,
        r"counts: expected values in \[0, inf\]",
    ),
    Case(
        "document-ll-shapes",
        lambda: topics.document_log_likelihood(
            torch.zeros(1, 4), torch.zeros(1, 2), torch.zeros(2, 3), torch.zeros(3)
        ),
        ValueError,
        r"z, counts: .*\(1, 2\) and \(1, 4\)",
    ),
    Case(
        "top-words-n-0",
        lambda: topics.top_words(torch.zeros(2, 3), ["a", "b", "c"], 0),
        ValueError,
        r"n: expected a positive int",
    ),
    Case(
        "topic-corpus-alpha-inf",
        lambda: topics.make_topic_corpus(5, alpha=INF),
        ValueError,
        r"alpha: expected a positive finite",
    ),
    # --------------------------------------------------------------- NICE (chapter 06)
    Case(
        "nice-dequantize-range",
        lambda: nice.dequantize(torch.tensor([[0.0, 17.0]]), 17),
        ValueError,
        r"levels: expected grey levels in \[0, 16\]",
    ),
    Case(
        "nice-prior-name",
        lambda: nice.prior_log_prob(torch.zeros(2, 3), "cauchy"),
        ValueError,
        r"prior: expected one of",
    ),
    # ------------------------------------------------------------ tabular (chapter 10)
    Case(
        "dp-step-nan-row",
        lambda: _dp_step(DP_X_NAN),
        ValueError,
        r"batch: expected finite values, got NaN in rows \[5\]",
    ),
    Case(
        "dp-step-nan-row-tuple",
        lambda: _dp_step((DP_X, DP_X_NAN), loss=lambda m, a, b: _dp_loss(m, a + b)),
        ValueError,
        r"batch\[1\]: expected finite values, got NaN in rows \[5\]",
    ),
    Case(
        "dp-step-nan-loss",
        lambda: _dp_step(DP_X - 0.5, loss=_dp_nan_loss),
        ValueError,
        r"loss_fn: expected finite per-example gradients, got NaN/inf in rows \[\d",
    ),
    Case(
        "dp-step-clip-0",
        lambda: _dp_step(DP_X, clip_norm=0.0),
        ValueError,
        r"clip_norm: expected a positive",
    ),
    Case(
        "dp-step-noise-negative",
        lambda: _dp_step(DP_X, noise_multiplier=-1.0),
        ValueError,
        r"noise_multiplier: expected a finite number >= 0",
    ),
    Case(
        "dp-step-rows-mismatch",
        lambda: _dp_step((DP_X, DP_X[:4]), loss=lambda m, a, b: _dp_loss(m, a)),
        ValueError,
        r"batch: expected equal row counts, got \[8, 4\]",
    ),
    Case(
        "clip-and-sum-nan",
        lambda: privacy.clip_and_sum(_per_example_grads(DP_X - 0.5), 1.0),
        ValueError,
        r"grads \(per-example norms\): expected finite values, got NaN in rows \[",
    ),
    Case(
        "poisson-sample-rate-2",
        lambda: privacy.poisson_sample(DP_X, sample_rate=2.0),
        ValueError,
        r"sample_rate: expected a sampling rate in \[0, 1\]",
    ),
    Case(
        "category-probabilities-nan",
        lambda: encoding.category_probabilities(np.array([1.0, NAN, 3.0])),
        ValueError,
        r"counts: expected finite values, got NaN in rows \[1\]",
    ),
    Case(
        "category-probabilities-negative",
        lambda: encoding.category_probabilities(np.array([1.0, -1.0])),
        ValueError,
        r"counts: expected non-negative counts",
    ),
    Case(
        "conditional-vector-category-too-large",
        lambda: encoding.conditional_vector(torch.tensor([0, 1]), torch.tensor([2, 0]), [2, 3]),
        ValueError,
        r"category: expected each category below its column's width \[2, 3\]",
    ),
    Case(
        "conditional-vector-span-too-large",
        lambda: encoding.conditional_vector(torch.tensor([0, 2]), torch.tensor([0, 0]), [2, 3]),
        ValueError,
        r"span: expected column indices in 0\.\.1",
    ),
    Case(
        "conditional-vector-shapes",
        lambda: encoding.conditional_vector(torch.tensor([0, 1]), torch.tensor([0]), [2, 3]),
        ValueError,
        r"category: expected the shape of span \(2,\), got \(1,\)",
    ),
    Case(
        "general-encode-low-nan",
        lambda: encoding.general_encode(np.array([0.5]), NAN, 1.0),
        ValueError,
        r"low: expected a finite number",
    ),
    Case(
        "general-decode-inverted",
        lambda: encoding.general_decode(np.array([0.5]), 1.0, 0.0),
        ValueError,
        r"low, high: expected low <= high",
    ),
    Case(
        "mode-normalize-std-0",
        lambda: encoding.mode_normalize(
            np.array([0.5]), np.array([0]), np.array([0.0]), np.array([0.0])
        ),
        ValueError,
        r"stds: expected positive finite",
    ),
    Case(
        "mode-responsibilities-std-0",
        lambda: encoding.mode_log_responsibilities(
            np.array([0.5]), np.array([0.0]), np.array([0.0]), np.array([1.0])
        ),
        ValueError,
        r"stds: expected positive finite",
    ),
    Case(
        "sample-modes-all-minus-inf",
        lambda: encoding.sample_modes(
            np.array([[0.0, -INF], [-INF, -INF]]), np.random.default_rng(0)
        ),
        ValueError,
        r"log_probs: expected \[n, K\] with a finite entry in every row",
    ),
    Case(
        "sample-modes-nan",
        lambda: encoding.sample_modes(np.array([[0.0, NAN]]), np.random.default_rng(0)),
        ValueError,
        r"log_probs: expected finite values or -inf, got NaN in rows \[0\]",
    ),
    Case(
        "fit-modes-nan",
        lambda: encoding.fit_modes(np.array([0.0, 1.0, NAN])),
        ValueError,
        r"values: expected finite values, got NaN in rows \[2\]",
    ),
    Case(
        "fit-modes-empty",
        lambda: encoding.fit_modes(np.array([])),
        ValueError,
        r"values: expected at least one row",
    ),
    # --------------------------------------------------------------------- evaluation
    Case(
        "frechet-nan-mean",
        lambda: frechet.frechet_distance(np.array([0.0, NAN]), np.eye(2), np.zeros(2), np.eye(2)),
        ValueError,
        r"mu1: expected finite values, got NaN in rows \[1\]",
    ),
    # ---------------------------------------------------------------- diffusion (08-09)
    Case(
        "q-sample-nan",
        lambda: dm.q_sample(
            dm.make_schedule("linear", 10), _with(X, (1, 1), NAN), 3, torch.randn(5, 4)
        ),
        ValueError,
        r"x0: expected finite values, got NaN in rows \[1\]",
    ),
    Case(
        "q-sample-noise-inf",
        lambda: dm.q_sample(
            dm.make_schedule("linear", 10), X, 3, _with(torch.randn(5, 4), (4, 0), INF)
        ),
        ValueError,
        r"noise: expected finite values, got inf in rows \[4\]",
    ),
    Case(
        "slerp-zero-vector",
        lambda: dm.slerp(_with(torch.ones(3, 4), (2,), 0.0), torch.randn(3, 4), 0.5),
        ValueError,
        r"z0: .*zero",
    ),
    Case(
        "frechet-shapes",
        lambda: frechet.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)),
        ValueError,
        r"mu1, cov1, mu2, cov2: .*\(2,\), \(3, 3\), \(2,\), \(2, 2\)",
    ),
]


# What each row did before issue 17, measured by running this table against a worktree of the
# parent commit (``git worktree add /tmp/wt HEAD``; an import path that puts it first): of
# 176 rows, 65 were already clear, 20 raised an obscure error (a raw broadcast, LinAlg, index or
# scikit-learn error, or one naming another argument) and 91 returned silently (a wrong or
# NaN result). The silent rows are the ones listed in neither string.
BEFORE_CLEAR = set(
    """
elbo-beta-negative elbo-free-bits-negative elbo-x-wrong-width make-vae-likelihood
make-vae-latent-0 vae-sample-0 active-units-one-row kl-warmup-negative-steps kl-warmup-start-2
iwae-bound-empty-k bounds-by-k-too-large bounds-by-k-1d iwae-loss-k-0 log-weights-eps-shape
log-weights-x-1d importance-estimate-shapes sample-log-weights-chunk-0 mode-counts-dims
ring-centres-0-modes jsd-log-shapes jsd-log-nan optimal-d-shapes value-on-grid-d-logits
gradient-penalty-shapes pack-not-multiple critic-loss-shapes l2-loss-shapes ce-loss-x-2
autoencoder-loss-name autoencoder-encode-width autoencoder-in-dim-0 pca-k-too-large
principal-angles-shapes gaussian-corrupt-sigma-negative masking-nu-1.5 salt-pepper-low-high
corruption-kind elbo-log-weights-eps-shape linear-gaussian-sigma2-0 linear-gaussian-b-shape
linear-gaussian-q-mean-width log-marginal-grid-area-0 latent-grid-n-1 per-datapoint-init-shape
pathwise-sigma-0 score-mu-nan estimator-summary-one-row rsample-family draw-noise-kind
histogram-fit-bins-0 entropy-not-normalised kl-grid-mismatch cross-entropy-dx-inf
empirical-ll-empty likelihood-grid-n-1 implicit-sample-0 document-ll-shapes
nice-dequantize-range nice-prior-name dp-step-clip-0 dp-step-noise-negative
dp-step-rows-mismatch poisson-sample-rate-2 category-probabilities-negative frechet-shapes
""".split()
)
BEFORE_OBSCURE = set(
    """
reparameterize-logvar-shape reparameterize-eps-shape reparameterize-eps-samples-shape
tail-probability-n-1 jsd-shapes jsd-shapes-batch jsd-nan-p jsd-negative-q pca-nan
pca-reconstruct-shapes dae-loss-empty log-weights-logvar-shape mean-field-not-pd
mean-field-nan-cov estimator-summary-truth-shape fit-mixture-nan topic-corpus-alpha-inf
conditional-vector-span-too-large fit-modes-nan fit-modes-empty
""".split()
)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_a_clear_error(case: Case) -> None:
    with pytest.raises(case.error, match=case.match):
        case.call()


def test_the_table_is_large_and_its_ids_unique() -> None:
    ids = {c.id for c in CASES}
    assert len(CASES) >= 100 and len(ids) == len(CASES)
    assert BEFORE_CLEAR | BEFORE_OBSCURE <= ids and not BEFORE_CLEAR & BEFORE_OBSCURE


# --------------------------------------------------------- nothing changes on an error


def test_dp_step_with_a_nan_row_leaves_the_model_and_optimizer_untouched() -> None:
    for batch, loss in ((DP_X_NAN, _dp_loss), (DP_X - 0.5, _dp_nan_loss)):
        model = _dp_model()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        kept = batch.clone()
        with pytest.raises(ValueError, match="rows"):
            privacy.dp_step(model, loss, batch, opt, clip_norm=1.0, noise_multiplier=1.0,
                            expected_batch_size=4.0)  # fmt: skip
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), k
        assert all(p.grad is None for p in model.parameters())
        assert opt.state_dict()["state"] == {}
        assert torch.equal(
            batch,
            kept,
        ) or torch.equal(batch.isnan(), kept.isnan())


def test_dp_step_still_steps_on_finite_rows() -> None:
    model = _dp_model()
    before = model.weight.detach().clone()
    stats = _dp_step(DP_X, model=model)
    assert stats.batch_size == 8 and not torch.equal(model.weight, before)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: vae.elbo(_vae(), x),
        lambda x: vae.vae_loss(_vae(), x),
        lambda x: iwae.iwae_loss(_vae(), x, 3),
        lambda x: ae.l2_loss(x, torch.zeros_like(x)),
        lambda x: iwae.effective_sample_size(x),
    ],
)
def test_rejected_inputs_are_not_modified(call) -> None:
    x = X_NAN.clone()
    with pytest.raises(ValueError):
        call(x)
    assert torch.equal(x.isnan(), X_NAN.isnan()) and torch.equal(x.nan_to_num(), X_NAN.nan_to_num())


def test_count_modes_counts_real_modes_and_rejects_zero_samples() -> None:
    centres = gan.ring_centres()
    samples = gan.sample_ring(400, generator=torch.Generator().manual_seed(0))
    assert gan.count_modes(samples, centres, 0.5) == 8
    with pytest.raises(ValueError, match="samples"):
        gan.count_modes(samples[:0], centres, 0.5)


def test_the_shared_checks_name_the_argument_and_the_rows() -> None:
    from edu_gen.core import checks

    with pytest.raises(
        ValueError, match=r"z0: expected non-zero vectors, got a zero vector in rows \[1\]"
    ):
        checks.nonzero_vectors("z0", torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert checks.nonzero_vectors("z0", torch.ones(3, 2)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"a: expected finite values, got NaN in rows \[0\]"):
        checks.finite_tensor("a", np.array([NAN, 1.0]))
    with pytest.raises(
        ValueError, match=r"x: .*got NaN/inf in rows \[0, 1, 2, 3, 4, \.\.\. \(6 of 7\)\]"
    ):
        checks.finite_tensor("x", torch.tensor([NAN, INF, NAN, NAN, NAN, NAN, 0.0]))
    with pytest.raises(ValueError, match=r"t: expected a finite number, got inf"):
        checks.finite_float("t", INF)
    with pytest.raises(TypeError, match=r"x: expected a torch.Tensor"):
        checks.in_range("x", [0.5], 0.0, 1.0)
    assert checks.finite_tensor("i", torch.arange(3)) is not None  # integers are finite
