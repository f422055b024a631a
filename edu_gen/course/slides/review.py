"""What an author runs before teaching from a deck: ``edu-gen slides --check --pdf --sheet``.

:func:`review` measures a built deck in the browser at 1280×720 and 1920×1080 and returns
one line per problem — a slide taller or wider than the screen (naming the lesson's cell
it shows, so the author knows what to shorten), untypeset TeX, an image that did not load
— and :func:`handout` prints the PDF handout and, optionally, its contact sheet.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from edu_gen.course.slides.browser import SCREENS, contact_sheet, measure, pdf_pages, print_pdf


def _cell_text(notebook: Path | None, cell_id: str) -> str:
    """The first line of the notebook cell that a slide element came from."""
    if notebook is None or not Path(notebook).exists():
        return ""
    base = cell_id.split("-")[0]
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.get("id") == base:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            return first[:70]
    return ""


def review(deck: Path, notebook: Path | None = None) -> list[str]:
    """Problems of ``deck`` as the browser shows it; empty when every slide fits."""
    problems: list[str] = []
    for screen in SCREENS:
        size = measure(deck, screen)
        if not size.navigates:
            problems.append(f"{deck.name}: the arrow keys do not move to the next slide")
        for slide in size.slides:
            where = f"{deck.name} {slide.label} ({screen})"
            if not slide.fits(size.width, size.height):
                cell = slide.cells[-1] if slide.cells else "?"
                text = _cell_text(notebook, cell)
                problems.append(
                    f"{where}: {slide.width}×{slide.height} px on a {size.width}×{size.height} "
                    f"slide; shorten or split cell {cell}" + (f" («{text}»)" if text else "")
                )
            if slide.raw_tex:
                problems.append(f"{where}: TeX left untypeset ({slide.raw_tex} formulas)")
            if any(not image["loaded"] for image in slide.images):
                problems.append(f"{where}: an image did not load")
        if problems:
            break  # the 1080p layout is the same slide scaled: report the first screen only
    return problems


def handout(deck: Path, *, sheet: bool = False) -> list[Path]:
    """The PDF handout of ``deck`` (one page per slide, checked) and its contact sheet."""
    pdf = print_pdf(deck)
    slides = len(measure(deck).slides)
    pages = pdf_pages(pdf)
    if pages != slides:
        raise RuntimeError(f"{pdf}: {pages} pages for {slides} slides")
    return [pdf, contact_sheet(pdf)] if sheet else [pdf]
