r"""Diagonal Gaussian helpers shared by the latent-variable chapters (03, 04, 05, …).

A diagonal Gaussian :math:`\mathcal N(\mu, \mathrm{diag}(\sigma^2))` is parameterised by its
mean and its *log-variance* :math:`\ell = \log\sigma^2`, the form an encoder network outputs.
Along the last dimension (the event dimension, size :math:`D`):

* log-density
  :math:`\log \mathcal N(x;\mu,\sigma^2)
  = -\tfrac12 \sum_{d=1}^D \big[\log 2\pi + \ell_d + (x_d-\mu_d)^2 e^{-\ell_d}\big]`,
* KL divergence between two diagonal Gaussians (closed form, Kingma & Welling 2014, app. B)
  :math:`\mathrm{KL}(\mathcal N(\mu_q,\sigma_q^2)\,\|\,\mathcal N(\mu_p,\sigma_p^2))
  = \tfrac12 \sum_d \big[\ell_{p,d} - \ell_{q,d}
  + (\sigma_{q,d}^2 + (\mu_{q,d}-\mu_{p,d})^2)/\sigma_{p,d}^2 - 1\big]`;
  with the default standard-normal prior this is
  :math:`\tfrac12\sum_d(\mu_d^2 + \sigma_d^2 - \ell_d - 1)`.

:func:`kl_mvn` gives the same divergence for full covariance matrices (used where a
posterior has correlated latents, chapter 03).

Both diagonal functions reduce (sum) over the last dimension only; leading dimensions
broadcast, so a batch of samples ``[S, B, D]`` can be scored against a batch of posteriors
``[B, D]``.

Log-variance range
------------------
:data:`LOGVAR_RANGE` is ``(-12, 8)``: standard deviations between :math:`e^{-6}\approx
2.5\cdot10^{-3}` and :math:`e^{4}\approx 55`, far wider than any data in the course needs,
and narrow enough that :math:`e^{\pm\ell}` stays finite in float32 (and float16). The
functions below evaluate the formulas *exactly* for whatever log-variance they are given;
networks that output a log-variance should pass it through :func:`clamp_logvar` so that an
early, wild prediction cannot overflow into ``inf``/``NaN``.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor

#: Range into which :func:`clamp_logvar` clips log-variances (see the module docstring).
LOGVAR_RANGE: tuple[float, float] = (-12.0, 8.0)

_LOG_2PI = math.log(2.0 * math.pi)


def clamp_logvar(
    logvar: Tensor, lo: float = LOGVAR_RANGE[0], hi: float = LOGVAR_RANGE[1]
) -> Tensor:
    r"""Clip a log-variance :math:`\ell` into ``[lo, hi]`` (default :data:`LOGVAR_RANGE`).

    The gradient is zero outside the range (``torch.clamp``), so a parameter pushed out of the
    range stops moving further; inside it the map is the identity.
    """
    logvar = _as_float_tensor(logvar, "logvar")
    if not lo < hi:
        raise ValueError(f"lo, hi: expected lo < hi, got lo={lo}, hi={hi}")
    return logvar.clamp(lo, hi)


def _as_float_tensor(value: Tensor | float, name: str, like: Tensor | None = None) -> Tensor:
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got {value.dtype}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a torch.Tensor or a float, got {type(value).__name__}")
    if like is None:
        return torch.tensor(float(value))
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def _event_tensor(value: object, name: str) -> Tensor:
    """A floating-point tensor with at least one (event) dimension, else a clear error."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    value = _as_float_tensor(value, name)
    if value.dim() == 0:
        raise ValueError(f"{name}: expected at least one (event) dimension, got a scalar")
    return value


def _broadcast(named: dict[str, Tensor]) -> None:
    shapes = [tuple(t.shape) for t in named.values()]
    try:
        torch.broadcast_shapes(*shapes)
    except RuntimeError as err:
        desc = ", ".join(f"{k}{tuple(v.shape)}" for k, v in named.items())
        raise ValueError(f"shapes do not broadcast: {desc}") from err


def log_normal(x: Tensor, mean: Tensor | float, logvar: Tensor | float) -> Tensor:
    r""":math:`\log\mathcal N(x;\mu,\mathrm{diag}(e^{\ell}))`, summed over the last dimension.

    ``x`` must be a floating-point tensor with at least one dimension (the last one is the
    event dimension); ``mean`` and ``logvar`` broadcast against it (floats allowed). Returns
    a tensor of the broadcast shape without its last dimension.
    """
    x = _event_tensor(x, "x")
    mean = _as_float_tensor(mean, "mean", like=x)
    logvar = _as_float_tensor(logvar, "logvar", like=x)
    _broadcast({"x": x, "mean": mean, "logvar": logvar})
    z = (x - mean) * torch.exp(-0.5 * logvar)  # standardised residual, overflow-safe ordering
    return -0.5 * (_LOG_2PI + logvar + z.pow(2)).sum(dim=-1)


