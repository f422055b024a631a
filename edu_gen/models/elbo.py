r"""The evidence lower bound and amortized inference (chapter 03, eq. 17.5-17.10).

For a latent-variable model :math:`p(x, z) = p(z)\,p(x\mid z)` and any distribution
:math:`q(z)`, Jensen's inequality on the concave logarithm gives (eq. 17.6-17.7)

.. math::
    \log p(x) = \log \mathbb E_{q}\Big[\frac{p(x,z)}{q(z)}\Big]
    \;\ge\; \mathbb E_{q}\big[\log p(x,z) - \log q(z)\big] =: \mathrm{ELBO}(q),

and the gap is exactly :math:`\log p(x) - \mathrm{ELBO}(q) = \mathrm{KL}(q(z)\,\|\,p(z\mid x))`.

:class:`LinearGaussian` is a model where everything is exact, so the identity can be checked
to rounding error: :math:`p(z) = \mathcal N(0, I_K)`, :math:`p(x\mid z)=\mathcal N(Wz+b,
\sigma^2 I_D)`. Its marginal is :math:`p(x) = \mathcal N(b, WW^\top + \sigma^2 I)` and its
posterior :math:`p(z\mid x)=\mathcal N(m, S)` with precision :math:`S^{-1}=I+W^\top W/\sigma^2`
and mean :math:`m = S W^\top (x-b)/\sigma^2` (the model of probabilistic PCA; Tipping &
Bishop 1999).

Inference per data point (eq. 17.9) optimises free parameters :math:`(\mu_n, \ell_n)` for
every :math:`x_n` (:class:`PerDatapointGaussian`); *amortized* inference (eq. 17.10) trains
one network :math:`x\mapsto(\mu_\phi(x), \ell_\phi(x))` for all of them
(:class:`edu_gen.models.vae.GaussianEncoder`). The difference of their ELBOs is the *amortization
gap*, and what even the best q of the family misses, :math:`\log p(x)-\mathrm{ELBO}(q^*)`, is
the *approximation gap* (Cremer, Li & Duvenaud 2018). For a 2-D latent space
:func:`grid_log_joint`, :func:`log_marginal_grid` and :func:`posterior_grid` compute
:math:`\log p(x)` and the posterior by quadrature, so both gaps can be measured for a
non-linear decoder too; in more dimensions :func:`importance_log_marginal` estimates
:math:`\log p(x)` by importance sampling, with :math:`q^*` as the proposal.

Length: a little under 400 lines, kept as one module: the exact model, the Monte Carlo ELBO
checked against it and the quadrature and importance sampling that carry the check to
non-linear decoders are one argument of the chapter, and each part is small.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import (
    finite_tensor,
    float_tensor,
    positive_float,
    positive_int,
    same_shape,
    shaped_tensor,
)
from edu_gen.core.distributions import clamp_logvar, kl_mvn, log_normal

Tensor = torch.Tensor
_LOG_2PI = math.log(2.0 * math.pi)


def log_weights(
    log_joint: Callable[[Tensor], Tensor], q_mean: Tensor, q_logvar: Tensor, eps: Tensor
) -> Tensor:
    r"""Log importance weights :math:`\log p(x, z_s) - \log q(z_s)` at
    :math:`z_s = \mu + \sigma\varepsilon_s`.

    ``log_joint(z)`` returns :math:`\log p(x, z)` for ``z`` of shape ``[S, N, K]`` (one value
    per sample and data point, ``[S, N]``); ``q_mean``/``q_logvar`` are ``[N, K]`` and ``eps``
    is standard-normal noise ``[S, N, K]``. Returns ``[S, N]``.
    """
    float_tensor("q_mean", q_mean)
    same_shape("q_logvar", float_tensor("q_logvar", q_logvar), "q_mean", q_mean)
    float_tensor("eps", eps)
    if eps.dim() != q_mean.dim() + 1 or eps.shape[1:] != q_mean.shape:
        raise ValueError(
            f"eps: expected shape [S, *q_mean.shape] = [S, {', '.join(map(str, q_mean.shape))}], "
            f"got {tuple(eps.shape)}"
        )
    z = q_mean + torch.exp(0.5 * q_logvar) * eps
    return log_joint(z) - log_normal(z, q_mean, q_logvar)


def elbo_mc(
    log_joint: Callable[[Tensor], Tensor], q_mean: Tensor, q_logvar: Tensor, eps: Tensor
) -> Tensor:
    r"""Monte Carlo ELBO :math:`\frac1S\sum_s[\log p(x,z_s)-\log q(z_s)]` (eq. 17.7), ``[N]``.

    Same arguments as :func:`log_weights`; unbiased for the ELBO of the diagonal Gaussian
    :math:`q=\mathcal N(\mu, \mathrm{diag}\,e^{\ell})`.
    """
    return log_weights(log_joint, q_mean, q_logvar, eps).mean(0)


def importance_log_marginal(
    log_joint: Callable[[Tensor], Tensor],
    q_mean: Tensor,
    q_logvar: Tensor,
    k: int,
    *,
    chunk: int = 100,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Importance-sampled evidence with a diagonal-Gaussian proposal, and its standard error.

    With :math:`z_s = \mu + \sigma\odot\varepsilon_s` drawn from
    :math:`q=\mathcal N(\mu,\mathrm{diag}\,e^{\ell})` and weights
    :math:`w_s = p(x, z_s)/q(z_s)` (:func:`log_weights`),

    .. math::
        \log\hat p(x) = \log\frac1k\sum_{s=1}^k w_s
        = \operatorname{logsumexp}_s(\log w_s) - \log k,
        \qquad
        \mathrm{se} \approx \frac{\operatorname{sd}_s(w_s)}{\sqrt k\;\overline w}
        = \frac{\operatorname{sd}_s(\tilde w_s)}{\sqrt k},\quad
        \tilde w_s = \frac{k\,w_s}{\sum_r w_r}.

    :math:`\hat p` is unbiased for :math:`p(x)`; its logarithm is the IWAE bound
    :math:`\mathcal L_k` of Burda et al. (2016) with proposal :math:`q`, so
    :math:`\mathrm{ELBO}(q)\le\mathbb E[\log\hat p]\le\log p(x)`, tight as
    :math:`k\to\infty`. The standard error is the delta method's (first order in
    :math:`1/\sqrt k`). It is reliable when :math:`q` is wider than the posterior; when
    :math:`q` is narrower in some direction (as the best factorised :math:`q` of a correlated
    posterior is) the weights are heavy-tailed, :math:`\log\hat p` approaches
    :math:`\log p(x)` slowly from below and the standard error is optimistic.

    ``log_joint(z)`` returns :math:`\log p(x, z)` ``[S, N]`` for ``z`` ``[S, N, K]``;
    ``q_mean``/``q_logvar`` are ``[N, K]``. Noise is drawn ``chunk`` samples at a time (memory
    stays ``chunk × N`` decoder outputs), from ``generator`` (drawn on its device, then moved to
    ``q_mean``'s) or the global stream. Returns ``(log_p_hat, standard_error)``, both ``[N]``.
    """
    float_tensor("q_mean", q_mean, 2)
    same_shape("q_logvar", float_tensor("q_logvar", q_logvar), "q_mean", q_mean)
    finite_tensor("q_mean", q_mean)
    finite_tensor("q_logvar", q_logvar)
    positive_int("k", k, 2)
    positive_int("chunk", chunk)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    parts = []
    for start in range(0, k, chunk):
        shape = (min(chunk, k - start), *q_mean.shape)
        eps = rng.draw(
            torch.randn, shape, generator=generator, device=q_mean.device, dtype=q_mean.dtype
        )
        parts.append(log_weights(log_joint, q_mean, q_logvar, eps))
    log_w = torch.cat(parts)  # [k, N]
    finite_tensor("log_joint(z)", log_w, allow_neg_inf=True)
    total = torch.logsumexp(log_w, 0)
    normalised = torch.exp(log_w - total + math.log(k))  # k w_s / sum_r w_r: mean 1
    return total - math.log(k), normalised.std(0) / math.sqrt(k)


