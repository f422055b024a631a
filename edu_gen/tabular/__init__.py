"""Tabular data synthesis (chapters 10a and 10b).

* :mod:`~edu_gen.tabular.encoding` - mode-specific normalisation, the mixed-type table
  encoder and the conditional sampler: how a row becomes a vector and back.
* :mod:`~edu_gen.tabular.synthesizers` - CTGAN, TVAE, CTAB-GAN, CTAB-GAN+.
* :mod:`~edu_gen.tabular.privacy` - DP-SGD and its Rényi-DP accountant.
* :mod:`~edu_gen.tabular.metrics` - utility, similarity, privacy distances, baselines.
"""
