"""Train (or load) the chapter-08 ε-model on the 8×8 digits with L_simple, through ``fit``;
and the 28×28 U-Net ε-model that chapters 08 and 09 share (:func:`train_unet_denoiser`).

Two options serve the lessons: ``loss`` trains with another implementation of Algorithm 1
(a learner's), given the same draws of t and ε; ``snapshots`` keeps copies of the model at
chosen steps, to show samples over training. Snapshots train in stages, one ``fit`` call
and one checkpoint file per stage (each resumed from the one before, bit for bit on CPU),
so a re-run loads every stage instead of training again.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Callable, MutableMapping
from pathlib import Path

import torch

from edu_gen.core import config, rng
from edu_gen.core.checks import positive_int
from edu_gen.core.train import History, fit
from edu_gen.data import image_loader
from edu_gen.models.diffusion.losses import l_simple
from edu_gen.models.diffusion.models import EMA, MLPDenoiser, UNet
from edu_gen.models.diffusion.schedules import Schedule, make_schedule


def train_digits_denoiser(
    *,
    steps: int,
    schedule: str = "linear",
    T: int = 1000,  # noqa: N803
    hidden: int = 256,
    depth: int = 3,
    batch_size: int = 128,
    lr: float = 2e-3,
    ema_decay: float = 0.995,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    loss: Callable[..., torch.Tensor] | None = None,
    snapshots: MutableMapping[int, EMA | None] | None = None,
) -> tuple[EMA, Schedule, History]:
    """An :class:`MLPDenoiser` trained with L_simple on the signed ([-1, 1]) digits train split.

    The network is wrapped in :class:`EMA` (weights averaged with ``ema_decay`` after every
    step); the returned model is in eval mode, so it predicts with the averaged weights.

    With ``checkpoint`` set, a finished run with the same arguments is loaded instead of
    retrained (``fit`` resumes from the file), so chapter 09 reuses chapter 08's model.
    ``loss(model, x0, t, eps, alpha_bar)`` replaces :func:`l_simple` (the same t and ε are
    drawn for it, and ``alpha_bar`` comes in the batch's dtype). ``snapshots``, a dict whose
    keys are steps in 1..``steps``, receives a frozen copy of the model (eval mode) after
    each of them; its stages are checkpointed next to ``checkpoint`` (``<name>_at<step>.pt``).
    Training runs on ``device`` (default: :func:`edu_gen.core.config.get_device`); the
    8×8 model is returned on the CPU, beside the chapters' CPU tensors it is analysed with.
    Returns the model in eval mode, the schedule and the training history.
    """
    stages = _stages(snapshots, steps)
    rng.seed_everything(seed)
    sched = make_schedule(schedule, T)
    model = EMA(MLPDenoiser(64, hidden, depth), ema_decay)
    # the split stays the default one (seed 0) so the test digits are never trained on;
    # ``seed`` only changes the initialisation, the shuffling and the noise draws
    data = image_loader("digits", "train", "signed", batch_size=batch_size, seed=seed)

    def loss_fn(net, batch):
        net.update()  # average in the weights of the previous step
        x0 = batch[0]
        if loss is None:
            return l_simple(net, sched, x0)
        # the draws of l_simple, in its order: t ~ U{1..T}, then ε ~ N(0, I)
        t = torch.randint(1, sched.T + 1, (len(x0),), device=x0.device)
        eps = torch.randn(x0.shape, dtype=x0.dtype, device=x0.device)
        return loss(net, x0, t, eps, sched.alpha_bar.to(x0))

    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    with tempfile.TemporaryDirectory() as scratch:
        final = Path(checkpoint) if checkpoint is not None else None
        if final is None and len(stages) > 1:
            final = Path(scratch) / "denoiser.pt"  # stages hand over through files
        previous = None
        for stage in stages:
            path = final
            if final is not None and stage < steps:
                path = final.with_name(f"{final.stem}_at{stage}{final.suffix}")
            if path is not None and previous is not None and not path.exists():
                shutil.copyfile(previous, path)  # resume this stage from the last one
            history = fit(
                model,
                loss_fn,
                data,
                steps=stage,
                optimizer=opt,
                device=device,
                checkpoint=path,
                checkpoint_every=max(stage, 100),
                progress=progress,
                desc=f"DDPM ε-model ({schedule})",
            )
            if snapshots is not None and stage in snapshots:
                snapshots[stage] = copy.deepcopy(model).cpu().eval()
            previous = path
    model.cpu().eval()
    return model, sched, history


def _stages(snapshots: MutableMapping[int, EMA | None] | None, steps: int) -> list[int]:
    """The steps at which training pauses: every snapshot step, then ``steps``."""
    if snapshots is None:
        return [steps]
    if not isinstance(snapshots, MutableMapping) or not all(
        isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= steps for k in snapshots
    ):
        raise ValueError(
            f"snapshots: expected a dict whose keys are steps in 1..{steps} (the function "
            f"fills in the model at each), e.g. dict.fromkeys([100, {steps}]); got {snapshots!r}"
        )
    return sorted({*snapshots, steps})


def digits_denoiser_kwargs() -> dict:
    """The chapter-08 model's size for the current mode (chapter 09 loads the same model).

    Full mode uses a wide, shallow MLP (384 units, 2 blocks, 5000 steps): it costs the same
    CPU time per run as 256 units × 3 blocks × 6000 steps (about 14 vs 12 ms a step) but its
    deterministic DDIM samples are much better (feature FD of DDIM S=20, η=0: 7.5 vs 11.7, with
    DDPM at 7.1 vs 7.6; see ``benchmarks/bench_diffusion.py``). FAST mode keeps 128 × 3.
    """
    return {
        "steps": config.pick(5000, 2000),
        "hidden": config.pick(384, 128),
        "depth": config.pick(2, 3),
    }


def digits_denoiser_checkpoint(seed: int = 0) -> str:
    """Checkpoint path of the chapter-08 ε-model, named by mode, size and training ``seed``
    (relative to the notebook), so a run with other settings never loads a stale file."""
    kw = digits_denoiser_kwargs()
    tag = f"{config.mode_name()}_h{kw['hidden']}x{kw['depth']}_{kw['steps']}"
    return f"checkpoints/08_ddpm_eps_{tag}{f'_seed{seed}' if seed else ''}.pt"


def train_unet_denoiser(
    images: str,
    *,
    steps: int,
    base: int = 32,
    batch_size: int = 128,
    lr: float = 2e-4,
    ema_decay: float = 0.999,
    schedule: str = "linear",
    T: int = 1000,  # noqa: N803
    seed: int = 0,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[EMA, Schedule, History]:
    r"""The 28×28 U-Net ε-model of chapters 08 and 09, trained with L_simple through ``fit``.

    Algorithm 1 of Ho et al. (2020): every step draws a batch x_0 of the signed ([-1, 1])
    train split of ``images`` (a name for :func:`edu_gen.data.load_images`, e.g. ``"mnist"``
    or ``"mnist_subset"``), t ~ U{1..T} and ε ~ N(0, I) per image, and takes an Adam step on

    .. math:: L_\text{simple} = \lVert\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}\,x_0
              + \sqrt{1-\bar\alpha_t}\,\varepsilon,\ t)\rVert^2

    (:func:`l_simple`), the network a :class:`UNet` with ``base`` channels wrapped in
    :class:`EMA` (weights averaged with ``ema_decay`` after every step). Chapters 08 and 09
    both call it for their 28×28 sections; with 09's settings and checkpoint name (the
    defaults are its `gpu` size) the two chapters train one model between them. ``fit``
    resumes from ``checkpoint`` (or loads it, when it is finished). Returns the model in eval
    mode on ``device`` (default: :func:`edu_gen.core.config.get_device`), the schedule and the
    training history.
    """
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    if positive_int("base", base) % 8:
        raise ValueError(f"base: expected a multiple of 8 (GroupNorm uses 8 groups), got {base}")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
    sched = make_schedule(schedule, T)
    data = image_loader(images, "train", "signed", batch_size=batch_size, seed=seed, flatten=False)
    rng.seed_everything(seed)
    model = EMA(UNet(channels=data.dataset.tensors[0].shape[1], base=base), ema_decay)

    def loss_fn(net: EMA, batch: list[torch.Tensor]) -> torch.Tensor:
        net.update()  # average in the weights of the previous step
        return l_simple(net, sched, batch[0])

    history = fit(
        model,
        loss_fn,
        data,
        steps=steps,
        lr=lr,
        device=device,
        checkpoint=checkpoint,
        progress=progress,
        desc=f"U-Net ε-model on {images}",
    )
    return model.eval(), sched, history
