"""Tabular synthesizers: ``fit(frame)`` then ``sample(n, seed=...)`` returning a frame."""
