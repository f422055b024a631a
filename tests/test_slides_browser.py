"""Every deck as a class sees it, in headless Chromium: each slide fits 1280×720 once
MathJax has typeset it, equations are typeset, figures of an executed deck are on their
slides, the arrow key moves on, the PDF handout has one page per slide — and an
over-long slide or a deck without keyboard navigation is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from edu_gen.course import slides
from edu_gen.course.slides import browser, review

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(browser.CHROMIUM) is None, reason="Chromium not installed"),
]


@pytest.fixture(scope="module")
def decks(js_cache: Path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("decks")
    built = slides.build_all(ROOT / "notebooks", out, offline=True, cache_dir=js_cache)
    return {deck.name.removesuffix(".slides.html"): deck for deck in built}


def test_every_lesson_has_a_deck(decks):
    assert sorted(decks) == [p.stem for p in NOTEBOOKS] and len(decks) >= 12


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_every_slide_fits_720p_and_its_math_is_typeset(decks, name):
    size = browser.measure(decks[name])
    assert (size.width, size.height) == slides.SLIDE_SIZE
    assert len(size.slides) >= 8, "a lesson is more than a handful of slides"
    assert size.overflowing() == [], [(s.label, s.height, s.cells) for s in size.overflowing()]
    assert all(s.raw_tex == 0 for s in size.slides), "TeX left untypeset"
    assert sum(s.typeset for s in size.slides) >= 5, "the lesson's equations were typeset"
    assert size.navigates, "the right-arrow key moves to the next slide"


def test_executed_deck_shows_its_figures_and_prints_one_page_per_slide(js_cache, tmp_path):
    notebook = ROOT / "notebooks" / "00_taxonomy_likelihood.ipynb"
    deck = slides.build_slides(notebook, tmp_path, offline=True, cache_dir=js_cache, execute=True)
    for screen in ("720p", "1080p"):
        size = browser.measure(deck, screen)
        assert size.overflowing() == [], [(s.label, s.height) for s in size.overflowing()]
    figures = [img for s in size.slides for img in s.images if img["loaded"]]
    assert len(figures) >= 5 and all(img["height"] > 150 for img in figures)
    pdf = browser.print_pdf(deck)
    assert browser.pdf_pages(pdf) == len(size.slides)
    from PIL import Image

    with Image.open(browser.contact_sheet(pdf)) as image:
        assert image.width >= 6 * 320 and image.height > 200


def test_an_overlong_slide_is_caught_and_its_cell_named(js_cache, tmp_path):
    """Negative control: one paragraph too long for any slide (it cannot be split)."""
    wall = "A sentence that goes on and on. " * 400
    nb = new_notebook(cells=[new_markdown_cell("# Title"), new_markdown_cell(wall)])
    nb.cells[1]["id"] = "wall"
    path = tmp_path / "99_wall.ipynb"
    nbformat.write(nb, path)
    deck = slides.build_slides(path, tmp_path, offline=True, cache_dir=js_cache)
    size = browser.measure(deck)
    assert [s.cells for s in size.overflowing()] == [["wall"]]
    problems = review.review(deck, path)
    assert len(problems) == 1 and "cell wall" in problems[0] and "A sentence" in problems[0]


def test_a_deck_without_keyboard_navigation_is_caught(decks, tmp_path):
    html = decks["01_autoencoders"].read_text(encoding="utf-8")
    broken = decks["01_autoencoders"].with_name("no_keys.slides.html")
    broken.write_text(html.replace("controls: true,", "keyboard: false, controls: true,", 1))
    try:
        assert not browser.measure(broken).navigates
    finally:
        broken.unlink()
