r"""Concept diagrams drawn with matplotlib: nodes, boxes and arrows, no image files.

Every diagram function returns a :class:`~matplotlib.figure.Figure` and never calls
``plt.show()``. They share four primitives, which a lesson may also use for a diagram of its
own (coordinates are data units on a canvas whose axes are hidden):

* :func:`canvas` — an empty Axes of a given width × height;
* :func:`node` — a random variable: a circle, shaded when observed;
  ``deterministic=True`` draws a diamond (a value computed from its parents);
* :func:`box` — a computation (a network, a sum, a loss);
* :func:`arrow` — from one element (or point) to another, clipped at their outlines;
  dashed for inference or gradient paths, with an optional label at its middle.

The diagrams (and the chapter that shows each):

* :func:`coupling_layer` — NICE's additive coupling (06; Dinh et al. 2015);
* :func:`vae_graphical_model` — the VAE as a graphical model, generative and inference
  arrows (03-04; Kingma & Welling 2014, fig. 1);
* :func:`markov_chain` — a chain of latent variables: a hierarchical VAE, and DDPM as its
  special case (08; Ho et al. 2020, fig. 2);
* :func:`reparameterization` — where the gradient can flow before and after the
  reparameterisation (04);
* :func:`gan_game` — the generator, the discriminator and who optimises what (07;
  Goodfellow et al. 2014).

Length: a little over 300 lines, kept as one module: the four primitives and the five
diagrams drawn with them share one drawing style (sizes, colours, fonts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Patch, Polygon, Rectangle

__all__ = [
    "Element",
    "arrow",
    "box",
    "canvas",
    "coupling_layer",
    "gan_game",
    "markov_chain",
    "node",
    "reparameterization",
    "vae_graphical_model",
]

INFERENCE = "tab:red"  # colour of inference / gradient paths
FONT = 12


@dataclass(frozen=True)
class Element:
    """A drawn node or box: its centre and its outline (arrows stop at the outline)."""

    x: float
    y: float
    patch: Patch


def canvas(width: float, height: float, ax: Axes | None = None, *, scale: float = 1.0) -> Axes:
    """An Axes showing ``[0, width] × [0, height]`` at equal aspect, with no axis lines.

    A new figure is ``scale * width`` × ``scale * height`` inches.
    """
    if not (width > 0 and height > 0 and scale > 0):
        raise ValueError(
            f"width, height, scale: expected positive numbers, got {width, height, scale}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(scale * width, scale * height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def node(
    ax: Axes,
    x: float,
    y: float,
    text: str,
    *,
    observed: bool = False,
    deterministic: bool = False,
    radius: float = 0.35,
) -> Element:
    """A random variable at ``(x, y)``: a circle (grey if ``observed``) or, for a value that is
    a deterministic function of its parents, a diamond."""
    face = "0.82" if observed else "white"
    if deterministic:
        r = 1.25 * radius
        patch: Patch = Polygon(
            [(x - r, y), (x, y + r), (x + r, y), (x, y - r)], closed=True, fc=face, ec="black"
        )
    else:
        patch = Circle((x, y), radius, fc=face, ec="black", lw=1.2)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT)
    return Element(x, y, patch)


def box(
    ax: Axes,
    x: float,
    y: float,
    text: str,
    *,
    width: float = 1.6,
    height: float = 0.7,
    color: str = "#dce9f5",
) -> Element:
    """A computation (network, operation, loss) as a rounded box centred at ``(x, y)``."""
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.02,rounding_size=0.12",
        fc=color,
        ec="black",
        lw=1.0,
    )
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT)
    return Element(x, y, patch)


def arrow(
    ax: Axes,
    start: Element | tuple[float, float],
    end: Element | tuple[float, float],
    text: str | None = None,
    *,
    dashed: bool = False,
    color: str = "black",
    bend: float = 0.0,
    offset: tuple[float, float] = (0.0, 0.18),
) -> None:
    """An arrow ``start → end``; elements clip it at their outlines. ``bend`` curves it
    (positive: bulging to the right of the direction of travel); ``text`` sits at its middle,
    shifted by ``offset``."""
    (x0, y0), (x1, y1) = _centre(start), _centre(end)
    ax.annotate(
        "",
        xy=(x1, y1),
        xytext=(x0, y0),
        arrowprops={
            "arrowstyle": "-|>",
            "color": color,
            "lw": 1.4,
            "ls": "--" if dashed else "-",
            "mutation_scale": 14,
            "shrinkA": 2,
            "shrinkB": 2,
            "patchA": start.patch if isinstance(start, Element) else None,
            "patchB": end.patch if isinstance(end, Element) else None,
            "connectionstyle": f"arc3,rad={bend}",
        },
    )
    if text:
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        # arc3's control point is bend × (chord turned right) from the chord's middle; the
        # curve passes halfway there
        mx, my = mx + bend * (y1 - y0) / 2, my - bend * (x1 - x0) / 2
        ax.text(
            mx + offset[0], my + offset[1], text, ha="center", va="center", color=color,
            fontsize=FONT - 1,
        )  # fmt: skip


def _centre(where: Element | tuple[float, float]) -> tuple[float, float]:
    return (where.x, where.y) if isinstance(where, Element) else (float(where[0]), float(where[1]))


def _legend(ax: Axes, x: float, y: float, entries: Sequence[tuple[str, str, str]]) -> None:
    """Short line samples with labels: ``(linestyle, colour, text)`` per entry."""
    for i, (style, color, text) in enumerate(entries):
        yy = y - 0.4 * i
        ax.plot([x, x + 0.5], [yy, yy], ls=style, color=color, lw=1.4)
        ax.text(x + 0.65, yy, text, va="center", fontsize=FONT - 2)


# ---------------------------------------------------------------------------- diagrams


def coupling_layer() -> Figure:
    r"""NICE's additive coupling layer: :math:`y_1 = x_1`, :math:`y_2 = x_2 + m(x_1)`."""
    ax = canvas(8.0, 4.2)
    x1, x2 = node(ax, 0.8, 3.0, "$x_1$", observed=True), node(ax, 0.8, 1.0, "$x_2$", observed=True)
    m = box(ax, 3.2, 2.0, "$m$ (any MLP)")
    plus = box(ax, 4.9, 1.0, "$+$", width=0.6, height=0.6, color="#fde9c8")
    y1 = node(ax, 7.0, 3.0, "$y_1$", deterministic=True)
    y2 = node(ax, 7.0, 1.0, "$y_2$", deterministic=True)
    arrow(ax, x1, y1, "copied unchanged")
    arrow(ax, x1, m)
    arrow(ax, m, plus)
    arrow(ax, x2, plus)
    arrow(ax, plus, y2)
    ax.text(4.0, 0.15, r"inverse: $x_2 = y_2 - m(y_1)$;  $\log|\det J| = 0$", ha="center",
            fontsize=FONT - 1)  # fmt: skip
    ax.set_title("additive coupling layer (NICE)", fontsize=FONT + 1)
    return ax.figure


