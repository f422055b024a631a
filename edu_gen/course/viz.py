"""Plots every chapter needs, defined once.

All functions draw with matplotlib and return the Axes (or Figure); none calls
``plt.show()``, so notebooks and headless tests behave the same. Inputs may be torch
tensors or NumPy arrays.

* :func:`tile` / :func:`image_grid` — many small images as one grid (a pure function
  and its plot).
* :func:`plot_losses` — training curves from a :class:`~edu_gen.core.train.History` or dict
  (drawn by :mod:`edu_gen.core.train.curves`, as ``history.plot()`` draws them).
* :func:`latent_scatter` — 2-D latent codes coloured by label.
* :func:`compare_rows` — e.g. original / noisy / reconstructed, one row each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from edu_gen.core.train import History
from edu_gen.core.train.curves import draw_curves, sequence_curves

__all__ = [
    "MAX_WIDTH_INCHES",
    "compare_rows",
    "image_grid",
    "latent_scatter",
    "plot_losses",
    "tile",
]

MAX_WIDTH_INCHES = 12.0
"""Widest figure :func:`image_grid` makes by itself (a notebook column is about 12 inches)."""


def _numpy(values: Any) -> np.ndarray:
    """A float NumPy copy of a tensor / array / nested sequence."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().float().numpy()
    return np.asarray(values, dtype=float)


# ---------------------------------------------------------------------------- images


def _as_images(images: Any, shape: tuple[int, int] | None) -> np.ndarray:
    """Bring images to [N, H, W] (grey) or [N, H, W, 3] (colour)."""
    arr = _numpy(images)
    if arr.ndim == 2:
        n, d = arr.shape
        if shape is None:
            side = math.isqrt(d)
            if side * side != d:
                raise ValueError(
                    f"images: got [N, D] = {list(arr.shape)} and D={d} is not a perfect "
                    "square; pass shape=(H, W)"
                )
            shape = (side, side)
        if len(shape) != 2 or shape[0] * shape[1] != d:
            raise ValueError(f"shape: expected (H, W) with H*W = D = {d}, got {shape!r}")
        return arr.reshape(n, *shape)
    if arr.ndim == 4 and arr.shape[1] in (1, 3):
        arr = np.moveaxis(arr, 1, -1)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(
            "images: expected [N, D], [N, H, W], [N, 1, H, W] or [N, 3, H, W], "
            f"got shape {list(np.shape(images))}"
        )
    if shape is not None and tuple(shape) != arr.shape[1:3]:
        raise ValueError(f"shape: expected {arr.shape[1:3]} to match the images, got {shape!r}")
    return arr


