"""reveal.js slides: tag handling, slide structure, and decks that really render offline."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from edu_gen.course import slides

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

EQUATION = r"$$\int_0^1 x^2\,dx = \tfrac13$$"
INLINE = r"$\mathbb{E}[x]$"
REVEAL_READY = re.compile(r'<div class="reveal [^"]*\bready\b')
PRESENT_SECTION = re.compile(r'<section[^>]*class="[^"]*\bpresent\b')
MATHJAX_TYPESET = re.compile(r'class="[^"]*\b(?:MathJax_CHTML|mjx-chtml)\b')


def _slide(kind: str) -> dict:
    return {"slideshow": {"slide_type": kind}}


def _lesson(path: Path) -> Path:
    """A small chapter-like notebook: setup cell, math slide, subslide, code, tagged cells."""
    cells = [
        new_code_cell(
            'print("SETUP-MARKER")',
            metadata={"tags": ["setup"], **_slide("slide")},
            outputs=[new_output("stream", name="stdout", text="SETUP-MARKER\n")],
        ),
        new_markdown_cell(
            f"# Expectations\n\n{EQUATION}\n\nThe mean is {INLINE}.", metadata=_slide("slide")
        ),
        new_markdown_cell("## A closer look\n\nSUBSLIDE-BODY", metadata=_slide("subslide")),
        new_code_cell(
            'total = 1 + 1\nprint("CODE-CELL", total)',
            metadata=_slide("fragment"),
            outputs=[new_output("stream", name="stdout", text="CODE-OUT 2\n")],
        ),
        new_code_cell(
            'print("INPUT-KEPT")',
            metadata={"tags": ["remove_output"], **_slide("slide")},
            outputs=[new_output("stream", name="stdout", text="OUTPUT-DROPPED\n")],
        ),
        new_code_cell(
            'print("INPUT-DROPPED")',
            metadata={"tags": ["remove_input"], **_slide("-")},
            outputs=[new_output("stream", name="stdout", text="OUTPUT-KEPT\n")],
        ),
        new_markdown_cell("SKIPPED-MARKER", metadata=_slide("skip")),
    ]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------- fast tests


def test_slides_drop_setup_cells_and_keep_structure(tmp_path: Path) -> None:
    deck = slides.build_slides(_lesson(tmp_path / "01_demo.ipynb"), tmp_path / "out")
    assert deck == tmp_path / "out" / "01_demo.slides.html"
    html = deck.read_text(encoding="utf-8")

    assert "SETUP-MARKER" not in html
    assert "SKIPPED-MARKER" not in html
    assert "OUTPUT-DROPPED" not in html and "OUTPUT-KEPT" in html
    assert "CODE-OUT 2" in html and "SUBSLIDE-BODY" in html
    # a lecture shows what code produces; the code itself is in the speaker notes
    notes = " ".join(re.findall(r'<aside class="notes">(.*?)</aside>', html, re.S))
    slides_only = re.sub(r'<aside class="notes">.*?</aside>', "", html, flags=re.S)
    assert "CODE-CELL" in notes and "CODE-CELL" not in slides_only
    assert "INPUT-KEPT" not in slides_only  # no output left to show: the cell is skipped
    coded = slides.build_slides(_lesson(tmp_path / "01_demo.ipynb"), tmp_path / "code", code=True)
    coded_html = re.sub(r'<aside class="notes">.*?</aside>', "", coded.read_text(), flags=re.S)
    assert "CODE-CELL" in coded_html and "INPUT-KEPT" in coded_html
    assert "INPUT-DROPPED" not in coded_html  # remove_input wins over --code

    assert '<div class="reveal">' in html and '<div class="slides">' in html
    # slide 1 = <section> holding two vertical <section>s (title, subslide); slide 2 = one more
    # pair; the removed setup cell (marked "slide") must not shift or add sections.
    assert html.count("<section") == 5
    first = html.index("<section")
    assert html.index("Expectations") > first > 0
    assert '<div class="fragment"' in html
    assert EQUATION in html and INLINE in html  # left for MathJax to typeset in the browser
    assert "<title>01_demo slides</title>" in html
    # online decks load reveal.js at the version offline decks pin
    assert f"reveal.js@{slides.REVEAL_VERSION}/dist/reveal.js" in html
    assert slides.find_remote_references(html)  # online: CDN references, and we see them


def test_find_remote_references_flags_fetches_not_links() -> None:
    page = """<html><head>
    <script src="https://cdn.example.org/a.js"></script>
    <script src="local/b.js"></script>
    <link rel="stylesheet" href="//cdn.example.org/c.css">
    <style>@import url(https://fonts.example.org/css?family=Lato); p {color: red}</style>
    <script>require(["https://cdn.example.org/reveal.js", "rel/notes.js"], function () {});
    var widgetRendererSrc = 'https://unpkg.com/x/dist/embed-amd.js';</script>
    <script type="module">import mermaid from 'https://cdn.example.org/mermaid.esm.min.mjs';</script>
    <script type="application/vnd.jupyter.widget-state+json">{"u": "https://x.org/y.js"}</script>
    </head><body>
    <a href="https://example.org/paper.pdf">a link is not fetched</a>
    <pre>&lt;script src="https://example.org/in-code.js"&gt;</pre>
    <img src="data:image/png;base64,AAAA"><img src="http://example.org/fig.png">
    </body></html>"""
    found = "\n".join(slides.find_remote_references(page))
    for fetched in (
        "cdn.example.org/a.js",
        "//cdn.example.org/c.css",
        "fonts.example.org",
        "cdn.example.org/reveal.js",
        "embed-amd.js",
        "mermaid.esm.min.mjs",
        "example.org/fig.png",
    ):
        assert fetched in found
    for harmless in ("paper.pdf", "in-code.js", "local/b.js", "rel/notes.js", "x.org/y.js"):
        assert harmless not in found
    assert len(slides.find_remote_references(page)) == 7


def test_execute_runs_in_fast_mode_with_figures(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                "import os\nprint('FAST=' + os.environ['EDU_GEN_FAST'])", metadata=_slide("slide")
            ),
            new_code_cell(
                "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()",
                metadata={"tags": ["remove_input"]},
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path = tmp_path / "02_run.ipynb"
    nbformat.write(nb, path)
    html = slides.build_slides(path, tmp_path / "out", execute=True).read_text(encoding="utf-8")
    assert "FAST=1" in html
    assert "data:image/png;base64" in html and "plt.plot" not in html
    assert not nbformat.read(path, as_version=4).cells[0].outputs  # source notebook untouched


def test_cli_builds_given_notebooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _lesson(tmp_path / "03_cli.ipynb")
    assert slides.main([str(path), "--out", str(tmp_path / "deck")]) == 0
    assert (tmp_path / "deck" / "03_cli.slides.html").is_file()
    assert "03_cli.slides.html" in capsys.readouterr().out


def test_build_all_converts_every_notebook(tmp_path: Path) -> None:
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    for name in ("02_b.ipynb", "01_a.ipynb"):
        _lesson(notebooks / name)
    decks = slides.build_all(notebooks, tmp_path / "out")
    assert [d.name for d in decks] == ["01_a.slides.html", "02_b.slides.html"]


# --------------------------------------------------------------------------- offline


def _render(deck: Path, profile: Path) -> str:
    """The DOM of ``deck`` after headless Chromium ran its scripts with DNS cut off."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        # every host name fails to resolve: nothing can come from the network
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
        "--dump-dom",
        deck.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_offline_deck_renders_without_network(js_cache: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    lesson = _lesson(tmp_path / "04_offline.ipynb")

    deck = slides.build_slides(lesson, tmp_path / "linked", offline=True, cache_dir=js_cache)
    html = deck.read_text(encoding="utf-8")
    assert slides.find_remote_references(html) == []
    assert re.findall(r'(?:src|href)="https?://', html) == []
    assert "node_modules/reveal.js/dist/reveal.js" in html  # relative path into the cache

    portable = slides.build_slides(lesson, tmp_path / "portable", portable=True, cache_dir=js_cache)
    portable_html = portable.read_text(encoding="utf-8")
    assert slides.find_remote_references(portable_html) == []
    assert f'src="_assets/mathjax-{slides.MATHJAX_VERSION}/MathJax.js' in portable_html

    for built in (deck, portable):
        dom = _render(built, tmp_path / f"profile-{built.parent.name}")
        assert REVEAL_READY.search(dom), "reveal.js did not initialise"
        assert PRESENT_SECTION.search(dom), "reveal.js did not show a slide"
        assert len(MATHJAX_TYPESET.findall(dom)) >= 2, "MathJax did not typeset both formulas"
        assert r"$$\int_0^1" not in dom  # the TeX source was replaced by typeset math
        assert "SETUP-MARKER" not in dom

    # Negative control 1: the same deck with MathJax missing keeps its raw TeX.
    mathjax_src = re.findall(r'<script src="([^"]*MathJax\.js[^"]*)"', html)
    assert len(mathjax_src) == 1
    no_math = deck.with_name("no_mathjax.slides.html")
    no_math.write_text(html.replace(mathjax_src[0], "missing/MathJax.js"), encoding="utf-8")
    dom = _render(no_math, tmp_path / "profile-no-math")
    assert REVEAL_READY.search(dom), "the control deck should still run reveal.js"
    assert not MATHJAX_TYPESET.search(dom)
    assert r"$$\int_0^1" in dom

    # Negative control 2: the online (CDN) deck cannot start here, so the offline success
    # above did not come from the network.
    online = slides.build_slides(lesson, tmp_path / "online")
    dom = _render(online, tmp_path / "profile-online")
    assert not REVEAL_READY.search(dom)
    assert not MATHJAX_TYPESET.search(dom)


@pytest.mark.slow
def test_offline_rejects_theme_with_remote_fonts(js_cache: Path, tmp_path: Path) -> None:
    lesson = _lesson(tmp_path / "05_theme.ipynb")
    with pytest.raises(slides.OfflineAssetError, match="fonts.googleapis.com"):
        slides.build_slides(
            lesson, tmp_path / "out", offline=True, cache_dir=js_cache, theme="simple"
        )
    assert not (tmp_path / "out" / "05_theme.slides.html").exists()
