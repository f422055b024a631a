r"""Class-conditional DDPM and classifier-free guidance (Ho & Salimans 2022).

One network :math:`\varepsilon_\theta(x_t, t, c)` learns both the conditional and the
unconditional model: during training the label is replaced by a *null token* ∅ with
probability :math:`p_\text{uncond}` (:func:`drop_labels`), so
:math:`\varepsilon_\theta(x_t, t, \varnothing)` is trained on all the data. Sampling uses the
guided prediction

.. math::
    \tilde\varepsilon_\theta(x_t, t, c) = (1 + w)\,\varepsilon_\theta(x_t, t, c)
    - w\,\varepsilon_\theta(x_t, t, \varnothing),

which, read through the score view (:math:`\varepsilon \approx -\sqrt{1-\bar\alpha_t}\,\nabla
\log q_t`), follows :math:`\nabla\log q_t(x\mid c) + w\,\nabla\log q_t(c\mid x)`: the score of
:math:`q_t(x\mid c)\,q_t(c\mid x)^w`, a distribution sharpened towards inputs an implicit
classifier finds typical of c. w = 0 is the plain conditional model.

The null token is the label ``classes`` (labels of real classes are 0..classes-1).
:func:`guided_eps` returns an ordinary denoiser ``(x_t, t) -> ε̃`` for fixed labels, so every
sampler of the package runs guided.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edu_gen.core import rng
from edu_gen.core.checks import bounded_float, float_tensor, positive_int
from edu_gen.core.train import History, fit
from edu_gen.data import image_loader
from edu_gen.models.diffusion.models import EMA, MLPDenoiser
from edu_gen.models.diffusion.process import Denoiser, q_sample
from edu_gen.models.diffusion.schedules import Schedule, make_schedule

Tensor = torch.Tensor


def _check_labels(y: object, batch: int, classes: int, allow_null: bool = True) -> Tensor:
    top = classes if allow_null else classes - 1
    if not isinstance(y, Tensor) or y.dtype != torch.int64 or y.shape != (batch,):
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(f"y: expected an int64 tensor of shape ({batch},), got {got}")
    if batch and (int(y.min()) < 0 or int(y.max()) > top):
        raise ValueError(f"y: expected labels in 0..{top} ({classes} = the null token)")
    return y


class ConditionalMLPDenoiser(MLPDenoiser):
    """ε_θ(x_t, t, y): the MLP denoiser with a learned label embedding added to the time one.

    ``y`` holds labels in 0..classes-1 or ``classes`` (= :attr:`null`, no label).
    """

    def __init__(
        self, dim: int = 64, hidden: int = 256, depth: int = 3, t_dim: int = 64, classes: int = 10
    ) -> None:
        super().__init__(dim, hidden, depth, t_dim)
        self.classes = positive_int("classes", classes)
        self.label = nn.Embedding(classes + 1, hidden)

    @property
    def null(self) -> int:
        return self.classes

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.dim:
            raise ValueError(f"x: expected {self.dim} values per example, got {flat.shape[1]}")
        if t.shape != (len(x),):
            raise ValueError(f"t: expected shape ({len(x)},), got {tuple(t.shape)}")
        _check_labels(y, len(x), self.classes)
        return self.forward_embedded(flat, self.time(t) + self.label(y)).reshape(x.shape)


def drop_labels(
    y: Tensor, p_uncond: float, classes: int, generator: torch.Generator | None = None
) -> Tensor:
    """A copy of ``y`` with each label replaced by the null token ``classes`` w.p. ``p_uncond``."""
    p = bounded_float("p_uncond", p_uncond, 0.0, 1.0)
    _check_labels(y, len(y), classes, allow_null=False)
    drop = rng.draw(torch.rand, y.shape, generator=generator, device=y.device) < p
    return torch.where(drop, torch.full_like(y, classes), y)


def conditional_l_simple(
    model: nn.Module,
    sched: Schedule,
    x0: Tensor,
    y: Tensor,
    p_uncond: float = 0.1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """L_simple with the label dropped w.p. ``p_uncond``: mean of ‖ε − ε_θ(x_t, t, ỹ)‖².

    Draws, in order: the dropped labels ỹ, t ~ U{1..T}, ε ~ N(0, I). ``model`` is a
    :class:`ConditionalMLPDenoiser` (or an :class:`EMA` around one).
    """
    float_tensor("x0", x0)
    net = model.net if isinstance(model, EMA) else model
    y_in = drop_labels(y, p_uncond, net.classes, generator)
    t = rng.draw(torch.randint, 1, sched.T + 1, (len(x0),), generator=generator, device=x0.device)
    noise = rng.draw(torch.randn, x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return (noise - model(q_sample(sched, x0, t, noise), t, y_in)).pow(2).mean()


def guided_eps(model: nn.Module, y: Tensor, w: float | Tensor) -> Denoiser:
    """The denoiser (x_t, t) ↦ (1 + w) ε_θ(x_t, t, y) − w ε_θ(x_t, t, ∅) for fixed labels ``y``.

    ``w`` is a number >= 0 or a tensor [B] (one guidance strength per row). Both predictions
    come from one batched call of 2B rows (one of B rows when every w is 0).
    """
    net = model.net if isinstance(model, EMA) else model
    _check_labels(y, len(y), net.classes, allow_null=False)
    w_t = torch.as_tensor(w, dtype=torch.float32, device=y.device)
    if w_t.dim() == 0:
        bounded_float("w", float(w_t), 0.0)
        w_t = w_t.expand(len(y))
    if w_t.shape != y.shape or bool((w_t < 0).any()) or not bool(torch.isfinite(w_t).all()):
        raise ValueError(f"w: expected a number >= 0 or {len(y)} of them, got {w!r:.60}")
    null = torch.full_like(y, net.classes)

    def eps(x: Tensor, t: Tensor) -> Tensor:
        if not bool(w_t.any()):
            return model(x, t, y)
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))
        cond, uncond = both[: len(x)], both[len(x) :]
        scale = w_t.to(x.dtype).reshape(-1, *[1] * (x.dim() - 1))
        return (1 + scale) * cond - scale * uncond

    return eps


def train_conditional_digits_denoiser(
    *,
    steps: int,
    hidden: int = 256,
    depth: int = 3,
    p_uncond: float = 0.1,
    T: int = 1000,  # noqa: N803
    batch_size: int = 128,
    lr: float = 2e-3,
    ema_decay: float = 0.995,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[EMA, Schedule, History]:
    """A :class:`ConditionalMLPDenoiser` trained with :func:`conditional_l_simple` on the signed
    digits train split (linear schedule), wrapped in :class:`EMA`; returned in eval mode.

    With ``checkpoint`` set, a finished run with the same arguments is loaded, not retrained.
    Training runs on ``device`` (default: the configured one); the 8×8 model comes back on
    the CPU, beside the tensors the chapter analyses it with.
    """
    positive_int("steps", steps)
    bounded_float("p_uncond", p_uncond, 0.0, 1.0)
    rng.seed_everything(seed)
    sched = make_schedule("linear", T)
    model = EMA(ConditionalMLPDenoiser(64, hidden, depth), ema_decay)
    data = image_loader("digits", "train", "signed", batch_size=batch_size, seed=seed)

    def loss_fn(net: EMA, batch: tuple[Tensor, Tensor]) -> Tensor:
        net.update()
        return conditional_l_simple(net, sched, batch[0], batch[1], p_uncond)

    history = fit(
        model,
        loss_fn,
        data,
        steps=steps,
        optimizer=torch.optim.Adam(model.net.parameters(), lr=lr),
        device=device,
        checkpoint=checkpoint,
        checkpoint_every=max(steps, 100),
        progress=progress,
        desc="conditional DDPM ε-model",
    )
    model.cpu().eval()
    return model, sched, history
