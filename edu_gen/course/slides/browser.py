"""Look at a deck the way a class will: headless Chromium measures, prints and photographs it.

* :func:`measure` opens a deck at 1280×720, waits for reveal.js and MathJax, visits every
  slide and returns its size in reveal's slide coordinates (:class:`SlideSize`), the
  notebook cells it shows, whether its equations were typeset and its images loaded;
* :func:`print_pdf` prints reveal.js' own print view (``?print-pdf``) to a PDF handout,
  one page per slide;
* :func:`contact_sheet` renders the handout's pages (pypdfium2) into one PNG grid, so a
  reviewer sees a whole deck at a glance.

Everything runs offline on ``file://`` pages; the Chromium binary is :data:`CHROMIUM`
(``EDU_GEN_CHROMIUM`` overrides it).

Length: the two page scripts (measure, print) are JavaScript kept beside the Python that
injects them and reads their results.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("EDU_GEN_CHROMIUM", "chromium")
SCREENS = {"720p": (1280, 720), "1080p": (1920, 1080)}

# Visits every slide once reveal.js is ready and MathJax has typeset the page, then writes
# the measurements into a <pre> that --dump-dom prints. Sizes are in slide coordinates
# (reveal's configured width × height), whatever the window size.
_MEASURE_JS = r"""
<script>
(function () {
  function typesetDone(callback) {  // after MathJax's first typeset of the whole page
    if (window.MathJax && MathJax.Hub && MathJax.Hub.Register) {
      MathJax.Hub.Register.StartupHook("End", function () { MathJax.Hub.Queue(callback); });
    } else { callback(); }
  }
  function row(slide, at) {
    var cells = Array.prototype.map.call(
      slide.querySelectorAll('[id^="cell-id="]'), function (e) { return e.id.slice(8); });
    var images = Array.prototype.map.call(slide.querySelectorAll("img"), function (img) {
      var box = img.getBoundingClientRect();
      return {loaded: img.complete && img.naturalWidth > 0, height: box.height};
    });
    var text = slide.innerText || "";
    return {
      h: at.h, v: at.v || 0, height: slide.scrollHeight, width: slide.scrollWidth,
      cells: cells, images: images,
      typeset: slide.querySelectorAll(".MathJax_CHTML, mjx-container").length,
      raw_tex: (text.match(/\$\$|\\\(|\\begin\{|\$[^$\s][^$]*\$/g) || []).length,
      title: (slide.querySelector("h1, h2, h3") || {}).textContent || ""
    };
  }
  var stalled = [];
  function finish(rows) {
    var config = Reveal.getConfig();
    Reveal.slide(0, 0);  // then the right-arrow key, as a presenter presses it
    var key = {key: "ArrowRight", code: "ArrowRight", keyCode: 39, which: 39, bubbles: true};
    document.dispatchEvent(new KeyboardEvent("keydown", key));
    var moved = Reveal.getIndices().h === 1 || Reveal.getHorizontalSlides().length < 2;
    var pre = document.createElement("pre");
    pre.id = "edu-gen-measure";
    pre.textContent = JSON.stringify({
      width: config.width, height: config.height, navigates: moved, slides: rows,
      mathjax_stalled: stalled});
    document.body.appendChild(pre);
  }
  function measure() {  // one slide at a time: show it, let MathJax typeset it, measure
    var slides = Reveal.getSlides(), rows = [], index = 0;
    stalled = [];
    function next() {
      if (index >= slides.length) { finish(rows); return; }
      var slide = slides[index], at = Reveal.getIndices(slide), finished = false, guard;
      Reveal.slide(at.h, at.v || 0);
      var done = function () {
        if (finished) { return; }
        finished = true; clearTimeout(guard);
        rows.push(row(slide, at)); index += 1; setTimeout(next, 0);
      };
      // MathJax 2 stops its queue for good when a callback throws (seen: a TypeError in
      // prepareScripts while re-rendering a slide with a full-width display equation);
      // measure the slide as it is then, on a fresh queue, rather than never report.
      guard = setTimeout(function () {
        stalled.push(rows.length);
        if (window.MathJax && MathJax.Callback) { MathJax.Hub.queue = MathJax.Callback.Queue(); }
        done();
      }, 500);
      if (window.MathJax && MathJax.Hub) {
        MathJax.Hub.Queue(["Typeset", MathJax.Hub, slide], ["Rerender", MathJax.Hub, slide], done);
      } else { done(); }
    }
    next();
  }
  var tries = 0;
  var wait = setInterval(function () {
    tries += 1;
    if (window.Reveal && Reveal.isReady && Reveal.isReady()) {
      clearInterval(wait);
      typesetDone(function () { setTimeout(measure, 50); });
    } else if (tries > 400) {
      clearInterval(wait);
      var pre = document.createElement("pre");
      pre.id = "edu-gen-measure";
      pre.textContent = JSON.stringify({error: "reveal.js never became ready"});
      document.body.appendChild(pre);
    }
  }, 50);
})();
</script>
"""


class BrowserError(RuntimeError):
    """Chromium is missing, failed, or the deck never became ready."""


@dataclass
class SlideSize:
    """One slide as the browser laid it out (reveal.js slide coordinates)."""

    h: int
    v: int
    height: int
    width: int
    cells: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    typeset: int = 0
    raw_tex: int = 0
    title: str = ""

    def fits(self, width: int, height: int) -> bool:
        return self.height <= height and self.width <= width

    @property
    def label(self) -> str:
        return f"slide {self.h + 1}.{self.v + 1}"


@dataclass
class DeckSize:
    deck: Path
    width: int
    height: int
    navigates: bool
    slides: list[SlideSize]
    mathjax_stalled: list[int] = field(default_factory=list)
    """Indices of slides whose MathJax re-render never finished (measured as they were)."""

    def overflowing(self) -> list[SlideSize]:
        return [s for s in self.slides if not s.fits(self.width, self.height)]


def chromium() -> str:
    found = shutil.which(CHROMIUM)
    if not found:
        raise BrowserError(
            f"Chromium not found ({CHROMIUM!r}): install it (apt-get install chromium) or set "
            "EDU_GEN_CHROMIUM to its path"
        )
    return found


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="edu_gen_chromium_") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            *args,
        ]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise BrowserError(f"Chromium timed out after {timeout} s: {args[-1]}") from error


def _inject(html: str, script: str) -> str:
    """``html`` with ``script`` before its closing body tag (the last one: a cell's output
    may show HTML source of its own)."""
    at = html.rfind("</body>")
    return html[:at] + script + html[at:]


def measure(deck: Path, screen: str = "720p", *, timeout: int = 120) -> DeckSize:
    """Lay out every slide of ``deck`` in a ``screen``-sized window and measure it."""
    deck = Path(deck).resolve()
    if screen not in SCREENS:
        raise ValueError(f"screen: expected one of {sorted(SCREENS)}, got {screen!r}")
    width, height = SCREENS[screen]
    html = deck.read_text(encoding="utf-8")
    if "</body>" not in html:
        raise BrowserError(f"{deck}: not an HTML page with a body")
    probe = deck.with_name(f".{deck.stem}.measure.html")  # next to it: relative assets load
    probe.write_text(_inject(html, _MEASURE_JS), encoding="utf-8")
    try:
        done = _run(
            [
                f"--window-size={width},{height}",
                "--virtual-time-budget=60000",
                "--dump-dom",
                probe.as_uri(),
            ],
            timeout,
        )
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'<pre id="edu-gen-measure">(.*?)</pre>', done.stdout, re.S)
    if not found:
        raise BrowserError(f"{deck}: no measurements (Chromium said: {done.stderr[-500:]})")
    data = json.loads(_unescape(found.group(1)))
    if "error" in data:
        raise BrowserError(f"{deck}: {data['error']}")
    slides = [SlideSize(**row) for row in data["slides"]]
    return DeckSize(
        deck,
        int(data["width"]),
        int(data["height"]),
        data["navigates"],
        slides,
        data.get("mathjax_stalled", []),
    )


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


_PRINT_JS = r"""
<script>
(function () {
  var wait = setInterval(function () {
    if (!(window.Reveal && Reveal.isReady && Reveal.isReady())) { return; }
    clearInterval(wait);
    var mark = function () { document.documentElement.setAttribute("data-edu-gen-typeset", "1"); };
    if (window.MathJax && MathJax.Hub && MathJax.Hub.Register) {
      MathJax.Hub.Register.StartupHook("End", function () {
        MathJax.Hub.Queue(["Typeset", MathJax.Hub, document.body], mark);
      });
    } else { mark(); }
  }, 50);
})();
</script>
"""

# What the print view looks like now. reveal.js' setupPDF (4.x) is asynchronous: it waits
# for the window's load event and several animation frames, moves every slide into a
# detached ``.pdf-page`` and appends all pages at once, then fires ``pdf-ready``. A slide
# is a <section> that is not a vertical stack's parent (``.stack``, left empty once its
# children are moved into pages). While the pages are detached, no slide is in the page.
_PRINT_STATUS_JS = r"""
(function () {
  var leaves = Array.prototype.filter.call(
    document.querySelectorAll(".reveal .slides section:not(.stack)"),
    function (s) { return !s.querySelector("section"); });
  return {
    typeset: document.documentElement.getAttribute("data-edu-gen-typeset") === "1",
    print_view: document.documentElement.classList.contains("print-pdf"),
    pages: document.querySelectorAll(".reveal .slides .pdf-page").length,
    slides: leaves.length,
    wrapped: leaves.filter(function (s) {
      return s.parentElement && s.parentElement.classList.contains("pdf-page"); }).length,
    fonts: document.fonts ? document.fonts.status : "loaded",
    images: Array.prototype.every.call(document.images, function (i) { return i.complete; })
  };
})()
"""


def print_view_ready(status: dict | None) -> bool:
    """Whether reveal.js has laid out its print view: one ``.pdf-page`` per slide, every
    slide inside one, MathJax done, fonts and images loaded. ``status`` is what
    :data:`_PRINT_STATUS_JS` returns (``None`` while the page is still loading)."""
    if not status:
        return False
    slides = status.get("slides", 0)
    return bool(
        status.get("typeset")
        and status.get("print_view")
        and slides > 0
        and status.get("pages") == slides
        and status.get("wrapped") == slides
        and status.get("fonts") == "loaded"
        and status.get("images")
    )


def print_pdf(deck: Path, pdf: Path | None = None, *, timeout: int = 180) -> Path:
    """Print ``deck``'s reveal.js print view (``?print-pdf``) to ``pdf`` (default: next to
    the deck, ``.pdf``), one page per slide.

    The deck is opened in headless Chromium driven over the DevTools pipe
    (:mod:`~edu_gen.course.slides.cdp`), which polls it in real time until
    :func:`print_view_ready` — every slide wrapped in its own ``.pdf-page`` and typeset —
    and only then prints it. (``--dump-dom`` with ``--virtual-time-budget`` used to save
    the view instead: virtual time is fast-forwarded to the end of the budget whenever no
    timer is pending, so under load the DOM was sometimes saved while reveal.js was still
    waiting for a frame or the load event, and printed as one page.)
    """
    from edu_gen.course.slides.cdp import Chromium, DevToolsError

    deck = Path(deck).resolve()
    pdf = (Path(pdf) if pdf is not None else deck.with_suffix(".pdf")).resolve()
    html = deck.read_text(encoding="utf-8")
    if "</body>" not in html:
        raise BrowserError(f"{deck}: not an HTML page with a body")
    probe = deck.with_name(f".{deck.stem}.print-probe.html")  # next to it: assets resolve
    probe.write_text(_inject(html, _PRINT_JS), encoding="utf-8")
    pdf.unlink(missing_ok=True)
    try:
        with Chromium(chromium(), ["--window-size=1280,720"], timeout=timeout + 30) as browser:
            page = browser.open(probe.as_uri() + "?print-pdf")
            try:
                page.wait_for(_PRINT_STATUS_JS, print_view_ready, timeout=timeout)
            except DevToolsError as error:
                raise BrowserError(
                    f"{deck}: the print view did not finish laying out ({error})"
                ) from error
            page.print_pdf(pdf)
    except DevToolsError as error:
        raise BrowserError(f"{deck}: {error}") from error
    finally:
        probe.unlink(missing_ok=True)
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise BrowserError(f"{deck}: Chromium wrote no PDF")
    return pdf


def pdf_pages(pdf: Path) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        return len(document)
    finally:
        document.close()


def contact_sheet(
    pdf: Path, png: Path | None = None, *, columns: int = 6, thumb: int = 320
) -> Path:
    """One PNG with every page of ``pdf`` as a ``thumb``-pixel-wide thumbnail, numbered."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = Path(pdf)
    png = Path(png) if png is not None else pdf.with_suffix(".contact.png")
    document = pdfium.PdfDocument(str(pdf))
    try:
        pages = []
        for page in document:
            scale = thumb / page.get_width()
            pages.append(page.render(scale=scale).to_pil().convert("RGB"))
    finally:
        document.close()
    if not pages:
        raise BrowserError(f"{pdf}: no pages")
    cell_w = thumb + 8
    cell_h = max(p.height for p in pages) + 24
    rows = math.ceil(len(pages) / columns)
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), "#d0d0d0")
    draw = ImageDraw.Draw(sheet)
    for index, page in enumerate(pages):
        x, y = (index % columns) * cell_w + 4, (index // columns) * cell_h + 20
        sheet.paste(page, (x, y))
        draw.text((x, y - 16), f"{index + 1}", fill="black")
    sheet.save(png)
    return png
