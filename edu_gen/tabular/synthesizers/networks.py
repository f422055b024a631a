r"""The networks of a conditional tabular GAN (Xu et al. 2019), shared by CTGAN and CTAB-GAN.

* **generator** :math:`G(z, \text{cond})`, :math:`z\sim\mathcal N(0, I)`: :class:`Residual`
  blocks :math:`h \mapsto [\mathrm{ReLU}(\mathrm{BN}(Wh + b)), h]` (each block's output is
  concatenated to its input) and a linear layer to the encoded width, then the
  :class:`~edu_gen.tabular.synthesizers.spans.SpanActivation` (tanh / Gumbel-softmax);
* **critic** :math:`D` on PacGAN packs of ``pac`` rows (Lin et al. 2018,
  :func:`edu_gen.models.gan.pack`) of :math:`[\hat r, \text{cond}]`:
  Linear-LeakyReLU(0.2)-Dropout(0.5) layers and a linear score (:class:`Discriminator`);
* :class:`CTGANNet` holds both (and CTAB-GAN's auxiliary classifier, when there is one);
  :class:`GANSettings` their sizes and the optimiser, with the reference code's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from edu_gen.core.checks import positive_float, positive_int
from edu_gen.models.gan import pack
from edu_gen.tabular.encoding import Span
from edu_gen.tabular.synthesizers.spans import SoftmaxSpans, SpanActivation

Tensor = torch.Tensor

__all__ = ["CTGANNet", "Discriminator", "GANSettings", "Generator", "Residual"]


class Residual(nn.Module):
    """:math:`h \\mapsto [\\mathrm{ReLU}(\\mathrm{BN}(Wh + b)),\\ h]`; adds ``out_dim`` features."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(positive_int("in_dim", in_dim), positive_int("out_dim", out_dim))
        self.bn = nn.BatchNorm1d(out_dim)

    def forward(self, h: Tensor) -> Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(h))), h], dim=1)


class Generator(nn.Sequential):
    """Residual blocks of widths ``dims``, then a linear layer to ``out_dim``."""

    def __init__(self, in_dim: int, dims: Sequence[int], out_dim: int) -> None:
        layers: list[nn.Module] = []
        width = positive_int("in_dim", in_dim)
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        layers.append(nn.Linear(width, positive_int("out_dim", out_dim)))
        super().__init__(*layers)


class Discriminator(nn.Module):
    """PacGAN critic: packs of ``pac`` rows of width ``in_dim`` → one score per pack."""

    def __init__(self, in_dim: int, dims: Sequence[int], pac: int = 10) -> None:
        super().__init__()
        self.pac = positive_int("pac", pac)
        layers: list[nn.Module] = []
        width = positive_int("in_dim", in_dim) * pac
        for d in dims:
            layers += [
                nn.Linear(width, positive_int("dims", d)),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.5),
            ]
            width = d
        layers.append(nn.Linear(width, 1))
        self.seq = nn.Sequential(*layers)

    def forward(self, rows: Tensor) -> Tensor:
        return self.seq(pack(rows, self.pac)).squeeze(-1)


class CTGANNet(nn.Module):
    """The trainable parts: ``generator``, ``discriminator``, the output ``activation`` and,
    for CTAB-GAN, the auxiliary ``classifier`` (``None`` otherwise)."""

    def __init__(
        self,
        spans: Sequence[Span],
        cond_spans: Sequence[Span],
        cond_dim: int,
        *,
        embedding_dim: int,
        generator_dims: Sequence[int],
        discriminator_dims: Sequence[int],
        pac: int,
        tau: float,
        classifier: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.activation = SpanActivation(spans, tau)
        self.cond_spans = SoftmaxSpans(cond_spans)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.cond_dim = cond_dim
        self.data_dim = self.activation.dim
        self.generator = Generator(embedding_dim + cond_dim, generator_dims, self.data_dim)
        self.discriminator = Discriminator(self.data_dim + cond_dim, discriminator_dims, pac)
        self.classifier = classifier

    @property
    def pac(self) -> int:
        return self.discriminator.pac

    def generate(self, z: Tensor, cond: Tensor, gumbel: Tensor | None = None, hard: bool = False):
        """``(logits, activated rows)`` of :math:`G(z, \\text{cond})`."""
        logits = self.generator(torch.cat([z, cond], dim=1))
        return logits, self.activation(logits, gumbel, hard)


@dataclass(frozen=True)
class GANSettings:
    """Sizes and optimiser of a conditional tabular GAN; the defaults follow the reference
    code of Xu et al. (2019).

    ``embedding_dim`` is the size of :math:`z`; ``pac`` the PacGAN pack size;
    ``discriminator_steps`` the critic turns per generator turn; ``log_frequency`` draws
    training conditions by :math:`\\log(1 + n)`; ``lr``, ``betas``, ``weight_decay`` are each
    player's Adam's; ``gp_weight`` is the gradient penalty's :math:`\\lambda`; ``tau`` the
    Gumbel-softmax temperature.
    """

    embedding_dim: int = 128
    generator_dims: Sequence[int] = (256, 256)
    discriminator_dims: Sequence[int] = (256, 256)
    pac: int = 10
    discriminator_steps: int = 1
    log_frequency: bool = True
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 1e-6
    gp_weight: float = 10.0
    tau: float = 0.2

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        positive_int("embedding_dim", self.embedding_dim)
        for name in ("generator_dims", "discriminator_dims"):
            put(name, tuple(positive_int(name, d) for d in getattr(self, name)))
        positive_int("pac", self.pac)
        positive_int("discriminator_steps", self.discriminator_steps)
        put("log_frequency", bool(self.log_frequency))
        positive_float("lr", self.lr)
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {self.betas!r}")
        put("betas", betas)
        for name in ("weight_decay", "gp_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
        put("weight_decay", float(self.weight_decay))
        positive_float("tau", self.tau)

    def check_batch_size(self, batch_size: int) -> None:
        """ValueError unless ``batch_size`` is a whole number of packs."""
        if batch_size % self.pac:
            raise ValueError(
                f"batch_size: expected a multiple of pac={self.pac} (packs of real and "
                f"generated rows), got {batch_size}"
            )

    def network(
        self,
        spans: Sequence[Span],
        cond_spans: Sequence[Span],
        cond_dim: int,
        classifier: nn.Module | None = None,
    ) -> CTGANNet:
        """A :class:`CTGANNet` of these sizes (initialised from torch's global RNG)."""
        return CTGANNet(
            spans,
            cond_spans,
            cond_dim,
            embedding_dim=self.embedding_dim,
            generator_dims=self.generator_dims,
            discriminator_dims=self.discriminator_dims,
            pac=self.pac,
            tau=self.tau,
            classifier=classifier,
        )

    def adam(self, module: nn.Module) -> torch.optim.Adam:
        """Adam over ``module``'s parameters with these ``lr``, ``betas``, ``weight_decay``."""
        return torch.optim.Adam(
            module.parameters(), lr=self.lr, betas=self.betas, weight_decay=self.weight_decay
        )
