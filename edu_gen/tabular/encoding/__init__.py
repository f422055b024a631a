"""How a table row becomes a vector a network can read, and back.

* :mod:`~edu_gen.tabular.encoding.modes` - mode-specific normalisation of one number (the
  variational mixture, responsibilities, :math:`\\alpha`);
* :mod:`~edu_gen.tabular.encoding.columns` - what is learnt about each column and how it is
  encoded (point masses, missing values, categories);
* :mod:`~edu_gen.tabular.encoding.transformer` - :class:`DataTransformer`, the whole table as
  :class:`Span` s of one matrix;
* :mod:`~edu_gen.tabular.encoding.table_encoder` - CTAB-GAN's mixed-type encoding and
  CTAB-GAN+'s general transform (:class:`TableEncoder`);
* :mod:`~edu_gen.tabular.encoding.sampler` - the conditional vector and training-by-sampling.

Every public name is importable from here (``from edu_gen.tabular.encoding import ...``).
"""

from edu_gen.tabular.encoding.columns import DiscreteInfo, NumericInfo
from edu_gen.tabular.encoding.modes import (
    ALPHA_LIMIT,
    STD_MULTIPLIER,
    fit_modes,
    mode_denormalize,
    mode_log_responsibilities,
    mode_normalize,
    sample_modes,
    widen_to_cover,
)
from edu_gen.tabular.encoding.sampler import (
    FREQUENCIES,
    Condition,
    ConditionalSampler,
    category_probabilities,
    conditional_vector,
)
from edu_gen.tabular.encoding.table_encoder import (
    TableEncoder,
    general_decode,
    general_encode,
    mixed_encode,
)
from edu_gen.tabular.encoding.transformer import DataTransformer, Span

__all__ = [
    "ALPHA_LIMIT",
    "FREQUENCIES",
    "STD_MULTIPLIER",
    "Condition",
    "ConditionalSampler",
    "DataTransformer",
    "DiscreteInfo",
    "NumericInfo",
    "Span",
    "TableEncoder",
    "category_probabilities",
    "conditional_vector",
    "fit_modes",
    "general_decode",
    "general_encode",
    "mixed_encode",
    "mode_denormalize",
    "mode_log_responsibilities",
    "mode_normalize",
    "sample_modes",
    "widen_to_cover",
]
