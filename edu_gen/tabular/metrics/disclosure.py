"""Disclosure risk: how close do synthetic rows come to the training rows?

The distance to the closest record (DCR) is a heuristic - it can flag copying, it cannot show
privacy; a guarantee comes only from a mechanism such as DP-SGD
(:mod:`edu_gen.tabular.privacy`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from edu_gen.data.tables.schema import Schema
from edu_gen.tabular.metrics.frames import check_frame, feature_encoder

__all__ = ["distance_to_closest_record"]


def distance_to_closest_record(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
) -> pd.DataFrame:
    """Distance to the closest training record (DCR) of synthetic rows and of real hold-out rows.

    All three frames are encoded by one :func:`feature_encoder` fitted on ``train`` (numeric
    columns standardised, discrete columns one-hot, so two different categories are
    :math:`\\sqrt 2` apart); scikit-learn's ``NearestNeighbors`` (ball tree, Euclidean) finds
    each row's nearest training row. Hold-out rows were never trained on, so their DCR is
    the reference: synthetic rows much closer to the training rows than that suggest
    memorisation. An *exact copy* is a row at distance 0 (identical after encoding).

    Returns:
        A frame with rows ``synthetic`` and ``holdout`` and columns ``p5`` and ``median`` (of
        the DCR) and ``exact`` (share of exact copies).
    """
    for argument, frame in (("train", train), ("synthetic", synthetic), ("holdout", holdout)):
        check_frame(frame, schema, argument)
    encoder = feature_encoder(schema, schema.names).fit(train[schema.names])
    reference = encoder.transform(train[schema.names])
    search = NearestNeighbors(n_neighbors=1, algorithm="ball_tree").fit(reference)
    rows = {}
    for name, frame in (("synthetic", synthetic), ("holdout", holdout)):
        distances = search.kneighbors(encoder.transform(frame[schema.names]))[0][:, 0]
        rows[name] = {
            "p5": float(np.percentile(distances, 5)),
            "median": float(np.median(distances)),
            "exact": float(np.mean(distances == 0.0)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")[["p5", "median", "exact"]]
