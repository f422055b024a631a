"""Gaussian diffusion models (chapters 08-09): schedules, q and p_θ, losses, samplers, models.

Indexing convention: t = 1..T, arrays of length T + 1 indexed by t, ``alpha_bar[0] = 1``
(see :mod:`edu_gen.models.diffusion.schedules`).

The family's API, with the schedule as an extra argument (a denoiser ε_θ(x_t, t) is a plain
callable and knows neither the schedule nor its data's shape):

* loss: ``l_simple(model, schedule, x0)`` - L_simple (Ho et al. 2020, eq. 14; Alg. 1), with
  its draws of t and ε optionally given (``t=``, ``noise=``);
* sample: ``ddpm_sample(model, schedule, shape, generator=...)`` (Alg. 2) and
  ``ddim_sample(...)`` (Song et al. 2021, eq. 12) - each returns the batch x_0 as a tensor;
  ``noise=`` passes in the z of every step instead of drawing them;
* log-likelihood: ``vlb_terms(model, schedule, x0)`` - the variational bound on
  -log p(x_0) (eq. 5), term by term, in bits/dim; ``vlb_estimate(...)`` - the same bound
  per example from one step per stratum of t (unbiased, with a standard error);
* Table 2 of Ho et al.: other outputs (x_0, μ̃) and the bound's weighting
  (``parameterised_loss``, ``as_eps_model``, ``continuous_bound``);
* annealed Langevin dynamics with the ε-model as a score (``annealed_langevin_sample``);
* class-conditional models with classifier-free guidance (``ConditionalMLPDenoiser``,
  ``guided_eps``, ``train_conditional_digits_denoiser``);
* theory: DDIM's forward process q_σ (``q_sigma_chain``), Theorem 1's weights
  (``ddim_elbo_weights``), the probability-flow Euler step (``euler_flow_step``) and Gaussian
  mixtures with a closed-form noised score (``GaussianMixture``).
"""

from edu_gen.models.diffusion.guidance import (
    ConditionalMLPDenoiser,
    conditional_l_simple,
    drop_labels,
    guided_eps,
    train_conditional_digits_denoiser,
)
from edu_gen.models.diffusion.langevin import (
    annealed_langevin_sample,
    langevin_levels,
    level_sigma,
)
from edu_gen.models.diffusion.losses import (
    bound_strata,
    discretized_gaussian_log_likelihood,
    kl_weight,
    l_simple,
    prior_kl_bpd,
    vlb_estimate,
    vlb_terms,
)
from edu_gen.models.diffusion.models import (
    EMA,
    MLPDenoiser,
    UNet,
    gaussian_eps,
    sinusoidal_embedding,
)
from edu_gen.models.diffusion.parameterisations import (
    PARAMETERISATIONS,
    WEIGHTINGS,
    as_eps_model,
    continuous_bound,
    output_to_eps,
    output_to_mean,
    parameterised_loss,
    step_variance,
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
from edu_gen.models.diffusion.theory import (
    GaussianMixture,
    ddim_elbo_weights,
    euler_flow_step,
    flow_sigma,
    q_sigma_chain,
    q_sigma_mean,
    step_sigmas,
)
from edu_gen.models.diffusion.training import (
    digits_denoiser_checkpoint,
    digits_denoiser_kwargs,
    train_digits_denoiser,
    train_unet_denoiser,
)

__all__ = [
    "ConditionalMLPDenoiser",
    "EMA",
    "GaussianMixture",
    "MLPDenoiser",
    "MeanVariance",
    "PARAMETERISATIONS",
    "SCHEDULES",
    "Schedule",
    "UNet",
    "WEIGHTINGS",
    "annealed_langevin_sample",
    "as_eps_model",
    "bound_strata",
    "conditional_l_simple",
    "continuous_bound",
    "ddim_elbo_weights",
    "ddim_invert",
    "ddim_sample",
    "ddim_sigma",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_sample",
    "digits_denoiser_checkpoint",
    "digits_denoiser_kwargs",
    "discretized_gaussian_log_likelihood",
    "drop_labels",
    "euler_flow_step",
    "flow_sigma",
    "gaussian_eps",
    "guided_eps",
    "kl_weight",
    "l_simple",
    "langevin_levels",
    "level_sigma",
    "make_schedule",
    "output_to_eps",
    "output_to_mean",
    "p_mean_variance",
    "parameterised_loss",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "prior_kl_bpd",
    "q_posterior",
    "q_sample",
    "q_sigma_chain",
    "q_sigma_mean",
    "q_step",
    "sinusoidal_embedding",
    "slerp",
    "step_sigmas",
    "step_variance",
    "train_conditional_digits_denoiser",
    "train_digits_denoiser",
    "train_unet_denoiser",
    "vlb_estimate",
    "vlb_terms",
]
