"""Tabular data synthesis (chapters 10a and 10b).

* :mod:`~edu_gen.tabular.encoding` - mode-specific normalisation, the mixed-type table
  encoder and the conditional sampler: how a row becomes a vector and back;
* :mod:`~edu_gen.tabular.synthesizers` - CTGAN, TVAE, CTAB-GAN, CTAB-GAN+, one API:
  ``fit(frame)``, ``sample(n, seed=...)`` → a frame, ``losses()`` per epoch;
* :mod:`~edu_gen.tabular.privacy` - the Rényi-DP accountant, DP-SGD and its training player;
* :mod:`~edu_gen.tabular.metrics` - utility, similarity, likelihood fitness, disclosure
  (distance to the closest record), the independent-marginals baseline.

Import from these four subpackages (``from edu_gen.tabular.synthesizers import CTGAN``,
``from edu_gen.tabular import metrics``); each re-exports every public name of its modules.
Imports go one way: the synthesizers use encoding and privacy (and the GAN/VAE pieces of
:mod:`edu_gen.models`), metrics stand alone, and all of them use :mod:`edu_gen.core` and the
tables' :class:`~edu_gen.data.tables.schema.Schema`.
"""