def mean_field_gaussian(post_mean: Tensor, post_cov: Tensor) -> tuple[Tensor, Tensor]:
    r"""The diagonal Gaussian closest to :math:`\mathcal N(m, S)` in :math:`\mathrm{KL}(q\,\|\,p)`.

    Maximising the ELBO over :math:`q=\mathcal N(\mu,\mathrm{diag}\,v)` when the posterior is
    :math:`\mathcal N(m, S)` gives :math:`\mu = m` and :math:`v_k = 1/(S^{-1})_{kk}` — the
    inverse of the *precision*'s diagonal, which is smaller than :math:`S_{kk}` when latents are
    correlated (mean-field under-estimates variance). ``post_mean`` ``[N, K]``, ``post_cov``
    ``[K, K]``; returns ``(mean, logvar)``, both ``[N, K]``.
    """
    float_tensor("post_mean", post_mean)
    float_tensor("post_cov", post_cov, 2)
    k = post_mean.shape[-1]
    if post_cov.shape != (k, k):
        raise ValueError(f"post_cov: expected shape [{k}, {k}], got {tuple(post_cov.shape)}")
    chol, info = torch.linalg.cholesky_ex(finite_tensor("post_cov", post_cov))
    if int(info) != 0:
        raise ValueError("post_cov: expected a symmetric positive-definite covariance")
    precision = torch.cholesky_inverse(chol)
    logvar = -torch.log(torch.diagonal(precision))
    return post_mean, logvar.expand_as(post_mean).clone()


