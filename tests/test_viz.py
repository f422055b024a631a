"""Tests of edu_gen.course.viz (plots, run headless on Agg) and edu_gen.course.widgets (explore)."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from edu_gen.core.train import History  # noqa: E402
from edu_gen.course.viz import (  # noqa: E402
    MAX_WIDTH_INCHES,
    compare_rows,
    image_grid,
    latent_scatter,
    plot_losses,
    tile,
)
from edu_gen.course.widgets import explore, static_values  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def numbered(n: int, h: int, w: int) -> np.ndarray:
    """n images of h×w whose pixels are all distinct (image i holds i*h*w …)."""
    return np.arange(n * h * w, dtype=float).reshape(n, h, w)


# -------------------------------------------------------------------------- tile


def test_tile_places_every_image_at_its_offset():
    images = numbered(5, 2, 3)
    grid = tile(images, nrow=2)
    assert grid.shape == (3 * 2 + 2, 2 * 3 + 1)  # 3 rows × 2 columns, 1-px gaps
    for i, image in enumerate(images):
        top, left = (i // 2) * 3, (i % 2) * 4
        assert np.array_equal(grid[top : top + 2, left : left + 3], image)
    fill = images.max()
    assert np.all(grid[2, :] == fill) and np.all(grid[:, 3] == fill)  # the gaps
    assert np.all(grid[6:8, 4:7] == fill)  # the unused sixth cell


@pytest.mark.parametrize(
    "as_input",
    [
        lambda a: torch.tensor(a).reshape(4, 16),  # [N, D], D a perfect square
        lambda a: a,  # [N, H, W]
        lambda a: torch.tensor(a)[:, None],  # [N, 1, H, W]
    ],
    ids=["flat", "nhw", "n1hw"],
)
def test_tile_accepts_the_usual_layouts(as_input):
    images = numbered(4, 4, 4)
    assert np.array_equal(tile(as_input(images), nrow=4), tile(images, nrow=4))


def test_tile_flat_images_with_explicit_shape_and_options():
    images = numbered(3, 2, 5)
    grid = tile(images.reshape(3, 10), nrow=8, shape=(2, 5), gap=0, fill=-1.0)
    assert grid.shape == (2, 15)
    assert np.array_equal(grid, np.concatenate(list(images), axis=1))
    rgb = tile(np.zeros((2, 3, 4, 4)), nrow=2)
    assert rgb.shape == (4, 9, 3)


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (np.zeros((4, 10)), {}, "D=10 is not a perfect square; pass shape"),
        (np.zeros((4, 10)), {"shape": (3, 3)}, r"shape: expected \(H, W\) with H\*W = D = 10"),
        (np.zeros((4, 5, 5)), {"shape": (4, 4)}, r"shape: expected \(5, 5\)"),
        (np.zeros((4, 2, 5, 5)), {}, r"got shape \[4, 2, 5, 5\]"),
        (np.zeros(7), {}, r"got shape \[7\]"),
        (np.zeros((0, 4)), {}, "at least one image"),
        (np.zeros((4, 4)), {"nrow": 0}, "nrow: expected a positive int"),
    ],
)
def test_tile_explains_bad_input(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tile(images, **kwargs)


def test_image_grid_draws_the_tiled_array():
    images = torch.rand(10, 784)
    ax = image_grid(images, nrow=5, title="digits", vmin=0, vmax=1)
    assert isinstance(ax, Axes) and ax.get_title() == "digits"
    drawn = ax.get_images()[0].get_array()
    assert drawn.shape == (2 * 28 + 1, 5 * 28 + 4)
    assert np.allclose(drawn, tile(images, nrow=5, fill=1.0))
    _, own = plt.subplots()
    assert image_grid(images[:3].reshape(3, 1, 28, 28), ax=own) is own


def test_image_grid_gives_every_image_a_legible_size():
    """Regression: 32 digits in 16 columns were drawn 6 inches (480 px) wide in all."""
    digits = torch.rand(32, 64)
    width, height = image_grid(digits, nrow=16).figure.get_size_inches()
    assert width / 16 >= 0.5 and height / 2 >= 0.5  # at least half an inch per 8×8 digit
    width, _ = image_grid(torch.rand(64, 64), nrow=64).figure.get_size_inches()
    assert width <= MAX_WIDTH_INCHES  # a very long row is shrunk to fit a notebook
    width, height = image_grid(torch.rand(1, 64), nrow=1).figure.get_size_inches()
    assert min(width, height) >= 1.5  # one image is still visible
    wide = image_grid(torch.rand(2, 8, 16), nrow=2, inches_per_image=1.0).figure
    assert tuple(wide.get_size_inches()) == pytest.approx((2.0, 1.5))  # aspect kept, minimum 1.5
    with pytest.raises(ValueError, match="inches_per_image"):
        image_grid(digits, inches_per_image=0)


# ------------------------------------------------------------------------ curves


def test_plot_losses_from_history_and_dict():
    history = History()
    for step in range(1, 21):
        history.append({"step": step, "epoch": 0, "loss": 1.0 / step, "kl": 0.1})
    ax = plot_losses(history)
    assert isinstance(ax, Axes)
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "kl"]
    assert np.array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 21))
    assert isinstance(history.plot(keys=["loss"], logy=True), Axes)

    curves = {"train": torch.linspace(1, 0.1, 30), "valid": [0.9] * 30}
    ax = plot_losses(curves, smooth=5)
    raw, smooth = ax.get_lines()[:2]  # raw curve drawn faintly, its average on top
    assert len(raw.get_xdata()) == 30 and len(smooth.get_xdata()) == 26
    assert np.allclose(smooth.get_ydata()[0], np.mean(np.linspace(1, 0.1, 30)[:5]))


def test_plot_losses_of_players_skips_the_steps_a_metric_was_not_logged():
    history = History()
    for step in range(1, 7):
        player = "generator" if step % 3 == 0 else "critic"
        extra = {"gp": 0.1 * step} if player == "critic" else {}
        history.append({"step": step, "epoch": 0, "player": player, "loss": 1.0, **extra})
    ax = plot_losses(history, smooth=2)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) >= {"loss", "gp"}  # "player" is a counter, not a curve
    assert lines["gp"].get_xdata().tolist() == [2, 4, 5]  # averages over steps 1, 2, 4, 5
    assert np.allclose(lines["gp"].get_ydata(), [0.15, 0.3, 0.45])
    assert np.isfinite(ax.get_lines()[2].get_ydata()).all()  # the raw gp curve: no NaN gaps


def test_plot_losses_errors():
    with pytest.raises(ValueError, match="logy=True needs positive values.*'elbo'"):
        plot_losses({"elbo": [-3.0, -2.0]}, logy=True)
    with pytest.raises(KeyError, match="available"):
        plot_losses({"loss": [1.0]}, keys=["kl"])
    with pytest.raises(ValueError, match="smooth"):
        plot_losses({"loss": [1.0]}, smooth=-1)
    with pytest.raises(ValueError, match="1-D"):
        plot_losses({"loss": np.zeros((2, 2))})
    with pytest.raises(TypeError, match="history_or_dict"):
        plot_losses([1.0, 2.0])


# ------------------------------------------------------------- latents and rows


def test_latent_scatter_legend_colorbar_and_errors():
    z = torch.randn(50, 2)
    ax = latent_scatter(z, torch.arange(50) % 3, title="latent")
    assert ax.get_legend() is not None and len(ax.collections) == 3
    ax = latent_scatter(z, np.linspace(0, 1, 50))
    assert len(ax.figure.axes) == 2  # plot + colorbar
    assert len(latent_scatter(z).collections) == 1
    with pytest.raises(ValueError, match=r"z: expected shape \[N, 2\], got \[50, 3\]"):
        latent_scatter(torch.randn(50, 3))
    with pytest.raises(ValueError, match="labels: expected 50"):
        latent_scatter(z, [0, 1])


def test_compare_rows_one_row_per_name():
    x = torch.rand(12, 64)
    fig = compare_rows({"original": x, "noisy": x + 0.1, "reconstructed": x[:4]}, ncol=6)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [ax.get_ylabel() for ax in fig.axes] == ["original", "noisy", "reconstructed"]
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 6 * 8 + 5)
    assert fig.axes[2].get_images()[0].get_array().shape == (8, 4 * 8 + 3)
    with pytest.raises(ValueError, match="rows"):
        compare_rows({})


# ----------------------------------------------------------------------- widgets


def test_static_values_vary_one_slider_around_the_middle():
    draws = static_values(beta=(0.0, 4.0, 0.5), n=(1, 9, 2), kind=["a", "b", "c", "d"])
    middle = {"beta": 2.0, "n": 5, "kind": "c"}
    assert draws == [
        middle,
        {**middle, "beta": 0.0},
        {**middle, "beta": 4.0},
        {**middle, "n": 1},
        {**middle, "n": 9},
        {**middle, "kind": "a"},
        {**middle, "kind": "d"},
    ]
    assert static_values(t=(0.0, 1.0, 0.3))[0] == {"t": 0.3}  # middle stays on the grid


def test_explore_static_calls_fn_at_the_static_values():
    calls = []

    def draw(beta, kind):
        calls.append({"beta": beta, "kind": kind})
        plt.figure()
        plt.title(f"beta={beta}, kind={kind}")

    drawn = explore(draw, static=True, beta=(0.0, 1.0, 0.25), kind=["x", "y"])
    assert calls == drawn == static_values(beta=(0.0, 1.0, 0.25), kind=["x", "y"])
    assert len(calls) == 4  # middle, beta min, beta max, kind "x" (middle kind is "y")


def test_explore_is_static_by_default_in_fast_mode(monkeypatch):
    calls = []
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    assert explore(lambda a: calls.append(a), a=[1, 2, 3]) == [{"a": 2}, {"a": 1}, {"a": 3}]
    monkeypatch.setenv("EDU_GEN_FAST", "0")
    monkeypatch.setenv("EDU_GEN_STATIC", "1")
    assert explore(lambda a: calls.append(a), a=[1, 2, 3]) == [{"a": 2}, {"a": 1}, {"a": 3}]
    assert calls == [2, 1, 3, 2, 1, 3]


def test_explore_without_ipywidgets_falls_back_to_static(monkeypatch):
    monkeypatch.setenv("EDU_GEN_FAST", "0")
    monkeypatch.delenv("EDU_GEN_STATIC", raising=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    assert explore(lambda a: None, a=(0, 4, 1)) == [{"a": 2}, {"a": 0}, {"a": 4}]
    with pytest.raises(ImportError, match="needs ipywidgets"):
        explore(lambda a: None, static=False, a=(0, 4, 1))


def test_explore_interactive_returns_an_ipywidget():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []
    widget = explore(
        lambda beta, n, kind: calls.append((beta, n, kind)),
        static=False,
        beta=(0.0, 2.0, 0.5),
        n=(1, 5, 1),
        kind=["a", "b"],
    )
    assert isinstance(widget, ipywidgets.interactive)
    sliders = {child.description: child for child in widget.kwargs_widgets}
    assert isinstance(sliders["beta"], ipywidgets.FloatSlider)
    assert isinstance(sliders["n"], ipywidgets.IntSlider)
    assert isinstance(sliders["kind"], ipywidgets.Dropdown)
    assert (sliders["beta"].min, sliders["beta"].max, sliders["beta"].step) == (0.0, 2.0, 0.5)
    assert calls == [(1.0, 3, "b")]  # drawn once at the middle values


@pytest.mark.parametrize(
    ("sliders", "error", "match"),
    [
        ({}, ValueError, "at least one slider"),
        ({"a": (0, 1)}, ValueError, r"slider 'a': expected \(min, max, step\)"),
        ({"a": (1, 0, 1)}, ValueError, "min < max and step > 0"),
        ({"a": []}, ValueError, "non-empty list"),
        ({"a": "x"}, TypeError, "tuple or a list"),
        ({"b": [1, 2]}, TypeError, r"fn: cannot be called with sliders \['b'\]"),
    ],
)
def test_explore_explains_bad_sliders(sliders, error, match):
    with pytest.raises(error, match=match):
        explore(lambda a: None, static=True, **sliders)
