"""Training curves drawn with matplotlib: :func:`draw_curves`, :func:`sequence_curves`.

``History.plot()`` draws ``History.curves()`` with :func:`draw_curves`, so it needs nothing
outside ``core``; :func:`edu_gen.course.viz.plot_losses` draws a History or a dict of
sequences the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = ["draw_curves", "moving_average", "sequence_curves"]


def sequence_curves(source: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Named ``(x, y)`` curves from a dict of 1-D sequences (tensors too), ``x = 1..n``."""
    found = {}
    for key, values in source.items():
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().float().numpy()
        y = np.asarray(values, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"curve {key!r}: expected a 1-D sequence, got shape {y.shape}")
        found[str(key)] = (np.arange(1, len(y) + 1), y)
    return found


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Means of ``window`` consecutive values (``len(y) - window + 1`` of them)."""
    window = min(window, len(y))
    return np.convolve(y, np.ones(window) / window, mode="valid")


def draw_curves(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    ax: Axes | None = None,
    keys: Sequence[str] | None = None,
    logy: bool = False,
    smooth: int = 0,
) -> Axes:
    """Plot named ``(x, y)`` curves (as :meth:`History.curves` gives them); returns the Axes.

    ``smooth=k`` (k > 1) draws the raw curve faintly and its k-step moving average on top.
    ``keys`` picks curves by name; ``logy`` needs strictly positive values.
    """
    if not isinstance(smooth, int) or isinstance(smooth, bool) or smooth < 0:
        raise ValueError(f"smooth: expected a non-negative int (window length), got {smooth!r}")
    found = dict(curves)
    if keys is not None:
        unknown = [key for key in keys if key not in found]
        if unknown:
            raise KeyError(f"keys: {unknown} not found; available: {list(found)}")
        found = {key: found[key] for key in keys}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, (x, y) in found.items():
        if logy and len(y) and not np.nanmin(y) > 0:
            raise ValueError(
                f"logy=True needs positive values, but curve {name!r} has min {np.nanmin(y)}"
            )
        if smooth > 1 and len(y) > 1:
            (line,) = ax.plot(x, y, alpha=0.3)
            y_smooth = moving_average(y, smooth)
            ax.plot(x[len(x) - len(y_smooth) :], y_smooth, color=line.get_color(), label=name)
        else:
            ax.plot(x, y, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("value" if len(found) > 1 else next(iter(found), "value"))
    if found:
        ax.legend()
    return ax
