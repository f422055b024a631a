"""Rules found by looking at every contact sheet of the 13 executed decks (2026-12-07):

* prose height is estimated per rendered paragraph, not per soft-wrapped source line
  (a 95-column source line was counted as two lines, so slides were cut half empty);
* a heading never ends a piece of a split cell ("SUMMARY" alone, its list on the next
  slide), and a list too tall for one slide is cut between its items;
* small figures are enlarged (up to 1.5×, within the slide); tables and code blocks in
  prose are set at a readable 18 px (JupyterLab's 13 px table font won over
  ``.reveal table``, the theme drew a fenced command in 11 px); a quiz's options are
  lettered (a), (b), (c) as its answers name them;
* a MathJax queue that dies on one slide no longer leaves the browser check without
  measurements.
"""

from __future__ import annotations

import base64
import re
import shutil
import struct
import zlib

import pytest
from nbformat.v4 import new_output

from edu_gen.course.slides import browser, template
from edu_gen.course.slides import lecture as L


def _png(width: int, height: int) -> str:
    """A blank grey PNG of the given size, base64 as in a notebook output."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    return base64.b64encode(raw).decode()


WRAPPED = (
    "An autoencoder is trained to make its output close to its input, and if the code has at\n"
    "least as many units as the input has components, nothing stops the network from learning\n"
    "the identity map: a perfect score, and a code that has learned nothing about the digits.\n"
    "A bottleneck is one cure. Vincent et al. proposed another that works even for codes that\n"
    "are over-complete, as the chapter shows on the digits and on a two-dimensional manifold."
)


def test_a_soft_wrapped_paragraph_is_measured_as_one_paragraph():
    joined = " ".join(WRAPPED.splitlines())
    assert L._markdown_height(WRAPPED) == L._markdown_height(joined)
    lines = -(-len(joined) // L.CHARS_PER_LINE)
    assert L._markdown_height(WRAPPED) == L.LINE * lines  # 6 lines, not 5 × 2
    # list items and their continuation lines likewise; a new item is a new block
    items = "* first item that wraps onto\n  a second source line\n* second item"
    assert L._markdown_height(items) == 2 * L.LINE


def test_inline_tex_and_links_count_as_what_is_drawn():
    assert L._visible_length("see [the glossary](https://example.org/a/long/path)") == len(
        "see the glossary"
    )
    tex = r"$\mathrm{KL}(p_{\text{data}}\,\|\,p_\theta)$"
    assert L._visible_length(tex) == len(tex) // 3


def _summary(items: int) -> str:
    bullet = "* " + "a bullet that says something about the chapter, " * 3 + "and ends"
    return "## Summary\n\n" + "\n".join(f"{bullet} ({i})." for i in range(items))


def test_a_heading_is_never_left_alone_and_a_long_list_is_cut_between_items():
    source = _summary(12)
    assert L._markdown_height(source) > L.BUDGET
    pieces = L.split_markdown(source)
    assert len(pieces) >= 2
    assert pieces[0].startswith("## Summary\n\n* ")  # the heading keeps its first items
    assert not any(L._is_heading(piece) for piece in pieces)
    assert all(L._markdown_height(piece) <= L.BUDGET for piece in pieces)
    assert all(re.match(r"\* ", piece) for piece in pieces[1:])  # each piece is a list
    rejoined = "\n".join(line for piece in pieces for line in piece.splitlines() if line)
    assert rejoined == "\n".join(line for line in source.splitlines() if line)


def test_a_heading_at_the_end_of_a_piece_moves_on_with_its_paragraph():
    long = ("A paragraph long enough to fill most of a slide on its own. " * 6 + "\n\n") * 2
    source = long + "### Next part\n\n" + "The paragraph the heading introduces. " * 20
    pieces = L.split_markdown(source)
    assert not any(piece.rstrip().endswith("### Next part") for piece in pieces)
    assert any(piece.startswith("### Next part\n\nThe paragraph") for piece in pieces)


def _figure_output(width: int, height: int) -> dict:
    return new_output("display_data", data={"image/png": _png(width, height), "text/plain": "F"})


def test_small_figures_are_enlarged_within_the_slide_and_estimated_so():
    small = L._zoom_figure(_figure_output(500, 260))
    assert small["metadata"]["image/png"]["width"] == 750
    assert L._image_height(500, 260) == 260 * 1.5 + L.OUTPUT_MARGIN
    tall = L._zoom_figure(_figure_output(400, 400))  # 1.5× would be taller than 420 px
    assert tall["metadata"]["image/png"]["width"] == int(400 * L.ZOOM_HEIGHT / 400)
    assert L._image_height(400, 400) == L.ZOOM_HEIGHT + L.OUTPUT_MARGIN
    assert L._image_height(600, 900) == L.IMAGE_MAX + L.OUTPUT_MARGIN  # shrunk, as before
    big = _figure_output(1400, 600)  # already wider than the slide: left to the CSS
    assert "image/png" not in L._zoom_figure(big).get("metadata", {})
    chosen = _figure_output(500, 260)
    chosen["metadata"] = {"image/png": {"width": 300}}  # the notebook's own choice stays
    assert L._zoom_figure(chosen)["metadata"]["image/png"]["width"] == 300


def test_the_css_keeps_a_figure_width_and_sets_tables_readably():
    css = template.LECTURE_CSS
    # `width: auto` on every img would override the width attribute of an enlarged figure
    assert re.search(r"img:not\(\[width\]\)[^{]*\{\s*width: auto", css)
    img_rule = re.search(r"\.reveal section img, [^{]*\{([^}]*)\}", css).group(1)
    assert "width: auto" not in img_rule.replace("max-width", "")
    # JupyterLab and the reveal template set tables in 13-14 px (`var(--jp-ui-font-size1)`,
    # an em base of 14 px): a fixed, important size is what reaches the page
    table = re.search(r"\.reveal \.jp-RenderedHTMLCommon table \{([^}]*)\}", css)
    assert table is not None
    assert re.search(r"font-size: (\d+)px !important", table.group(1))
    assert int(re.search(r"font-size: (\d+)px", table.group(1)).group(1)) >= 18
    # a code block in prose (a command to run) was drawn in 11 px: the theme's 0.55 em
    assert re.search(r"\.reveal \.jp-RenderedMarkdown pre \{ font-size: 18px !important; \}", css)
    # a quiz's options are (a), (b), (c) — its answers say "(c)" — not 1., 2., 3.
    assert re.search(r'\.reveal ol\[type="a"\] \{ list-style-type: lower-alpha; \}', css)


_STALLING_DECK = """<!DOCTYPE html><html><body>
<div class="reveal"><div class="slides">
<section><h2>One</h2></section><section><h2>Two</h2></section><section><h2>Three</h2></section>
</div></div>
<script>
// reveal.js and MathJax 2 stand-ins: MathJax's queue dies on the first slide's re-render
// (as it did on a slide of 10a with a full-width display equation).
var slides = Array.prototype.slice.call(document.querySelectorAll("section")), at = 0;
window.Reveal = {
  isReady: function () { return true; },
  getSlides: function () { return slides; },
  getHorizontalSlides: function () { return slides; },
  getConfig: function () { return {width: 1280, height: 720}; },
  getIndices: function (s) { return {h: s ? slides.indexOf(s) : at, v: 0}; },
  slide: function (h) { at = h; }
};
document.addEventListener("keydown", function () { at += 1; });
window.MathJax = {Hub: {
  Register: {StartupHook: function (name, callback) { callback(); }},
  Queue: function () {  // a lone callback runs; a typeset never calls back
    if (arguments.length === 1) { setTimeout(arguments[0], 0); }
  }
}};
</script>
</body></html>
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(browser.CHROMIUM) is None, reason="Chromium not installed")
def test_a_dead_mathjax_queue_still_gives_measurements(tmp_path):
    deck = tmp_path / "stall.slides.html"
    deck.write_text(_STALLING_DECK, encoding="utf-8")
    size = browser.measure(deck)  # used to raise BrowserError: no measurements
    assert len(size.slides) == 3 and size.mathjax_stalled == [0, 1, 2]
    assert size.overflowing() == []
