r"""Two ε-prediction denoisers ε_θ(x_t, t), both taking t as an int64 tensor [B] in 1..T.

* :class:`MLPDenoiser` for flattened 8×8 digits (CPU-sized);
* :class:`UNet` — a small U-Net with GroupNorm residual blocks for 28×28 images (GPU).

Both embed t with the sinusoidal features of Vaswani et al. (2017) as used by Ho et al. (2020):
:math:`e(t)_{2i} = \sin(t\,\omega_i), e(t)_{2i+1} = \cos(t\,\omega_i)`,
:math:`\omega_i = 10000^{-i/(d/2-1)}`.

:func:`gaussian_eps` gives the *exact* optimal ε-predictor E[ε | x_t] when the data are
Gaussian N(μ, v I), used to study samplers without any training.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edu_gen.models.diffusion.schedules import Schedule, extract

Tensor = torch.Tensor


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """[B] time steps → [B, dim] sin/cos features (``dim`` even, >= 4)."""
    if dim % 2 or dim < 4:
        raise ValueError(f"dim: expected an even int >= 4, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / (half - 1))
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class TimeEmbedding(nn.Module):
    def __init__(self, dim: int, out: int) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim, out), nn.SiLU(), nn.Linear(out, out))

    def forward(self, t: Tensor) -> Tensor:
        # the features in the layers' dtype, so a float64 copy (``.double()``) works too
        return self.net(sinusoidal_embedding(t, self.dim).to(self.net[0].weight.dtype))


class MLPDenoiser(nn.Module):
    """ε_θ for vectors: residual MLP blocks, each adding a projection of the time embedding."""

    def __init__(self, dim: int = 64, hidden: int = 256, depth: int = 3, t_dim: int = 64) -> None:
        super().__init__()
        self.dim = dim
        self.time = TimeEmbedding(t_dim, hidden)
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
            )
            for _ in range(depth)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        shape = x.shape
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.dim:
            raise ValueError(f"x: expected {self.dim} values per example, got {flat.shape[1]}")
        if t.shape != (len(x),):
            raise ValueError(f"t: expected shape ({len(x)},), got {tuple(t.shape)}")
        return self.forward_embedded(flat, self.time(t)).reshape(shape)

    def forward_embedded(self, flat: Tensor, emb: Tensor) -> Tensor:
        """The trunk on flat inputs [B, dim] given the conditioning embedding [B, hidden]
        (the time embedding here; a conditional subclass adds a label embedding to it)."""
        h = self.inp(flat) + emb
        for block in self.blocks:
            h = h + block(h + emb)
        return self.out(h)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.temb(temb)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """A two-level U-Net (28 → 14 → 7) with GroupNorm residual blocks, for [B, C, 28, 28]."""

    def __init__(self, channels: int = 1, base: int = 32, t_dim: int = 128) -> None:
        super().__init__()
        c1, c2, c3 = base, 2 * base, 2 * base
        self.time = TimeEmbedding(t_dim, t_dim)
        self.inp = nn.Conv2d(channels, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, t_dim)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2 = ResBlock(c2, c2, t_dim)
        self.pool2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.mid = ResBlock(c3, c3, t_dim)
        self.up2 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.dec2 = ResBlock(2 * c2, c2, t_dim)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.dec1 = ResBlock(2 * c1, c1, t_dim)
        self.out = nn.Sequential(
            nn.GroupNorm(8, c1), nn.SiLU(), nn.Conv2d(c1, channels, 3, padding=1)
        )

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(
                f"x: expected [B, C, H, W] with H, W divisible by 4, got {tuple(x.shape)}"
            )
        temb = self.time(t)
        h1 = self.down1(self.inp(x), temb)
        h2 = self.down2(self.pool1(h1), temb)
        h = self.mid(self.pool2(h2), temb)
        h = self.dec2(torch.cat([self.up2(h), h2], 1), temb)
        h = self.dec1(torch.cat([self.up1(h), h1], 1), temb)
        return self.out(h)


class EMA(nn.Module):
    r"""A network plus an exponential moving average of its weights (Ho et al. 2020 sample from it).

    ``ema ← decay·ema + (1 - decay)·θ`` after each call of :meth:`update`. The averaged weights are
    buffers, so they live in ``state_dict`` (and in ``fit``'s checkpoints). In ``train()`` mode
    ``forward`` uses the live network; in ``eval()`` mode it uses the average.
    """

    def __init__(self, net: nn.Module, decay: float = 0.995) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay: expected a number in [0, 1), got {decay}")
        self.net, self.decay = net, decay
        self.names = [name for name, _ in net.named_parameters()]
        for name, p in net.named_parameters():
            self.register_buffer("ema_" + name.replace(".", "_"), p.detach().clone())

    @torch.no_grad()
    def update(self) -> None:
        for name, p in self.net.named_parameters():
            buf = getattr(self, "ema_" + name.replace(".", "_"))
            buf.lerp_(p.detach(), 1.0 - self.decay)

    def forward(self, x: Tensor, t: Tensor, *extra: Tensor) -> Tensor:
        """The network's output for (x, t) and any further inputs (e.g. class labels)."""
        if self.training:
            return self.net(x, t, *extra)
        params = {name: getattr(self, "ema_" + name.replace(".", "_")) for name in self.names}
        return torch.func.functional_call(self.net, params, (x, t, *extra))


def gaussian_eps(sched: Schedule, mean: Tensor, var: float):
    """The exact E[ε | x_t] for data x_0 ~ N(mean, var·I): √(1-ᾱ)(x_t - √ᾱ μ)/(ᾱ v + 1 - ᾱ)."""
    if var <= 0:
        raise ValueError(f"var: expected a positive variance, got {var}")

    def model(xt: Tensor, t: Tensor) -> Tensor:
        ab = extract(sched.alpha_bar, t, xt)
        return (1 - ab).sqrt() * (xt - ab.sqrt() * mean.to(xt)) / (ab * var + 1 - ab)

    return model
