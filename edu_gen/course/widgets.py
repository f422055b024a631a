"""Interactive explorations that still work headless.

``explore(fn, beta=(0.0, 4.0, 0.5), kind=["a", "b"])`` gives ``fn`` live sliders in
Jupyter/Colab. When the notebook runs headless (CI validation, ``EDU_GEN_STATIC=1``,
FAST mode) or ipywidgets is missing, it instead draws ``fn`` at a few fixed values:
every slider in the middle, then each slider alone at its minimum and maximum. The
idea stays visible on the page and the output is deterministic.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt

from edu_gen.core.config import env_flag, fast

__all__ = ["explore", "static_values"]

Spec = tuple[float, float, float] | list[Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_points(name: str, spec: tuple) -> tuple[Any, Any, Any]:
    """(min, middle, max) of a ``(min, max, step)`` slider; middle lies on the step grid."""
    if len(spec) != 3 or not all(_is_number(v) and math.isfinite(v) for v in spec):
        raise ValueError(f"slider {name!r}: expected (min, max, step) numbers, got {spec!r}")
    low, high, step = spec
    if not low < high or not step > 0:
        raise ValueError(f"slider {name!r}: expected min < max and step > 0, got {spec!r}")
    if all(isinstance(v, int) for v in spec):
        return low, low + ((high - low) // step // 2) * step, high
    count = math.floor((high - low) / step + 1e-9)
    return float(low), round(low + (count // 2) * step, 10), float(high)


def _points(name: str, spec: Any) -> tuple[Any, Any, Any]:
    """(first, middle, last) values of one slider spec."""
    if isinstance(spec, tuple):
        return _range_points(name, spec)
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"slider {name!r}: expected a non-empty list of values")
        return spec[0], spec[len(spec) // 2], spec[-1]
    raise TypeError(
        f"slider {name!r}: expected a (min, max, step) tuple or a list of values, got {spec!r}"
    )


def static_values(**sliders: Spec) -> list[dict[str, Any]]:
    """The values a static ``explore`` draws: all middles, then each slider at min and max."""
    points = {name: _points(name, spec) for name, spec in sliders.items()}
    base = {name: middle for name, (_, middle, _) in points.items()}
    draws = [base]
    for name, (low, middle, high) in points.items():
        for value in (low, high):
            candidate = {**base, name: value}
            if value != middle and candidate not in draws:
                draws.append(candidate)
    return draws


def in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def have_ipywidgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _show_new_figures(before: set[int]) -> None:
    """In a notebook, show figures opened since ``before`` in order, then close them."""
    if not in_ipython():
        return
    from IPython.display import display

    for number in plt.get_fignums():
        if number not in before:
            figure = plt.figure(number)
            display(figure)
            plt.close(figure)


def _widget(name: str, spec: Spec) -> Any:
    import ipywidgets as w

    _, middle, _ = _points(name, spec)
    if isinstance(spec, list):
        return w.Dropdown(options=spec, value=middle, description=name)
    low, high, step = spec
    kind = w.IntSlider if all(isinstance(v, int) for v in spec) else w.FloatSlider
    return kind(
        min=low, max=high, step=step, value=middle, description=name, continuous_update=False
    )


def explore(
    fn: Callable[..., Any], static: bool | None = None, **sliders: Spec
) -> Any | list[dict[str, Any]]:
    """Let ``fn(**values)`` draw a matplotlib figure for slider values chosen by the reader.

    Each slider is ``name=(min, max, step)`` or ``name=[value, ...]``. ``static=None``
    means static when ``EDU_GEN_STATIC`` is set, FAST mode is on, or ipywidgets cannot
    be imported. Static mode calls ``fn`` at :func:`static_values` and returns that list
    of dicts; interactive mode displays and returns an ``ipywidgets.interactive``.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable that draws a figure, got {fn!r}")
    if not sliders:
        raise ValueError("explore: expected at least one slider, e.g. beta=(0.0, 2.0, 0.1)")
    draws = static_values(**sliders)  # validates every spec
    try:
        inspect.signature(fn).bind(**draws[0])
    except TypeError as exc:
        raise TypeError(f"fn: cannot be called with sliders {list(sliders)} ({exc})") from exc
    except ValueError:  # no signature available (some builtins): just try it
        pass
    if static is None:
        static = env_flag("EDU_GEN_STATIC") or fast() or not have_ipywidgets()
    if static:
        for values in draws:
            before = set(plt.get_fignums())
            fn(**values)
            _show_new_figures(before)
        return draws
    if not have_ipywidgets():
        raise ImportError("explore(static=False) needs ipywidgets: pip install ipywidgets")
    import ipywidgets

    widget = ipywidgets.interactive(
        fn, **{name: _widget(name, spec) for name, spec in sliders.items()}
    )
    if in_ipython():
        from IPython.display import display

        display(widget)
    return widget
