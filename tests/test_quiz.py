"""Check-your-understanding questions: validation, answers, static and widget renderings,
and 3-5 questions in every chapter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edu_gen.course import quiz
from edu_gen.course.quiz import Choice, Number

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(
    p for p in (ROOT / "lessons").glob("[0-9][0-9]*_*.py") if not p.stem.endswith("_exercises")
)
Q = Choice("Which is a lower bound?", ("the ELBO", "the KL", "the entropy"), 0, "Jensen.")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"question": ""}, "question"),
        ({"options": ("only one",)}, "options"),
        ({"options": ("a", "a")}, "options"),
        ({"options": ("a", "")}, r"options\[1\]"),
        ({"answer": 3}, "answer"),
        ({"answer": True}, "answer"),
        ({"why": " "}, "why"),
    ],
)
def test_bad_choice_names_the_argument(kwargs, name):
    args = {"question": "q?", "options": ("a", "b", "c"), "answer": 1, "why": "because", **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        Choice(**args)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"answer": float("nan")}, "answer"),
        ({"answer": "1"}, "answer"),
        ({"tolerance": 0}, "tolerance"),
    ],
)
def test_bad_number_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        Number(**{"question": "q?", "answer": 0.5, "why": "because", **kwargs})


def test_choice_accepts_letter_index_or_text():
    assert Q.is_right("a") and Q.is_right("A ") and Q.is_right(0) and Q.is_right("the ELBO")
    assert not Q.is_right("b") and not Q.is_right(2) and not Q.is_right("the KL")
    with pytest.raises(ValueError, match="^response:"):
        Q.is_right(None)


def test_number_tolerance_is_relative_with_a_floor():
    q = Number("D*(x) for p = 0.3, q = 0.1?", 0.75, "p / (p + q).")
    assert q.is_right(0.75) and q.is_right("0.752") and not q.is_right(0.77)
    near_zero = Number("x?", 0.0, "zero.", tolerance=0.01)
    assert near_zero.is_right(0.005) and not near_zero.is_right(0.02)
    with pytest.raises(ValueError, match="^response:"):
        q.is_right("three quarters")


def test_check_prints_the_verdict_then_the_explanation(capsys):
    assert Q.check("a") is True
    assert capsys.readouterr().out.startswith("✔ Right. Jensen.")
    assert Q.check("c") is False
    assert "✘ Not quite: the answer is (a) the ELBO. Jensen." in capsys.readouterr().out


def test_static_renderings_fold_the_answer():
    page = Q._repr_html_()
    shown, folded = page.split("<details>")
    assert "Which is a lower bound?" in shown and "the KL" in shown
    assert "Jensen." not in shown and "(a) the ELBO" in folded and "Jensen." in folded
    text = repr(Q)
    assert text.splitlines()[0] == "Question: Which is a lower bound?"
    assert text.splitlines()[-1] == "Answer: (a) the ELBO. Jensen."
    assert "&lt;" in Choice("Is 1 < 2?", ("yes", "no"), 0, "it is.")._repr_html_()


def test_headless_call_prints_question_and_answer(capsys):
    quiz.choice("Which is a lower bound?", ["the ELBO", "the KL"], 0, "Jensen.")
    quiz.number("D*(x)?", 0.75, "p / (p + q).")
    out = capsys.readouterr().out
    assert "Question: Which is a lower bound?" in out and "Answer: 0.75. p / (p + q)." in out
    with pytest.raises(ValueError, match="^options:"):
        quiz.choice("q?", "ab", 0, "why")


def test_widget_reveals_the_explanation_on_check(capsys):
    pytest.importorskip("ipywidgets")
    box = quiz._widget(Q)
    _, radio, button, _ = box.children
    button.click()
    assert "Pick or type an answer first." in capsys.readouterr().out
    radio.value = radio.options[1]
    button.click()
    assert "✘ Not quite: the answer is (a) the ELBO. Jensen." in capsys.readouterr().out
    radio.value = radio.options[0]
    button.click()
    assert "✔ Right. Jensen." in capsys.readouterr().out
    _, text, button, _ = quiz._widget(Number("D*?", 0.75, "ratio.")).children
    text.value = "not a number"
    button.click()
    assert "response: expected a number" in capsys.readouterr().out
    text.value = "0.75"
    button.click()
    assert "✔ Right. ratio." in capsys.readouterr().out


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_asks_three_to_five_questions(path):
    count = len(re.findall(r"^quiz\.(choice|number)\(", path.read_text(), flags=re.M))
    assert 3 <= count <= 5, f"{path.name}: {count} questions"
