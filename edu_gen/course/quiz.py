""" "Check your understanding" questions that a learner answers in the notebook.

``choice(question, options, answer, why)`` asks a multiple-choice question and
``number(question, answer, why)`` one with a numeric answer (a derivation's result, say).
In Jupyter or Colab with ipywidgets each shows an answer box and a *Check* button: the
feedback says right or wrong and then reveals the explanation ``why``. Headless (CI,
``EDU_GEN_STATIC=1``, FAST mode, no ipywidgets) and in static renderings (GitHub, slides,
HTML exports) the question is shown with its answer folded into a ``<details>`` block
that the reader opens by hand; plain-text output lists the answer last.

A question can also be answered in code: ``Choice(...).check("b")`` prints the feedback
and returns whether the answer was right.
"""

from __future__ import annotations

import html
import math
import string
from dataclasses import dataclass

from edu_gen.core.config import env_flag, fast
from edu_gen.course.widgets import have_ipywidgets, in_ipython

__all__ = ["Choice", "Number", "choice", "number"]

LETTERS = string.ascii_lowercase


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
    return value.strip()


@dataclass(frozen=True)
class Choice:
    """A multiple-choice question; ``answer`` is the index of the right option."""

    question: str
    options: tuple[str, ...]
    answer: int
    why: str

    def __post_init__(self) -> None:
        _text("question", self.question)
        _text("why", self.why)
        if not isinstance(self.options, tuple) or not 2 <= len(self.options) <= len(LETTERS):
            raise ValueError(f"options: expected 2 to 26 strings, got {self.options!r}")
        for index, option in enumerate(self.options):
            _text(f"options[{index}]", option)
        if len(set(self.options)) != len(self.options):
            raise ValueError(f"options: expected distinct options, got {self.options!r}")
        if not isinstance(self.answer, int) or isinstance(self.answer, bool):
            raise ValueError(f"answer: expected the index of the right option, got {self.answer!r}")
        if not 0 <= self.answer < len(self.options):
            raise ValueError(
                f"answer: expected an index in 0..{len(self.options) - 1}, got {self.answer}"
            )

    def is_right(self, response: int | str) -> bool:
        """``response``: the option's letter (``"b"``), its index, or its text."""
        if isinstance(response, str):
            key = response.strip()
            if len(key) == 1 and key.lower() in LETTERS[: len(self.options)]:
                return LETTERS.index(key.lower()) == self.answer
            return key == self.options[self.answer]
        if isinstance(response, int) and not isinstance(response, bool):
            return response == self.answer
        raise ValueError(f"response: expected a letter, an index or an option, got {response!r}")

    def solution(self) -> str:
        return f"({LETTERS[self.answer]}) {self.options[self.answer]}"

    def check(self, response: int | str) -> bool:
        """Print right or wrong, then the explanation; return whether it was right."""
        right = self.is_right(response)
        print(_feedback(right, self.solution(), self.why))
        return right

    def _body_text(self) -> list[str]:
        return [f"  ({LETTERS[i]}) {option}" for i, option in enumerate(self.options)]

    def _body_html(self) -> str:
        items = "".join(f"<li>{html.escape(option)}</li>" for option in self.options)
        return f'<ol type="a">{items}</ol>'

    def __repr__(self) -> str:
        return _plain(self.question, self._body_text(), self.solution(), self.why)

    def _repr_html_(self) -> str:
        return _folded(self.question, self._body_html(), self.solution(), self.why)


@dataclass(frozen=True)
class Number:
    """A question with a numeric answer, right within ``tolerance`` (relative, with an
    absolute floor of ``tolerance`` for answers near 0)."""

    question: str
    answer: float
    why: str
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        _text("question", self.question)
        _text("why", self.why)
        number_ok = isinstance(self.answer, int | float) and not isinstance(self.answer, bool)
        if not number_ok or not math.isfinite(self.answer):
            raise ValueError(f"answer: expected a finite number, got {self.answer!r}")
        if not isinstance(self.tolerance, int | float) or not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance: expected a number in (0, 1), got {self.tolerance!r}")

    def is_right(self, response: float | str) -> bool:
        try:
            value = float(response)
        except (TypeError, ValueError):
            raise ValueError(f"response: expected a number, got {response!r}") from None
        return math.isclose(value, self.answer, rel_tol=self.tolerance, abs_tol=self.tolerance)

    def solution(self) -> str:
        return f"{self.answer:.6g}"

    def check(self, response: float | str) -> bool:
        right = self.is_right(response)
        print(_feedback(right, self.solution(), self.why))
        return right

    def __repr__(self) -> str:
        return _plain(self.question, ["  (a number)"], self.solution(), self.why)

    def _repr_html_(self) -> str:
        return _folded(self.question, "", self.solution(), self.why)


def _feedback(right: bool, solution: str, why: str) -> str:
    verdict = "✔ Right." if right else f"✘ Not quite: the answer is {solution}."
    return f"{verdict} {why}"


def _plain(question: str, body: list[str], solution: str, why: str) -> str:
    return "\n".join([f"Question: {question}", *body, f"Answer: {solution}. {why}"])


def _folded(question: str, body: str, solution: str, why: str) -> str:
    return (
        f"<div><p><b>Question.</b> {html.escape(question)}</p>{body}"
        f"<details><summary>Show the answer</summary><p><b>{html.escape(solution)}.</b> "
        f"{html.escape(why)}</p></details></div>"
    )


def _interactive() -> bool:
    return in_ipython() and have_ipywidgets() and not (env_flag("EDU_GEN_STATIC") or fast())


def _widget(q: Choice | Number):  # noqa: ANN202 - an ipywidgets.VBox (optional dependency)
    import ipywidgets as w

    if isinstance(q, Choice):
        labels = [f"({LETTERS[i]}) {option}" for i, option in enumerate(q.options)]
        box = w.RadioButtons(options=labels, value=None, layout=w.Layout(width="auto"))
    else:
        box = w.Text(placeholder="your answer (a number)")
    button = w.Button(description="Check")
    out = w.Output()

    def on_click(_: object) -> None:
        out.clear_output()
        with out:
            if box.value in (None, ""):
                print("Pick or type an answer first.")
                return
            response = labels.index(box.value) if isinstance(q, Choice) else box.value
            try:
                q.check(response)
            except ValueError as error:
                print(error)

    button.on_click(on_click)
    question = w.HTML(f"<b>Question.</b> {html.escape(q.question)}")
    return w.VBox([question, box, button, out])


def _ask(q: Choice | Number) -> None:
    """Show ``q``: a widget when interactive, else the question with its answer folded."""
    if not in_ipython():
        print(repr(q))
        return
    from IPython.display import display

    display(_widget(q) if _interactive() else q)


def choice(question: str, options: list[str], answer: int, why: str) -> None:
    """Ask a multiple-choice question; ``answer`` is the index of the right option."""
    if not isinstance(options, list | tuple):
        raise ValueError(f"options: expected a list of strings, got {options!r}")
    _ask(Choice(question, tuple(options), answer, why))


def number(question: str, answer: float, why: str, tolerance: float = 0.01) -> None:
    """Ask for a number (right within ``tolerance``, relative)."""
    _ask(Number(question, answer, why, tolerance))
