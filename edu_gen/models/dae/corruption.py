r"""Corruption processes :math:`q_D(\tilde x\mid x)` of a denoising autoencoder (eq. 17.4).

* Gaussian:        :math:`\tilde x = x + \sigma\varepsilon`, :math:`\varepsilon\sim\mathcal N(0, I)`
* masking:         a fraction :math:`\nu` of the components, chosen at random for each
  example, is set to 0
* salt-and-pepper: a fraction :math:`\nu` of the components is set to the minimum or the
  maximum value (each with probability 1/2)

(Vincent et al. 2010). Every function draws from ``generator`` when one is given, so the
result is reproducible on any device.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

from edu_gen.core import rng
from edu_gen.core.checks import bounded_float, choice, float_tensor, non_empty, shaped_tensor
from edu_gen.core.rng import check_generator

Tensor = torch.Tensor
Corruption = Callable[[Tensor], Tensor]


def check_batch(x: object, name: str = "x") -> Tensor:
    """``x`` if it is a non-empty floating-point batch ``[batch, D, ...]`` (two or more dims)."""
    return non_empty(name, shaped_tensor(name, float_tensor(name, x), ("batch", "D", ...)))


def _uniform(shape: Sequence[int], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U(0, 1) draws of ``shape``, made on the generator's device and moved to ``like``'s."""
    return rng.draw(torch.rand, tuple(shape), generator=generator, device=like.device)


def gaussian_corrupt(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Additive Gaussian noise :math:`\tilde x = x + \sigma\varepsilon`.

    The noise is :math:`\varepsilon\sim\mathcal N(0, I)`: eq. 17.4 with :math:`\mu_D = 0`
    and :math:`\Sigma_D = \sigma^2 I`; ``sigma >= 0`` is the standard deviation. Draws from
    ``generator`` when one is given (then the result is reproducible, on any device).
    """
    check_batch(x)
    sigma = bounded_float("sigma", sigma, 0.0)
    check_generator(generator)
    eps = rng.draw(torch.randn, x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * eps


def _random_subset(x: Tensor, nu: float, generator: torch.Generator | None) -> Tensor:
    """Boolean mask of x's shape with exactly ``round(nu * D)`` True entries per example."""
    n = x.shape[0]
    d = x[0].numel()
    k = round(nu * d)
    # Ranking i.i.d. uniform scores gives a uniformly random k-subset of the D positions.
    order = _uniform((n, d), x, generator).argsort(dim=1)
    chosen = torch.zeros(n, d, dtype=torch.bool, device=x.device)
    chosen.scatter_(1, order[:, :k], True)
    return chosen.reshape(x.shape)


def masking_corrupt(x: Tensor, nu: float, generator: torch.Generator | None = None) -> Tensor:
    r"""Masking noise: ``round(nu * D)`` random components of each example are set to 0.

    The components are a uniformly random subset, drawn afresh for every example.

    ``nu`` in [0, 1] is the destroyed fraction (Vincent et al. 2010); D is the number of
    components of one example (``x[0].numel()``). Every other component is unchanged.
    """
    check_batch(x)
    nu = bounded_float("nu", nu, 0.0, 1.0)
    check_generator(generator)
    drop = _random_subset(x, nu, generator)
    return torch.where(drop, torch.zeros_like(x), x)


def salt_and_pepper_corrupt(
    x: Tensor,
    nu: float,
    generator: torch.Generator | None = None,
    *,
    low: float = 0.0,
    high: float = 1.0,
) -> Tensor:
    r"""Salt-and-pepper noise: ``round(nu * D)`` random components per example go to an extreme.

    Each chosen component gets ``low`` or ``high`` with probability 1/2 (Vincent et al. 2010
    use the minimum and maximum input values); the others are unchanged.
    """
    check_batch(x)
    nu = bounded_float("nu", nu, 0.0, 1.0)
    check_generator(generator)
    if not low < high:
        raise ValueError(f"low, high: expected low < high, got low={low!r}, high={high!r}")
    hit = _random_subset(x, nu, generator)
    salt = _uniform(x.shape, x, generator) < 0.5
    value = torch.where(salt, torch.full_like(x, high), torch.full_like(x, low))
    return torch.where(hit, value, x)


CORRUPTIONS: dict[str, Callable[..., Tensor]] = {
    "gaussian": gaussian_corrupt,
    "masking": masking_corrupt,
    "salt_and_pepper": salt_and_pepper_corrupt,
}
"""Name -> corruption function; the second argument is its noise level (sigma or nu)."""


def corruption(kind: str, level: float, generator: torch.Generator | None = None) -> Corruption:
    """The corruption process ``x -> x~`` of one ``kind`` and noise ``level``, as a function of x.

    ``corruption("gaussian", 0.3)`` is ``lambda x: gaussian_corrupt(x, 0.3)``; the level is
    checked now, not at the first call.
    """
    choice("kind", kind, CORRUPTIONS)
    name = "sigma" if kind == "gaussian" else "nu"
    bounded_float(name, level, 0.0, None if kind == "gaussian" else 1.0)
    check_generator(generator)
    return functools.partial(CORRUPTIONS[kind], **{name: level}, generator=generator)
