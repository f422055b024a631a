"""What every model family stands on: argument checks, configuration (FAST mode, device,
threads), random numbers, distributions and the training loop. Nothing here knows a
chapter or a model family."""
