"""Sample-quality measures shared by several chapters (feature-Fréchet distance on digits, the
energy distance for low-dimensional samples)."""
