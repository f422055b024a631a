r"""Noise schedules of a Gaussian diffusion, with one indexing convention for the whole package.

Indexing convention (used everywhere in :mod:`edu_gen.models.diffusion`)
------------------------------------------------------------------
Time steps run :math:`t = 1, \dots, T` as in Ho, Jain & Abbeel (2020). Every per-step array
has length ``T + 1`` and is indexed *directly by t*; entry ``0`` stands for "no noise yet":

* ``betas[0] = 0``, ``betas[t] = β_t`` for ``t = 1..T``;
* ``alphas[t] = 1 - β_t`` (``alphas[0] = 1``);
* ``alpha_bar[t] = ∏_{s=1}^{t} α_s``, so ``alpha_bar[0] = 1`` exactly and ``alpha_bar[T]`` is
  close to 0.

A denoiser is only ever called with ``t`` in ``1..T``. (``diffusers`` indexes from 0: its
``alphas_cumprod[k]`` is our ``alpha_bar[k + 1]``; the oracle tests spell out the mapping.)

Schedules (β_t for t = 1..T):

* ``"linear"``: β from ``beta_start = 1e-4`` to ``beta_end = 0.02`` in equal steps (Ho et al.);
* ``"quadratic"``: :math:`\beta_t = (\sqrt{\beta_{start}} + \tfrac{t-1}{T-1}
  (\sqrt{\beta_{end}} - \sqrt{\beta_{start}}))^2`, equal steps in √β;
* ``"cosine"``: :math:`\bar\alpha(t) = f(t)/f(0)`, :math:`f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}
  \tfrac{\pi}{2}\big)`, :math:`\beta_t = \min(1 - \bar\alpha(t)/\bar\alpha(t-1), 0.999)`, s = 0.008
  (Nichol & Dhariwal 2021).

The signal-to-noise ratio :math:`\mathrm{SNR}(t) = \bar\alpha_t / (1-\bar\alpha_t)` (Kingma et al.
2021) summarises a schedule in one curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

Tensor = torch.Tensor

SCHEDULES: tuple[str, ...] = ("linear", "quadratic", "cosine")


@dataclass(frozen=True)
class Schedule:
    """β_t and everything derived from it, as float64 tensors of length ``T + 1`` (see above)."""

    betas: Tensor

    def __post_init__(self) -> None:
        b = self.betas
        if not isinstance(b, Tensor) or b.dim() != 1 or len(b) < 2:
            raise ValueError("betas: expected a 1-D tensor of length T + 1 >= 2 (betas[0] = 0)")
        if b[0] != 0:
            raise ValueError(f"betas: expected betas[0] == 0 (t = 0 is noise-free), got {b[0]}")
        if not bool(((b[1:] > 0) & (b[1:] < 1)).all()):
            raise ValueError("betas: expected 0 < beta_t < 1 for t = 1..T")
        b = b.to(torch.float64)
        object.__setattr__(self, "betas", b)
        # derived arrays are computed once (samplers read them at every step)
        object.__setattr__(self, "_alpha_bar", torch.cumprod(1.0 - b, dim=0))
        object.__setattr__(self, "_alpha_bar_list", self._alpha_bar.tolist())

    @property
    def T(self) -> int:  # noqa: N802 - the paper's symbol
        return len(self.betas) - 1

    @property
    def alphas(self) -> Tensor:
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> Tensor:
        return self._alpha_bar

    def alpha_bar_at(self, t: int) -> float:
        """ᾱ_t as a Python float (t in 0..T), for scalar per-step arithmetic in samplers."""
        return self._alpha_bar_list[t]

    @property
    def snr(self) -> Tensor:
        """SNR(t) = ᾱ_t / (1 - ᾱ_t) for t = 1..T (entry 0 is inf)."""
        ab = self.alpha_bar
        return ab / (1.0 - ab)

    @property
    def posterior_variance(self) -> Tensor:
        """β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t) for t = 1..T (β̃_1 = 0); entry 0 is 0."""
        ab = self.alpha_bar
        out = torch.zeros_like(ab)
        out[1:] = self.betas[1:] * (1.0 - ab[:-1]) / (1.0 - ab[1:])
        return out


def check_timesteps(t: Tensor, T: int, name: str = "t", low: int = 1) -> Tensor:  # noqa: N803
    """Validate an integer tensor of time steps in ``low..T``."""
    if not isinstance(t, Tensor) or t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name}: expected an int64 tensor of time steps, got {t!r:.60}")
    if t.numel() and (int(t.min()) < low or int(t.max()) > T):
        raise ValueError(
            f"{name}: expected time steps in {low}..{T}, got range {int(t.min())}..{int(t.max())}"
        )
    return t


def make_schedule(
    kind: str = "linear",
    T: int = 1000,  # noqa: N803
    *,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    s: float = 0.008,
) -> Schedule:
    """Build one of :data:`SCHEDULES` with ``T`` steps (see the module docstring)."""
    if kind not in SCHEDULES:
        raise ValueError(f"kind: expected one of {SCHEDULES}, got {kind!r}")
    if isinstance(T, bool) or not isinstance(T, int) or T < 2:
        raise ValueError(f"T: expected an int >= 2, got {T!r}")
    if not 0 < beta_start < beta_end < 1:
        raise ValueError(
            f"beta_start, beta_end: expected 0 < start < end < 1, got {beta_start}, {beta_end}"
        )
    if kind == "linear":
        b = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    elif kind == "quadratic":
        b = torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=torch.float64) ** 2
    else:
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        b = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return Schedule(torch.cat([torch.zeros(1, dtype=torch.float64), b]))


def extract(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """``values[t]`` shaped [B, 1, ...] to broadcast over ``like`` [B, ...], in its dtype."""
    out = values.to(like.device)[t.to(like.device)].to(like.dtype)
    return out.reshape(-1, *([1] * (like.dim() - 1)))
