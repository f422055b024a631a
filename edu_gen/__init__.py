"""edu_gen: compact reference implementations for a course on deep generative models.

The folders show the architecture; imports only point down this list:

* :mod:`edu_gen.course` - course tooling: lesson build, slides, CLI, claims, widgets,
  figures, grading. Knows the chapters.
* :mod:`edu_gen.models` (image and toy model families), :mod:`edu_gen.tabular` (tabular
  synthesizers, their encodings, privacy and metrics), :mod:`edu_gen.evaluation`
  (feature-Fréchet distance for digits), :mod:`edu_gen.data` (images and tables).
* :mod:`edu_gen.core` - checks, configuration, random numbers, small networks,
  distributions and the training loop. Knows no chapter and no model family.
"""

from edu_gen.core import config  # noqa: F401  (sets CPU threads; see config.set_threads)

__version__ = "0.1.0"
