"""Image and toy model families, one module each (a package where a family outgrows one
sitting: vae, dae, nice, gan, diffusion, likelihood).

``autoencoder``, ``dae`` (denoising), ``vae``, ``iwae``, ``nice``, ``gan``, ``diffusion``
(DDPM and DDIM); the chapters' toy models and estimators: ``likelihood`` (chapter 00),
``elbo`` (linear-Gaussian model, chapter 03), ``topics`` (a VAE for documents, chapter 03),
``estimators`` (score-function vs reparameterised gradients, chapter 04).
"""
