r"""A mixture of multivariate Bernoullis fitted by EM: maximum likelihood on binary images.

Chapter 00's ERM demonstration at image size. For binary vectors :math:`x\in\{0,1\}^D`,

.. math::
    p_\theta(x) = \sum_{k=1}^K \pi_k \prod_{d=1}^D \mu_{kd}^{x_d}(1-\mu_{kd})^{1-x_d},

whose log-likelihood is a log-sum-exp over :math:`\log\pi_k + x^\top\log\mu_k +
(1-x)^\top\log(1-\mu_k)` (Bishop 2006, *Pattern Recognition and Machine Learning* §9.3.3).
:math:`K = 1` is the model of independent pixels. EM alternates

* E-step: responsibilities :math:`r_{nk} \propto \pi_k\,p(x_n\mid\mu_k)`;
* M-step: :math:`\pi_k = N_k/N`, :math:`\mu_k = \sum_n r_{nk}x_n / N_k` with
  :math:`N_k = \sum_n r_{nk}`, each :math:`\mu_{kd}` then clipped to
  :math:`[\epsilon, 1-\epsilon]`.

The clip restricts the hypothesis space so that no pixel has probability exactly 0 or 1 (a
held-out image would otherwise get :math:`\log p = -\infty`, as chapter 00's histogram does).
Each :math:`\mu_{kd}` enters the expected complete-data log-likelihood through a concave
:math:`a\log\mu + b\log(1-\mu)`, whose maximiser over an interval is the unconstrained one
clipped to it, so the clipped M-step is still exact and EM never lowers the training
log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from edu_gen.core.checks import finite_tensor, float_tensor, positive_int

Tensor = torch.Tensor


def _binary_matrix(x: Tensor) -> Tensor:
    x = finite_tensor("x", float_tensor("x", x))
    if x.dim() != 2 or len(x) == 0:
        raise ValueError(f"x: expected a non-empty [N, D] matrix, got shape {tuple(x.shape)}")
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError("x: expected binary values (0 or 1), e.g. binarised images")
    return x


@dataclass(frozen=True)
class BernoulliMixture:
    """Mixture weights ``log_pi`` [K] and pixel probabilities ``mu`` [K, D]."""

    log_pi: Tensor
    mu: Tensor

    def component_log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log\pi_k + \log p(x_n\mid\mu_k)` as an [N, K] matrix."""
        x = _binary_matrix(x).to(self.mu)
        if x.shape[1] != self.mu.shape[1]:
            raise ValueError(f"x: expected {self.mu.shape[1]} columns, got {x.shape[1]}")
        return self.log_pi + x @ self.mu.log().T + (1 - x) @ torch.log1p(-self.mu).T

    def log_prob(self, x: Tensor) -> Tensor:
        r""":math:`\log p_\theta(x_n)` in nats, one value per row of ``x``."""
        return torch.logsumexp(self.component_log_prob(x), dim=1)


def fit_bernoulli_mixture(
    x: Tensor,
    n_components: int,
    *,
    iterations: int = 50,
    eps: float = 1e-3,
    seed: int = 0,
) -> tuple[BernoulliMixture, Tensor]:
    """Maximum likelihood over mixtures of ``n_components`` Bernoullis by EM (see the module).

    Starts from random responsibilities (seeded) and runs ``iterations`` EM steps on ``x``
    ([N, D], 0/1) in its dtype and on its device. Returns the fitted mixture and the mean
    training log-likelihood (nats per row) after every step, which never decreases.
    """
    x = _binary_matrix(x)
    k = positive_int("n_components", n_components)
    if k > len(x):
        raise ValueError(f"n_components: expected at most one per data row ({len(x)}), got {k}")
    positive_int("iterations", iterations)
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps: expected a probability clip in (0, 0.5), got {eps!r}")
    generator = torch.Generator().manual_seed(seed)
    resp = torch.rand(len(x), k, generator=generator, dtype=torch.float64).to(x)
    resp = resp / resp.sum(1, keepdim=True)
    history = []
    for _ in range(iterations):
        n_k = resp.sum(0).clamp_min(torch.finfo(x.dtype).tiny)  # M-step
        model = BernoulliMixture(
            (n_k / len(x)).log(), ((resp.T @ x) / n_k[:, None]).clamp(eps, 1 - eps)
        )
        joint = model.component_log_prob(x)  # E-step
        log_px = torch.logsumexp(joint, dim=1, keepdim=True)
        resp = (joint - log_px).exp()
        history.append(log_px.mean())
    return model, torch.stack(history)
