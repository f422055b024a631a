"""Tests of edu_gen.course.diagrams: every diagram draws headless and shows what it names."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle, Polygon  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from edu_gen.course import diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts(fig: Figure) -> str:
    """All visible text of a figure (titles and labels included), joined."""
    return " | ".join(
        t.get_text() for ax in fig.axes for t in [*ax.texts, ax.title] if t.get_text()
    )


def n_arrows(fig: Figure) -> int:
    return sum(isinstance(c, Annotation) for ax in fig.axes for c in ax.get_children())


@pytest.mark.parametrize(
    ("draw", "must_show", "min_arrows"),
    [
        (diagrams.coupling_layer, ["$x_1$", "$y_2$", "$m$", r"\det J", "inverse"], 5),
        (diagrams.vae_graphical_model, [r"$p_\theta(x\mid z)$", r"$q_\phi(z\mid x)$", "$N$"], 5),
        (
            diagrams.reparameterization,
            [r"\varepsilon", r"\sigma_\phi", r"\partial z/\partial\phi"],
            6,
        ),
        (diagrams.gan_game, ["$G$", "$D$", "maximises", "minimises", "gradient"], 6),
        (lambda: diagrams.markov_chain(["$x$", "$z_1$", "$z_2$"]), ["$z_2$", r"$p_\theta$"], 4),
    ],
    ids=["coupling", "vae", "reparameterization", "gan", "chain"],
)
def test_diagrams_draw_and_label_their_parts(draw, must_show, min_arrows):
    fig = draw()
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # mathtext parses, arrows clip at their patches
    shown = texts(fig)
    for part in must_show:
        assert part in shown, f"{part!r} not in {shown!r}"
    assert n_arrows(fig) >= min_arrows
    assert all(not ax.axison for ax in fig.axes)  # diagrams have no axes to label


def test_markov_chain_layout():
    fig = diagrams.markov_chain(["$x_0$", "$x_1$", "…", "$x_T$"])
    ax = fig.axes[0]
    circles = [p for p in ax.patches if isinstance(p, Circle) and p.get_visible()]
    assert len(circles) == 3  # the ellipsis is text, not a node
    assert circles[0].get_facecolor() != circles[1].get_facecolor()  # x_0 is observed
    assert n_arrows(fig) == 2 * 3  # one generative and one inference arrow per link
    with pytest.raises(ValueError, match="at least 2 variables"):
        diagrams.markov_chain(["$x$"])


def test_primitives():
    ax = diagrams.canvas(4, 2)
    assert ax.get_xlim() == (0, 4) and ax.get_ylim() == (0, 2)
    a = diagrams.node(ax, 1, 1, "$a$", observed=True)
    b = diagrams.node(ax, 3, 1, "$b$", deterministic=True)
    c = diagrams.box(ax, 2, 0.5, "f")
    assert isinstance(b.patch, Polygon) and (b.x, b.y) == (3, 1)
    diagrams.arrow(ax, a, b, "label", dashed=True, bend=0.3)
    diagrams.arrow(ax, (0.2, 0.2), c)
    assert n_arrows(ax.figure) == 2 and "label" in texts(ax.figure)
    with pytest.raises(ValueError, match="positive"):
        diagrams.canvas(0, 2)