def vae_graphical_model() -> Figure:
    r"""The VAE: :math:`p_\theta(z)p_\theta(x\mid z)` (solid), :math:`q_\phi(z\mid x)` (dashed)."""
    ax = canvas(6.0, 4.6)
    ax.add_patch(Rectangle((1.4, 0.3), 2.8, 3.5, fill=False, lw=1.0))
    ax.text(4.05, 0.45, "$N$", ha="right", fontsize=FONT)
    z = node(ax, 2.8, 2.9, "$z$")
    x = node(ax, 2.8, 1.1, "$x$", observed=True)
    theta = node(ax, 5.2, 2.0, r"$\theta$", radius=0.25)
    phi = node(ax, 0.6, 2.9, r"$\phi$", radius=0.25)
    arrow(ax, z, x, r"$p_\theta(x\mid z)$", offset=(0.7, 0.0))
    arrow(ax, x, z, r"$q_\phi(z\mid x)$", dashed=True, color=INFERENCE, bend=-0.6,
          offset=(-0.75, 0.0))  # fmt: skip
    arrow(ax, theta, x)
    arrow(ax, theta, z)
    arrow(ax, phi, z, dashed=True, color=INFERENCE)
    _legend(ax, 0.2, 4.35, [("-", "black", "generative model"),
                            ("--", INFERENCE, "inference (encoder)")])  # fmt: skip
    return ax.figure


def markov_chain(
    names: Sequence[str],
    *,
    generative: str = r"$p_\theta$",
    inference: str = r"$q$",
    title: str | None = None,
) -> Figure:
    """A chain ``names[0] ← names[1] ← …`` (generative, solid, right to left) with inference
    arrows ``names[0] → names[1] → …`` (dashed). ``names[0]`` is the observed variable;
    ``"…"`` in ``names`` draws an ellipsis instead of a node.

    A hierarchical VAE: ``["$x$", "$z_1$", "$z_2$", "$z_3$"]``; DDPM (Ho et al. 2020):
    ``["$x_0$", "$x_1$", "…", "$x_T$"]`` with a fixed, parameter-free ``inference``.
    """
    if len(names) < 2:
        raise ValueError(f"names: expected at least 2 variables, got {list(names)!r}")
    step = 2.6
    ax = canvas(step * (len(names) - 1) + 1.6, 2.8)
    elements = []
    for i, name in enumerate(names):
        x = 0.8 + step * i
        if name in ("…", "..."):
            ax.text(x, 1.4, "…", ha="center", va="center", fontsize=FONT + 4)
            elements.append(Element(x, 1.4, Circle((x, 1.4), 0.3, visible=False)))
            ax.add_patch(elements[-1].patch)
        else:
            elements.append(node(ax, x, 1.4, name, observed=i == 0))
    for left, right in zip(elements[:-1], elements[1:], strict=True):
        arrow(ax, right, left, generative, bend=0.35, offset=(0.0, 0.25))
        arrow(ax, left, right, inference, dashed=True, color=INFERENCE, bend=0.35,
              offset=(0.0, -0.25))  # fmt: skip
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    return ax.figure


