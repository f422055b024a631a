"""The PDF handout waits for reveal.js' print view to be laid out, however slowly.

Regression: ``--dump-dom --virtual-time-budget`` saved the print view when virtual time
ran out — fast-forwarded as soon as no timer was pending — so a print view still waiting
for animation frames (slow layout under CPU load) was saved unpaginated and printed as
one page ("1 pages for 30 slides"); the guard ``"pdf-page" in dom`` passed anyway because
the lecture stylesheet itself mentions ``.pdf-page``. The fake deck below lays out its
pages only after many animation frames with no timer pending: the old code printed it
as 1 page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edu_gen.course.slides import browser
from edu_gen.course.slides.cdp import Chromium

_FAKE = """<!DOCTYPE html>
<html><head><style>
@page { size: 640px 360px; margin: 0; }
html, body { margin: 0; }
.pdf-page { height: 360px; overflow: hidden; break-after: page; }
.pdf-page:last-of-type { break-after: avoid; }
</style></head>
<body><div class="reveal"><div class="slides">
SLIDES
</div></div>
<script>
// Stands in for reveal.js 4's print view: ready at once, but its pages appear only after
// FRAMES animation frames (real time, no timer pending), as when layout is slow.
window.Reveal = {isReady: function () { return true; }};
if (/print-pdf/.test(location.search)) {
  var frames = 0;
  (function step() {
    if (++frames < FRAMES) { requestAnimationFrame(step); return; }
    document.documentElement.classList.add("print-pdf");
    document.querySelectorAll(".slides > section").forEach(function (s) {
      var page = document.createElement("div"); page.className = "pdf-page";
      s.parentNode.insertBefore(page, s); page.appendChild(s);
    });
  })();
}
</script>
</body></html>
"""

needs_chromium = pytest.mark.skipif(
    shutil.which(browser.CHROMIUM) is None, reason="Chromium not installed"
)


def _fake_deck(folder: Path, slides: int, frames: int) -> Path:
    sections = "\n".join(f"<section><h2>Slide {i + 1}</h2></section>" for i in range(slides))
    deck = folder / "fake.slides.html"
    deck.write_text(
        _FAKE.replace("SLIDES", sections).replace("FRAMES", str(frames)), encoding="utf-8"
    )
    return deck


DONE = {
    "typeset": True,
    "print_view": True,
    "pages": 30,
    "slides": 30,
    "wrapped": 30,
    "fonts": "loaded",
    "images": True,
}


def test_print_view_ready_only_when_every_slide_is_on_its_own_page():
    assert browser.print_view_ready(DONE)
    not_yet = [
        None,  # the page is still loading
        {**DONE, "print_view": False, "pages": 0, "wrapped": 0},  # before setupPDF
        {**DONE, "pages": 0, "slides": 0, "wrapped": 0},  # slides moved into detached pages
        {**DONE, "pages": 1, "wrapped": 1},  # the old failure: one page for 30 slides
        {**DONE, "wrapped": 29},
        {**DONE, "typeset": False},  # MathJax still typesetting
        {**DONE, "fonts": "loading"},
        {**DONE, "images": False},
    ]
    assert not any(browser.print_view_ready(status) for status in not_yet)


@pytest.mark.slow
@needs_chromium
def test_a_slowly_laid_out_print_view_prints_one_page_per_slide(tmp_path):
    deck = _fake_deck(tmp_path, slides=6, frames=120)  # about 2 s of frames, no timers
    pdf = browser.print_pdf(deck, timeout=60)
    assert browser.pdf_pages(pdf) == 6
    assert not list(tmp_path.glob(".*.html")), "the probe page is removed"


@pytest.mark.slow
@needs_chromium
def test_a_print_view_that_never_lays_out_is_an_error_not_a_one_page_pdf(tmp_path):
    deck = _fake_deck(tmp_path, slides=3, frames=10**9)
    with pytest.raises(browser.BrowserError, match="did not finish laying out"):
        browser.print_pdf(deck, tmp_path / "never.pdf", timeout=4)
    assert not (tmp_path / "never.pdf").exists()


@pytest.mark.slow
@needs_chromium
def test_devtools_pipe_evaluates_in_the_page():
    with Chromium(browser.chromium(), [], timeout=60) as chrome:
        page = chrome.open("data:text/html,<title>x</title><p id=p>hello</p>")
        text = page.wait_for("document.getElementById('p') && p.textContent", timeout=30)
        assert text == "hello"
