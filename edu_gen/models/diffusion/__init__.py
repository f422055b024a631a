"""Gaussian diffusion models (chapters 08-09): schedules, q and p_θ, losses, samplers, models.

Indexing convention: t = 1..T, arrays of length T + 1 indexed by t, ``alpha_bar[0] = 1``
(see :mod:`edu_gen.models.diffusion.schedules`).
"""

from edu_gen.models.diffusion.losses import (
    discretized_gaussian_log_likelihood,
    kl_weight,
    l_simple,
    prior_kl_bpd,
    vlb_terms,
)
from edu_gen.models.diffusion.models import (
    EMA,
    MLPDenoiser,
    UNet,
    gaussian_eps,
    sinusoidal_embedding,
)
from edu_gen.models.diffusion.process import (
    MeanVariance,
    p_mean_variance,
    predict_eps_from_x0,
    predict_x0_from_eps,
    q_posterior,
    q_sample,
    q_step,
)
from edu_gen.models.diffusion.samplers import (
    ddim_invert,
    ddim_sample,
    ddim_sigma,
    ddim_step,
    ddim_timesteps,
    ddpm_sample,
    slerp,
)
from edu_gen.models.diffusion.schedules import SCHEDULES, Schedule, make_schedule
from edu_gen.models.diffusion.training import (
    digits_denoiser_checkpoint,
    digits_denoiser_kwargs,
    train_digits_denoiser,
)

__all__ = [
    "EMA",
    "SCHEDULES",
    "MLPDenoiser",
    "MeanVariance",
    "Schedule",
    "UNet",
    "ddim_invert",
    "ddim_sample",
    "ddim_sigma",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_sample",
    "digits_denoiser_checkpoint",
    "digits_denoiser_kwargs",
    "discretized_gaussian_log_likelihood",
    "gaussian_eps",
    "kl_weight",
    "l_simple",
    "make_schedule",
    "p_mean_variance",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "prior_kl_bpd",
    "q_posterior",
    "q_sample",
    "q_step",
    "sinusoidal_embedding",
    "slerp",
    "train_digits_denoiser",
    "vlb_terms",
]