def reparameterization() -> Figure:
    r"""Left: :math:`z\sim q_\phi` is a random node, no gradient to :math:`\phi` through it.
    Right: :math:`z = \mu_\phi + \sigma_\phi\varepsilon` is deterministic, the noise is an input."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, reparam in zip(axes, (False, True), strict=True):
        canvas(5.0, 4.0, ax)
        phi = node(ax, 0.7, 2.0, r"$\phi$", radius=0.3)
        if reparam:
            z = node(ax, 2.4, 2.0, "$z$", deterministic=True)
            eps = node(ax, 2.4, 3.5, r"$\varepsilon$", radius=0.3)
            arrow(ax, eps, z, offset=(0.9, 0.0), text=r"$\mathcal{N}(0, I)$")
            ax.text(2.4, 1.2, r"$z = \mu_\phi(x) + \sigma_\phi(x)\,\varepsilon$", ha="center",
                    fontsize=FONT - 1)  # fmt: skip
        else:
            z = node(ax, 2.4, 2.0, "$z$")
            ax.text(2.4, 1.2, r"$z \sim q_\phi(z\mid x)$", ha="center", fontsize=FONT - 1)
        f = box(ax, 4.1, 2.0, "$f(z)$", width=1.1)
        arrow(ax, phi, z)
        arrow(ax, z, f)
        # the backward pass: from f back towards phi
        arrow(ax, (4.1, 0.5), (2.6, 0.5), r"$\partial f/\partial z$", dashed=True,
              color=INFERENCE, offset=(0.0, -0.25))  # fmt: skip
        if reparam:
            arrow(ax, (2.2, 0.5), (0.7, 0.5), r"$\partial z/\partial\phi$", dashed=True,
                  color=INFERENCE, offset=(0.0, -0.25))  # fmt: skip
            ax.set_title("reparameterised: the gradient reaches $\\phi$", fontsize=FONT)
        else:
            ax.text(1.55, 0.5, "✗", ha="center", va="center", color=INFERENCE, fontsize=FONT + 6)
            ax.set_title("sampling node: no path back to $\\phi$", fontsize=FONT)
    _legend(axes[0], 0.1, 3.75, [("-", "black", "forward"), ("--", INFERENCE, "gradient")])
    fig.tight_layout()
    return fig


def gan_game() -> Figure:
    """Generator and discriminator: who sees what, and who optimises what."""
    ax = canvas(9.0, 4.6)
    z = node(ax, 0.7, 1.2, "$z$")
    ax.text(0.7, 0.5, r"$p_z$", ha="center", fontsize=FONT - 1)
    g = box(ax, 2.5, 1.2, "$G$", width=1.0)
    fake = node(ax, 4.4, 1.2, r"$\tilde x$", deterministic=True)
    real = node(ax, 4.4, 3.4, "$x$", observed=True)
    ax.text(4.4, 4.05, r"$p_{\mathrm{data}}$", ha="center", fontsize=FONT - 1)
    d = box(ax, 6.3, 2.3, "$D$", width=1.0)
    out = box(ax, 8.1, 2.3, "$D(\\cdot)\\in(0,1)$\nP(real)", width=1.6, height=0.9,
              color="#fde9c8")  # fmt: skip
    arrow(ax, z, g)
    arrow(ax, g, fake, r"$G(z)$")
    arrow(ax, real, d)
    arrow(ax, fake, d)
    arrow(ax, d, out)
    arrow(ax, (6.3, 1.6), (2.7, 0.7), "generator's gradient", dashed=True, color=INFERENCE,
          bend=-0.25, offset=(0.0, -0.35))  # fmt: skip
    ax.text(7.6, 3.5, "$D$ maximises $V$:\nreal → 1, fake → 0", ha="center", fontsize=FONT - 1)
    ax.text(2.5, 2.3, "$G$ minimises $V$:\nmake $D(G(z))$ → 1", ha="center", fontsize=FONT - 1)
    return ax.figure