def tile(
    images: Any,
    nrow: int = 8,
    shape: tuple[int, int] | None = None,
    *,
    gap: int = 1,
    fill: float | None = None,
) -> np.ndarray:
    """Tile images into one array, ``nrow`` images per grid row, ``gap`` pixels apart.

    Image ``i`` lands at grid cell ``(i // nrow, i % nrow)``, i.e. its top-left pixel is
    at ``(r * (H + gap), c * (W + gap))``. Gaps (and unused cells) are set to ``fill``,
    by default the largest pixel value, which shows as white with a grey colormap.
    Returns [rows*H + (rows-1)*gap, cols*W + (cols-1)*gap] (plus a colour axis for RGB).
    """
    if not isinstance(nrow, int) or isinstance(nrow, bool) or nrow < 1:
        raise ValueError(f"nrow: expected a positive int (images per row), got {nrow!r}")
    if not isinstance(gap, int) or gap < 0:
        raise ValueError(f"gap: expected a non-negative int, got {gap!r}")
    arr = _as_images(images, shape)
    n, h, w = arr.shape[:3]
    if n == 0:
        raise ValueError("images: expected at least one image, got N=0")
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    fill = float(np.nanmax(arr)) if fill is None else float(fill)
    grid = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, *arr.shape[3:]), fill)
    for i, image in enumerate(arr):
        top, left = (i // cols) * (h + gap), (i % cols) * (w + gap)
        grid[top : top + h, left : left + w] = image
    return grid


def image_grid(
    images: Any,
    nrow: int = 8,
    *,
    shape: tuple[int, int] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    inches_per_image: float = 0.75,
) -> Axes:
    """Show images as a grid (``nrow`` per row, 1-px gaps); returns the Axes.

    ``images``: [N, D] (``shape=(H, W)``, inferred when D is a perfect square such as
    784 → 28×28), [N, H, W], [N, 1, H, W] or [N, 3, H, W]. A new figure gives every image
    ``inches_per_image`` inches of width (less when a row would exceed
    :data:`MAX_WIDTH_INCHES`), so that 8×8 digits stay legible whatever their number.
    """
    if not inches_per_image > 0:
        raise ValueError(f"inches_per_image: expected a positive number, got {inches_per_image!r}")
    grid = tile(images, nrow, shape, fill=vmax)
    if ax is None:
        n, h, w = _as_images(images, shape).shape[:3]
        cols = min(nrow, n)
        rows = math.ceil(n / cols)
        per_image = min(inches_per_image, MAX_WIDTH_INCHES / cols)
        width, height = cols * per_image, rows * per_image * h / w
        extra = 0.35 if title is not None else 0.0  # room for the title
        _, ax = plt.subplots(figsize=(max(width, 1.5), max(height, 1.5 - extra) + extra))
    ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def compare_rows(
    rows: Mapping[str, Any],
    ncol: int = 10,
    shape: tuple[int, int] | None = None,
    *,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """One figure, one row of up to ``ncol`` images per named set; returns the Figure.

    Example: ``compare_rows({"original": x, "noisy": x_noisy, "reconstructed": x_hat})``.
    """
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("rows: expected a non-empty dict {name: images}")
    if not isinstance(ncol, int) or isinstance(ncol, bool) or ncol < 1:
        raise ValueError(f"ncol: expected a positive int, got {ncol!r}")
    fig, axes = plt.subplots(len(rows), 1, figsize=(ncol * 0.9, len(rows) * 1.0), squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows.items(), strict=True):
        strip = tile(_numpy(images)[:ncol], ncol, shape, fill=vmax)
        ax.imshow(strip, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(str(name), rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- curves


def plot_losses(
    history_or_dict: History | Mapping[str, Any],
    *,
    ax: Axes | None = None,
    keys: Sequence[str] | None = None,
    logy: bool = False,
    smooth: int = 0,
) -> Axes:
    """Plot training curves; returns the Axes (the drawing is ``History.plot``'s).

    A History is drawn against its steps, each metric only at the steps that logged it; a
    dict of sequences against ``1..n``. ``smooth=k`` (k > 1) draws the raw curve faintly and
    its k-step moving average on top; ``keys`` picks curves by name; ``logy`` needs strictly
    positive values.
    """
    if isinstance(history_or_dict, History):
        curves = history_or_dict.curves()
    elif isinstance(history_or_dict, Mapping):
        curves = sequence_curves(history_or_dict)
    else:
        raise TypeError(
            f"history_or_dict: expected a train.History or a dict of sequences, got "
            f"{type(history_or_dict).__name__}"
        )
    return draw_curves(curves, ax=ax, keys=keys, logy=logy, smooth=smooth)


# ---------------------------------------------------------------------------- latents


def latent_scatter(
    z: Any, labels: Any = None, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Scatter 2-D latent codes ``z`` [N, 2], coloured by ``labels``; returns the Axes.

    Integer or string labels (or up to 20 distinct values) get one colour each and a
    legend; other real-valued labels get a continuous colormap and a colorbar.
    """
    points = _numpy(z)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"z: expected shape [N, 2], got {list(points.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    style = {"s": 8, "alpha": 0.8}
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], **style)
    else:
        raw = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
        values = np.asarray(raw).reshape(-1)
        if len(values) != len(points):
            raise ValueError(
                f"labels: expected {len(points)} labels (one per row of z), got {len(values)}"
            )
        classes = np.unique(values)
        if values.dtype.kind not in "fc" or len(classes) <= 20:
            for cls in classes:
                mask = values == cls
                ax.scatter(points[mask, 0], points[mask, 1], label=str(cls), **style)
            ax.legend(title="label", markerscale=2, fontsize="small")
        else:
            sc = ax.scatter(points[:, 0], points[:, 1], c=values.astype(float), **style)
            ax.figure.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title is not None:
        ax.set_title(title)
    return ax
