"""The Korean–English glossary exists, is linked from every chapter, and its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from edu_gen.core.config import REPO_URL
from edu_gen.course.build import absolute_links

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "lessons" / "glossary.md"
CHAPTERS = sorted(
    p for p in (ROOT / "lessons").glob("[0-9][0-9]*_*.py") if not p.stem.endswith("_exercises")
)


def test_glossary_has_korean_and_english_rows():
    text = GLOSSARY.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    hangul = re.compile(r"[\uac00-\ud7a3]")
    terms = [row for row in rows if hangul.search(row.split("|")[1])]
    assert len(terms) >= 60
    for korean, english in (
        ("분할상환추론", "amortized inference"),
        ("재매개변수화", "reparameterization"),
    ):
        assert any(korean in row and english in row for row in terms), korean


@pytest.mark.parametrize("lesson", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_links_the_glossary_in_its_first_markdown_cell(lesson):
    notebook = jupytext.read(lesson, fmt="py:percent")
    first = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    links = re.findall(r"\]\(([^)]*glossary\.md)\)", first.source)
    assert links, f"{lesson.name}: no link to the glossary in the first markdown cell"
    for link in links:  # relative to the built notebook in notebooks/
        assert (ROOT / "notebooks" / link).resolve() == GLOSSARY


def test_built_notebooks_link_the_glossary_on_github():
    """Relative links break on Colab and in slides: the build makes them absolute."""
    url = f"{REPO_URL}/blob/main/lessons/glossary.md"
    for lesson in CHAPTERS:
        built = nbformat.read(ROOT / "notebooks" / f"{lesson.stem}.ipynb", as_version=4)
        text = "".join(c.source for c in built.cells if c.cell_type == "markdown")
        assert f"]({url})" in text and "](../" not in text, lesson.name
    assert absolute_links("see [x](../a/b.md) and [y](https://e.org/c)") == (
        f"see [x]({REPO_URL}/blob/main/a/b.md) and [y](https://e.org/c)"
    )
