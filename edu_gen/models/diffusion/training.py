"""Train (or load) the chapter-08 ε-model on the 8×8 digits with L_simple, through ``fit``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core import config, rng
from edu_gen.core.train import History, fit
from edu_gen.data import digits
from edu_gen.models.diffusion.losses import l_simple
from edu_gen.models.diffusion.models import EMA, MLPDenoiser
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
    device: str | torch.device | None = "cpu",
    progress: bool = True,
) -> tuple[EMA, Schedule, History]:
    """An :class:`MLPDenoiser` trained with L_simple on the signed ([-1, 1]) digits train split.

    The network is wrapped in :class:`EMA` (weights averaged with ``ema_decay`` after every
    step); the returned model is in eval mode, so it predicts with the averaged weights.

    With ``checkpoint`` set, a finished run with the same arguments is loaded instead of
    retrained (``fit`` resumes from the file), so chapter 09 reuses chapter 08's model.
    Returns the model in eval mode, the schedule and the training history.
    """
    rng.seed_everything(seed)
    sched = make_schedule(schedule, T)
    model = EMA(MLPDenoiser(64, hidden, depth), ema_decay)
    # the split stays the default one (seed 0) so the test digits are never trained on;
    # ``seed`` only changes the initialisation, the shuffling and the noise draws
    x_train, y_train = digits("train", "signed")
    data = DataLoader(
        TensorDataset(x_train, y_train),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        generator=rng.generator(seed),
    )

    def loss_fn(net, batch):
        net.update()  # average in the weights of the previous step
        return l_simple(net, sched, batch[0])

    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    history = fit(
        model,
        loss_fn,
        data,
        steps=steps,
        optimizer=opt,
        device=device,
        checkpoint=checkpoint,
        checkpoint_every=max(steps, 100),
        progress=progress,
        desc=f"DDPM ε-model ({schedule})",
    )
    model.eval()
    return model, sched, history


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