class LinearGaussian:
    r"""The linear-Gaussian latent model :math:`z\sim\mathcal N(0,I_K)`, :math:`x\mid z\sim
    \mathcal N(Wz+b,\sigma^2 I_D)`, with exact marginal, posterior and ELBO.

    ``W`` ``[D, K]``, ``b`` ``[D]``, ``sigma2`` > 0. Tensors keep the dtype of ``W``
    (float64 is best for checks to 1e-6). Data ``x`` is ``[N, D]``.
    """

    def __init__(self, W: Tensor, b: Tensor, sigma2: float | Tensor) -> None:
        self.W = finite_tensor("W", float_tensor("W", W, 2))
        self.b = finite_tensor("b", float_tensor("b", b, 1))
        if b.shape[0] != W.shape[0]:
            raise ValueError(f"b: expected shape [{W.shape[0]}] (rows of W), got {tuple(b.shape)}")
        s2 = torch.as_tensor(sigma2, dtype=W.dtype, device=W.device)
        if s2.numel() != 1 or not bool(torch.isfinite(s2)) or float(s2) <= 0:
            raise ValueError(f"sigma2: expected a positive finite number, got {sigma2!r}")
        self.sigma2 = s2.reshape(())
        self.b = self.b.to(W.dtype)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def _x(self, x: Tensor) -> Tensor:
        x = shaped_tensor("x", float_tensor("x", x), (..., self.data_dim))
        return finite_tensor("x", x).to(self.W.dtype)

    def _z(self, z: Tensor, name: str = "z") -> Tensor:
        z = shaped_tensor(name, float_tensor(name, z), (..., self.latent_dim))
        return z.to(self.W.dtype)

    # ------------------------------------------------------------------ densities

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw ``n`` pairs ``(x [n, D], z [n, K])`` from :math:`p(z)p(x\\mid z)`."""
        positive_int("n", n)
        opts = {"generator": generator, "dtype": self.W.dtype}
        z = torch.randn(n, self.latent_dim, **opts).to(self.W.device)
        noise = torch.randn(n, self.data_dim, **opts).to(self.W.device)
        return z @ self.W.T + self.b + self.sigma2.sqrt() * noise, z

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        r""":math:`\log p(x\mid z)=\log\mathcal N(x; Wz+b, \sigma^2 I)`; z may be [S, N, K]."""
        return log_normal(self._x(x), self._z(z) @ self.W.T + self.b, torch.log(self.sigma2))

    def log_prior(self, z: Tensor) -> Tensor:
        r""":math:`\log p(z)=\log\mathcal N(z;0,I)`."""
        return log_normal(self._z(z), 0.0, 0.0)

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        r""":math:`\log p(x, z) = \log p(x\mid z) + \log p(z)`."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    def marginal_cov(self) -> Tensor:
        r""":math:`C = WW^\top+\sigma^2 I_D`, the covariance of :math:`p(x)`."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return self.W @ self.W.T + self.sigma2 * eye

    def log_marginal(self, x: Tensor) -> Tensor:
        r"""Exact evidence :math:`\log p(x) = \log\mathcal N(x; b, WW^\top+\sigma^2 I)`, ``[N]``."""
        x = self._x(x)
        chol = torch.linalg.cholesky(self.marginal_cov())
        white = torch.linalg.solve_triangular(chol, (x - self.b).unsqueeze(-1), upper=False)
        logdet = 2 * torch.log(torch.diagonal(chol)).sum()
        return -0.5 * (self.data_dim * _LOG_2PI + logdet + white.squeeze(-1).pow(2).sum(-1))

    def posterior_precision(self) -> Tensor:
        r""":math:`S^{-1} = I_K + W^\top W/\sigma^2` (the same for every x)."""
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        return eye + self.W.T @ self.W / self.sigma2

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Exact :math:`p(z\mid x)=\mathcal N(m, S)`: means [N, K], shared S [K, K]."""
        x = self._x(x)
        cov = torch.linalg.inv(self.posterior_precision())
        cov = 0.5 * (cov + cov.T)
        mean = (x - self.b) @ self.W @ cov / self.sigma2
        return mean, cov

    def optimal_mean_field(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""The best *diagonal* Gaussian q* for every x (see :func:`mean_field_gaussian`)."""
        return mean_field_gaussian(*self.posterior(x))

    # ---------------------------------------------------------------------- ELBO

    def elbo_full(self, x: Tensor, q_mean: Tensor, q_cov: Tensor) -> Tensor:
        r"""Closed-form ELBO for :math:`q=\mathcal N(\mu, \Sigma_q)` with a full covariance.

        .. math::
            \mathrm{ELBO} = -\tfrac D2\log 2\pi\sigma^2
            - \frac{\lVert x-b-W\mu\rVert^2 + \mathrm{tr}(W\Sigma_q W^\top)}{2\sigma^2}
            - \tfrac12\big(\lVert\mu\rVert^2+\mathrm{tr}\,\Sigma_q\big)
            + \tfrac12\log\det\Sigma_q + \tfrac K2

        (the :math:`\log 2\pi` of the prior cancels the one of the entropy of q).
        ``q_cov`` is ``[K, K]`` or ``[N, K, K]``; returns ``[N]``.
        """
        x, mu = self._x(x), self._z(q_mean, "q_mean")
        k = self.latent_dim
        cov = float_tensor("q_cov", q_cov).to(self.W.dtype)
        if cov.shape[-2:] != (k, k):
            raise ValueError(f"q_cov: expected shape [..., {k}, {k}], got {tuple(cov.shape)}")
        trace_w = torch.einsum("dk,...kl,dl->...", self.W, cov, self.W)
        trace = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)
        logdet = torch.logdet(cov)
        return self._elbo(x, mu, trace_w, trace, logdet)

    def elbo(self, x: Tensor, q_mean: Tensor, q_logvar: Tensor) -> Tensor:
        r"""Closed-form ELBO for a diagonal :math:`q=\mathcal N(\mu,\mathrm{diag}\,e^{\ell})`, [N].

        :meth:`elbo_full` with :math:`\Sigma_q=\mathrm{diag}(v)`:
        :math:`\mathrm{tr}(W\Sigma_qW^\top)=\sum_k v_k\lVert W_{:k}\rVert^2` and
        :math:`\log\det\Sigma_q=\sum_k \ell_k`.
        """
        x, mu = self._x(x), self._z(q_mean, "q_mean")
        logvar = self._z(q_logvar, "q_logvar")
        var = torch.exp(logvar)
        trace_w = (var * self.W.pow(2).sum(0)).sum(-1)
        return self._elbo(x, mu, trace_w, var.sum(-1), logvar.sum(-1))

    def _elbo(
        self, x: Tensor, mu: Tensor, trace_w: Tensor, trace: Tensor, logdet: Tensor
    ) -> Tensor:
        d, k = self.data_dim, self.latent_dim
        resid = (x - self.b - mu @ self.W.T).pow(2).sum(-1)
        expected_loglik = (
            -0.5 * d * torch.log(2 * math.pi * self.sigma2) - 0.5 * (resid + trace_w) / self.sigma2
        )
        expected_logprior = -0.5 * k * _LOG_2PI - 0.5 * (mu.pow(2).sum(-1) + trace)
        entropy = 0.5 * k * (1 + _LOG_2PI) + 0.5 * logdet
        return expected_loglik + expected_logprior + entropy

    def kl_to_posterior(self, x: Tensor, q_mean: Tensor, q_cov: Tensor) -> Tensor:
        r""":math:`\mathrm{KL}(q\,\|\,p(z\mid x))` for :math:`q=\mathcal N(\mu,\Sigma_q)`, [N]."""
        m, s = self.posterior(x)
        return kl_mvn(
            self._z(q_mean, "q_mean"), float_tensor("q_cov", q_cov).to(self.W.dtype), m, s
        )


class PerDatapointGaussian(nn.Module):
    r"""Non-amortized variational parameters (eq. 17.9): one :math:`(\mu_n, \ell_n)` per data point.

    ``forward(index)`` returns ``(mean, logvar)`` for the rows ``index``; log-variances are
    clamped to :data:`edu_gen.core.distributions.LOGVAR_RANGE`. ``init`` optionally gives starting
    ``(mean, logvar)`` tensors ``[N, K]``.
    """

    def __init__(self, n: int, latent_dim: int, init: tuple[Tensor, Tensor] | None = None) -> None:
        super().__init__()
        positive_int("n", n)
        positive_int("latent_dim", latent_dim)
        mean, logvar = torch.zeros(n, latent_dim), torch.zeros(n, latent_dim)
        if init is not None:
            mean, logvar = (t.detach().float().clone() for t in init)
            if mean.shape != (n, latent_dim) or logvar.shape != (n, latent_dim):
                raise ValueError(f"init: expected two tensors of shape [{n}, {latent_dim}]")
        self.mean = nn.Parameter(mean)
        self.logvar = nn.Parameter(logvar)

    def forward(self, index: Tensor) -> tuple[Tensor, Tensor]:
        return self.mean[index], clamp_logvar(self.logvar[index])


def latent_grid(limit: float = 4.0, n: int = 121) -> tuple[Tensor, float]:
    r"""A square grid over :math:`[-\text{limit}, \text{limit}]^2` for a 2-D latent space.

    Returns ``(z [n*n, 2], cell_area)``; rows run over :math:`z_2` fastest, so
    ``values.reshape(n, n)`` has :math:`z_1` along the first axis.
    """
    positive_int("n", n, 2)
    positive_float("limit", limit)
    axis = torch.linspace(-limit, limit, n, dtype=torch.float64)
    z = torch.cartesian_prod(axis, axis)
    return z, float((axis[1] - axis[0]) ** 2)


def grid_log_joint(
    log_likelihood: Callable[[Tensor, Tensor], Tensor], x: Tensor, z: Tensor, chunk: int = 1024
) -> Tensor:
    r""":math:`\log p(x_n\mid z_g) + \log p(z_g)` for every data point and grid point, ``[N, G]``.

    ``log_likelihood(x, z)`` must broadcast ``x`` ``[1, N, D]`` against ``z`` ``[G, 1, K]``
    and return ``[G, N]`` (decoders of :mod:`edu_gen.models.vae` do); the prior is
    :math:`\mathcal N(0, I)`. The grid is processed ``chunk`` points at a time.
    """
    float_tensor("x", x, 2)
    float_tensor("z", z, 2)
    rows = []
    for start in range(0, z.shape[0], chunk):
        zc = z[start : start + chunk]
        ll = log_likelihood(x.unsqueeze(0), zc.unsqueeze(1).to(x.dtype))
        rows.append(ll.double() + log_normal(zc.double(), 0.0, 0.0).unsqueeze(1))
    return torch.cat(rows).T


def log_marginal_grid(log_joint: Tensor, cell_area: float) -> Tensor:
    r"""Evidence by quadrature, :math:`\log p(x)\approx\log\sum_g p(x, z_g)\,\Delta`, ``[N]``.

    ``log_joint`` is the ``[N, G]`` output of :func:`grid_log_joint`; computed with
    ``logsumexp`` so that tiny likelihoods (e.g. -500 nats) do not underflow. Accurate when the
    grid is fine compared with the posterior's width and covers nearly all its mass.
    """
    finite_tensor("log_joint", float_tensor("log_joint", log_joint, 2), allow_neg_inf=True)
    positive_float("cell_area", cell_area)
    return torch.logsumexp(log_joint, dim=1) + math.log(cell_area)


def posterior_grid(log_joint: Tensor) -> Tensor:
    r"""Posterior probabilities of the grid cells, :math:`p(z_g\mid x_n)\Delta` (rows sum to 1)."""
    finite_tensor("log_joint", float_tensor("log_joint", log_joint, 2), allow_neg_inf=True)
    return torch.softmax(log_joint, dim=1)