def kl_normal(
    mu_q: Tensor,
    logvar_q: Tensor,
    mu_p: Tensor | float = 0.0,
    logvar_p: Tensor | float = 0.0,
) -> Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu_q, e^{\ell_q}) \,\|\, \mathcal N(\mu_p, e^{\ell_p}))`.

    Closed form for diagonal Gaussians, summed over the last dimension (see the module
    docstring). The defaults ``mu_p=0, logvar_p=0`` give the KL to the standard-normal prior
    used in the VAE's ELBO. All arguments broadcast; the result is never negative up to
    rounding.
    """
    mu_q = _event_tensor(mu_q, "mu_q")
    logvar_q = _as_float_tensor(logvar_q, "logvar_q", like=mu_q)
    mu_p = _as_float_tensor(mu_p, "mu_p", like=mu_q)
    logvar_p = _as_float_tensor(logvar_p, "logvar_p", like=mu_q)
    _broadcast({"mu_q": mu_q, "logvar_q": logvar_q, "mu_p": mu_p, "logvar_p": logvar_p})
    ratio = torch.exp(logvar_q - logvar_p)  # sigma_q^2 / sigma_p^2
    mahalanobis = (mu_q - mu_p).pow(2) * torch.exp(-logvar_p)
    return 0.5 * (ratio + mahalanobis - 1.0 - (logvar_q - logvar_p)).sum(dim=-1)


def kl_mvn(mu_q: Tensor, cov_q: Tensor, mu_p: Tensor, cov_p: Tensor) -> Tensor:
    r"""KL between Gaussians with full covariances,
    :math:`\mathrm{KL}(\mathcal N(\mu_q,\Sigma_q)\,\|\,\mathcal N(\mu_p,\Sigma_p))`:

    .. math:: \tfrac12\big[\mathrm{tr}(\Sigma_p^{-1}\Sigma_q)
              + (\mu_p-\mu_q)^\top\Sigma_p^{-1}(\mu_p-\mu_q) - K
              + \log\det\Sigma_p - \log\det\Sigma_q\big]

    Means ``[..., K]``, covariances ``[..., K, K]`` (symmetric positive definite); leading
    dimensions broadcast. Computed with Cholesky factors, never with explicit inverses.
    """
    for name, t, extra in (
        ("mu_q", mu_q, 1),
        ("cov_q", cov_q, 2),
        ("mu_p", mu_p, 1),
        ("cov_p", cov_p, 2),
    ):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point torch.Tensor")
        if t.dim() < extra:
            raise ValueError(
                f"{name}: expected at least {extra} dimension(s), got {tuple(t.shape)}"
            )
    k = mu_q.shape[-1]
    for name, t in (("cov_q", cov_q), ("cov_p", cov_p)):
        if t.shape[-2:] != (k, k):
            raise ValueError(f"{name}: expected shape [..., {k}, {k}], got {tuple(t.shape)}")
    if mu_p.shape[-1] != k:
        raise ValueError(f"mu_p: expected last dimension {k}, got {tuple(mu_p.shape)}")
    chol_p = torch.linalg.cholesky(cov_p)
    chol_q = torch.linalg.cholesky(cov_q)
    batch = torch.broadcast_shapes(
        chol_p.shape[:-2], chol_q.shape[:-2], mu_q.shape[:-1], mu_p.shape[:-1]
    )
    chol_p = chol_p.expand(*batch, k, k)
    chol_q = chol_q.expand(*batch, k, k)
    # tr(Σp⁻¹ Σq) = ‖Lp⁻¹ Lq‖_F², Mahalanobis term = ‖Lp⁻¹ (μq − μp)‖²
    a = torch.linalg.solve_triangular(chol_p, chol_q, upper=False)
    diff = (mu_q - mu_p).expand(*batch, k).unsqueeze(-1)
    m = torch.linalg.solve_triangular(chol_p, diff, upper=False).squeeze(-1)
    logdet_p = 2 * torch.log(torch.diagonal(chol_p, dim1=-2, dim2=-1)).sum(-1)
    logdet_q = 2 * torch.log(torch.diagonal(chol_q, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * (a.pow(2).sum((-2, -1)) + m.pow(2).sum(-1) - k + logdet_p - logdet_q)
