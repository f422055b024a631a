"""edu_gen: compact reference implementations for a course on deep generative models."""

from edu_gen import config  # noqa: F401  (sets CPU threads; see config.set_threads)

__version__ = "0.1.0"
