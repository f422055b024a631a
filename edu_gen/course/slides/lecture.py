"""A lesson notebook → a lecture: what goes on which slide.

A deck shows prose, equations and what code *produces* (figures, short printed tables,
claim lines), not the code itself:

* code is hidden unless a cell is tagged ``show_code`` (or ``code=True``, the
  ``--code`` option); hidden code goes to the speaker notes, so the instructor still has
  it in reveal.js' notes view (press ``s``);
* a code cell with nothing to show (no outputs: set-up, bookkeeping, or a deck built
  without ``--execute``) is skipped; progress bars and warnings (stderr) are dropped;
  long printed output keeps its first :data:`MAX_TEXT_LINES` lines;
* cells tagged ``notes`` and the "Notes on the source" boxes (asides for readers of the
  Korean notes) become speaker notes;
* small figures are enlarged (up to :data:`FIGURE_ZOOM`, within the slide);
* **pagination**: every cell gets an estimated height on a 1280×720 slide
  (:func:`estimate_height`; prose per rendered paragraph, not per source line); a
  markdown cell taller than a slide is split at blank lines (never inside a ``$$``
  block) and, if a list is too tall, between its items — a heading always stays with
  what follows it — and a new vertical sub-slide starts wherever the next piece would
  not fit. The browser check (:mod:`edu_gen.course.slides.browser`) measures the real
  layout.

Length: one transform in a few passes (cells, outputs, splitting, pagination); the height
model and its constants belong with it.
"""

from __future__ import annotations

import base64
import copy
import re
import struct

import nbformat

SLIDE_HEIGHT = 720
BUDGET = 560
"""Estimated content height (px) that a slide may take: the slide's 720 px less margins,
the slide number and a safety margin for the estimate's error."""

LINE = 36  # one line of prose at the lecture font (26 px, line-height 1.35)
CHARS_PER_LINE = 88
HEADING = {1: 80, 2: 64, 3: 52}
EQUATION = 64  # one display equation, per line of it
TEXT_LINE = 22  # one line of printed output (monospace, 0.6 em)
IMAGE_MAX = 480  # CSS max-height of a figure on a slide
IMAGE_WIDTH = 1180  # the slide's usable width
FIGURE_ZOOM = 1.5  # the most a small figure is enlarged on a slide
ZOOM_HEIGHT = 420  # ... and no taller than this
MAX_TEXT_LINES = 14
OUTPUT_MARGIN = 60  # around each rendered output (measured: ~75 px per image strip)
KEEP_WITH_NEXT = 80  # a markdown cell this short stays on the slide of the cell after it

SHOW_CODE, NOTES = "show_code", "notes"
SOURCE_NOTE = re.compile(r"^>\s*\*\*Notes on the source", re.M)


def _slide_type(cell: nbformat.NotebookNode) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-") or "-"


def _set_type(cell: nbformat.NotebookNode, kind: str) -> None:
    cell.metadata.setdefault("slideshow", {})["slide_type"] = kind


def _png_size(data: str) -> tuple[int, int] | None:
    head = "".join(data[:100].split())[:32]
    raw = base64.b64decode(head)
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def _figure_scale(width: int, height: int) -> float:
    """How much a ``width``×``height`` figure is enlarged (> 1) or shrunk on a slide.

    A notebook figure drawn for a 700 px wide page is small on a 1280 px slide: it is
    enlarged up to :data:`FIGURE_ZOOM`, within the slide's width and no taller than
    :data:`ZOOM_HEIGHT` (so that a one-line lead-in still fits above it). A figure too
    large for the slide is shrunk to its width and to :data:`IMAGE_MAX` in height."""
    zoom = min(FIGURE_ZOOM, IMAGE_WIDTH / max(width, 1), ZOOM_HEIGHT / max(height, 1))
    if zoom > 1.0:
        return zoom
    return min(1.0, IMAGE_WIDTH / max(width, 1), IMAGE_MAX / max(height, 1))


def _image_height(width: int, height: int) -> float:
    return min(IMAGE_MAX, height * _figure_scale(width, height)) + OUTPUT_MARGIN


def _zoom_figure(output: dict) -> dict:
    """``output`` with its PNG's display width set, enlarged by :func:`_figure_scale`
    (left alone if it would shrink: the slide's CSS does that, and a width the notebook
    chose stays)."""
    size = _png_size(output["data"]["image/png"])
    metadata = output.get("metadata", {}).get("image/png", {})
    if size is None or "width" in metadata or "height" in metadata:
        return output
    scale = _figure_scale(*size)
    if scale <= 1.0:
        return output
    output = copy.deepcopy(output)
    output.setdefault("metadata", {}).setdefault("image/png", {})["width"] = int(size[0] * scale)
    return output


def estimate_height(cell: nbformat.NotebookNode) -> float:
    """Rough height (px) of a cell on a lecture slide: prose lines, headings, display
    equations and tables from the markdown; figures (by their pixel size, scaled down to
    the slide) and printed lines from a code cell's outputs."""
    if cell.cell_type == "markdown":
        return _markdown_height(cell.source)
    total = 0.0
    if SHOW_CODE in cell.metadata.get("tags", []):
        total += TEXT_LINE * 1.3 * (cell.source.count("\n") + 1) + 20
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            size = _png_size(data["image/png"])
            total += _image_height(*size) if size else IMAGE_MAX
        elif "text/html" in data:
            total += _html_height(data["text/html"])
        elif output.get("output_type") == "stream" or "text/plain" in data:
            text = output.get("text", "") or data.get("text/plain", "")
            total += TEXT_LINE * min(text.count("\n") + 1, MAX_TEXT_LINES + 1) + 12
    return total


def _html_height(html: str) -> float:
    """Rich output (a quiz, a table): each block's text wrapped at the lecture font; a
    folded ``<details>`` answer counts as its one-line summary."""
    folded = re.sub(r"<details>.*?</details>", "<p>Show the answer</p>", html, flags=re.S)
    blocks = re.split(r"<(?:p|li|tr|br|h\d|div)\b[^>]*>", folded)
    total = 0.0
    for block in blocks:
        text = re.sub(r"<[^>]+>", "", block).strip()
        if text:
            total += LINE * max(1, -(-len(text) // CHARS_PER_LINE)) + 6
    return total + 20


_BLOCK_START = re.compile(r"^(?:#{1,6}\s|[*+-]\s|\d+[.)]\s|\||>|```|<)")


def _markdown_height(source: str) -> float:
    """Prose is measured per paragraph or list item as rendered, not per source line: a
    source line soft-wrapped at ~90-100 columns continues the line before it (markdown
    joins them), so it adds characters, not a line of its own."""
    total, in_math = 0.0, False
    run = 0  # characters of the prose block (paragraph, list item) being read
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("$$") or stripped.endswith("$$"):
            run = 0
            opens = stripped.count("$$") == 1
            if opens:
                in_math = not in_math
            total += EQUATION if (opens and in_math) or not opens else 0
            continue
        if in_math:
            total += EQUATION * 0.6
            continue
        if not stripped:
            run = 0
            total += LINE * 0.4
            continue
        heading = re.match(r"^(#{1,6})\s", stripped)
        if heading:
            run = 0
            total += HEADING.get(len(heading.group(1)), 48)
        elif stripped.startswith("|"):
            run = 0
            total += 34 if "---" not in stripped else 0
        elif run and not _BLOCK_START.match(stripped):  # a soft-wrapped continuation
            total -= _prose_height(run)
            run += 1 + _visible_length(stripped)
            total += _prose_height(run)
        else:
            run = _visible_length(stripped)
            total += _prose_height(run)
    return total


_INLINE_MATH = re.compile(r"\$[^$]+\$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _visible_length(line: str) -> int:
    """Characters of ``line`` as rendered, roughly: a link shows its text, inline TeX about
    a third of its source (``\\mathrm{KL}(p\\,\\|\\,q)`` is drawn as "KL(p‖q)")."""
    line = _LINK.sub(lambda m: m.group(1), line)
    line = _INLINE_MATH.sub(lambda m: "x" * max(1, len(m.group()) // 3), line)
    return len(line)


def _prose_height(chars: int) -> float:
    return LINE * max(1, -(-chars // CHARS_PER_LINE))


_ITEM = re.compile(r"^(?:[*+-]|\d+[.)])\s")
_HEADING_LINE = re.compile(r"^#{1,6}\s")


def _is_heading(text: str) -> bool:
    return all(_HEADING_LINE.match(line.strip()) for line in text.splitlines() if line.strip())


def _units(paragraph: str, budget: float) -> list[tuple[str, str]]:
    """``paragraph`` as (text, joiner) pieces to pack: itself, or — a list too tall for
    ``budget`` — its top-level items, joined by single newlines so they stay one list."""
    lines = paragraph.splitlines()
    if _markdown_height(paragraph) <= budget or not _ITEM.match(lines[0]):
        return [(paragraph, "\n\n")]
    items: list[str] = []
    for line in lines:
        if _ITEM.match(line) or not items:
            items.append(line)
        else:
            items[-1] += "\n" + line
    return [(item, "\n\n" if i == 0 else "\n") for i, item in enumerate(items)]


def split_markdown(source: str, budget: float = BUDGET) -> list[str]:
    """``source`` cut at blank lines (outside ``$$`` blocks) into pieces that each fit
    ``budget`` where possible; a list too tall for one piece is cut between its items,
    a single paragraph taller than that stays whole. A heading never ends a piece: it
    moves on with the paragraph it introduces."""
    paragraphs: list[str] = []
    current: list[str] = []
    in_math = False
    for line in source.splitlines():
        if line.strip().count("$$") % 2 == 1:
            in_math = not in_math
        if not line.strip() and not in_math and current:
            paragraphs.append("\n".join(current))
            current = []
        elif line.strip() or current:
            current.append(line)
    if current:
        paragraphs.append("\n".join(current))
    pieces: list[list[tuple[str, str]]] = []  # each piece: its units with their joiners

    def text(units: list[tuple[str, str]]) -> str:
        return units[0][0] + "".join(joiner + unit for unit, joiner in units[1:])

    for paragraph in paragraphs:
        for unit, joiner in _units(paragraph, budget):
            last = pieces[-1] if pieces else None
            if last is not None and (
                _is_heading(text(last)) or _markdown_height(text([*last, (unit, joiner)])) <= budget
            ):
                last.append((unit, joiner))
            elif last is not None and len(last) > 1 and _is_heading(last[-1][0]):
                heading = last.pop()  # the heading goes with what it introduces
                pieces.append([heading, (unit, joiner)])
            else:
                pieces.append([(unit, joiner)])
    return [text(piece) for piece in pieces] or [source]


def _notes_cell(text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text)
    _set_type(cell, "notes")
    return cell


def _outputs_for_slides(cell: nbformat.NotebookNode) -> list:
    kept = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            if output.get("name") == "stderr":
                continue  # progress bars, warnings
            lines = output.get("text", "").splitlines()
            if len(lines) > MAX_TEXT_LINES:
                lines = [*lines[:MAX_TEXT_LINES], f"… ({len(lines) - MAX_TEXT_LINES} more lines)"]
            output = copy.deepcopy(output)
            output["text"] = "\n".join(lines) + "\n"
        elif output.get("output_type") == "error":
            continue
        elif "image/png" in output.get("data", {}):
            output = _zoom_figure(output)
        elif "application/vnd.jupyter.widget-view+json" in output.get("data", {}):
            continue  # a live widget (a progress bar): nothing to show on a slide
        elif output.get("output_type") == "execute_result" and set(output.get("data", {})) == {
            "text/plain"
        }:
            continue  # the repr of a cell's last value (True, a list of slider values, ...)
        kept.append(output)
    return kept


def _split_outputs(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """A code cell whose outputs would not fit one slide, as several cells (the later ones
    showing no code) whose outputs fit; a single output too tall stays as it is."""
    if estimate_height(cell) <= BUDGET or len(cell.outputs) < 2:
        return [cell]
    parts: list[nbformat.NotebookNode] = []
    for output in cell.outputs:
        last = parts[-1] if parts else None
        if last is not None:
            trial = copy.deepcopy(last)
            trial.outputs = [*last.outputs, output]
            if estimate_height(trial) <= BUDGET:
                last.outputs.append(output)
                continue
        part = copy.deepcopy(cell)
        part.outputs = [output]
        if parts:
            part["id"] = f"{cell.get('id', 'code')}-{len(parts)}"
            tags = part.metadata.get("tags", [])
            part.metadata["tags"] = tags if "remove_input" in tags else [*tags, "remove_input"]
            _set_type(part, "subslide")
        parts.append(part)
    return parts


def _take_source_note(source: str) -> tuple[str, str]:
    """``source`` without its "Notes on the source" blockquote, and that blockquote."""
    found = SOURCE_NOTE.search(source)
    if not found:
        return source, ""
    before, rest = source[: found.start()], source[found.start() :].splitlines()
    end = next((i for i, line in enumerate(rest) if not line.startswith(">")), len(rest))
    after = "\n".join(rest[end:])
    return (before.rstrip() + "\n\n" + after.lstrip()).strip(), "\n".join(rest[:end])


def lecture(nb: nbformat.NotebookNode, *, code: bool = False) -> nbformat.NotebookNode:
    """A copy of ``nb`` arranged as a lecture (see the module docstring)."""
    executed = any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    cells: list[nbformat.NotebookNode] = []
    for original in nb.cells:
        cell = copy.deepcopy(original)
        tags = cell.metadata.get("tags", [])
        if "setup" in tags:
            continue
        if NOTES in tags:
            cells.append(_notes_cell(cell.source))
            continue
        if cell.cell_type == "markdown":
            kind = _slide_type(cell)
            cell.source, note = _take_source_note(cell.source)
            if note:  # the "Notes on the source" box: said, not shown
                cells.append(_notes_cell(note))
            if not cell.source.strip():
                continue
            for index, piece in enumerate(split_markdown(cell.source)):
                part = nbformat.v4.new_markdown_cell(piece, metadata=copy.deepcopy(cell.metadata))
                part["id"] = f"{cell.get('id', 'md')}-{index}" if index else cell.get("id", "md")
                _set_type(part, kind if index == 0 else "-")
                cells.append(part)
            continue
        if cell.cell_type != "code":
            continue
        show = (code or SHOW_CODE in tags) and "remove_input" not in tags
        cell.outputs = [] if "remove_output" in tags else _outputs_for_slides(cell)
        if not show:
            if "remove_input" not in tags:
                cell.metadata["tags"] = [*tags, "remove_input"]
            if cell.source.strip():
                cells.append(_notes_cell(f"```python\n{cell.source}\n```"))
            if not cell.outputs:
                if _slide_type(cell) in ("slide", "subslide"):  # its slide starts later
                    cells.append(_carried_start(_slide_type(cell)))
                continue
        elif SHOW_CODE not in tags:
            cell.metadata["tags"] = [*tags, SHOW_CODE]
        cells.extend(_split_outputs(cell))
    if not executed:
        first = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), 0)
        cells.insert(first + 1, _figures_missing())
    out = copy.deepcopy(nb)
    out.cells = _paginate(_apply_carried_starts(cells))
    return out


_CARRY = "edu_gen_carried_start"


def _carried_start(kind: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell("", metadata={_CARRY: kind})
    _set_type(cell, "skip")
    return cell


def _apply_carried_starts(cells: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """A skipped cell that started a slide hands the start to the next cell shown."""
    out: list[nbformat.NotebookNode] = []
    carried: str | None = None
    for cell in cells:
        if _CARRY in cell.metadata:
            carried = "slide" if "slide" in (carried, cell.metadata[_CARRY]) else "subslide"
            continue
        kind = _slide_type(cell)
        if carried and kind not in ("notes", "skip"):
            if kind in ("-", "fragment") or (kind == "subslide" and carried == "slide"):
                _set_type(cell, carried)
            carried = None
        out.append(cell)
    return out


def _figures_missing() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        "*This deck was built without running the lesson, so it has no figures or printed "
        "results. Build it with `edu-gen slides --execute` to include them.*"
    )
    _set_type(cell, "-")
    return cell


def _paginate(cells: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Start a sub-slide wherever the next cell would push the slide past :data:`BUDGET`."""
    used = 0.0
    previous: nbformat.NotebookNode | None = None  # the last cell shown, and its height
    previous_height = 0.0
    for cell in cells:
        kind = _slide_type(cell)
        if kind in ("notes", "skip"):
            continue
        height = estimate_height(cell)
        if kind in ("slide", "subslide"):
            used = height
        elif used + height > BUDGET and used > 0:
            lead_in = (
                previous is not None
                and previous.cell_type == "markdown"
                and _slide_type(previous) == "-"
                and previous_height <= KEEP_WITH_NEXT
                and previous_height < used
                and previous_height + height <= BUDGET
            )
            if lead_in:  # a one-line lead-in ("Check your understanding.") moves along
                _set_type(previous, "subslide")
                used = previous_height + height
            else:
                _set_type(cell, "subslide")
                used = height
        else:
            used += height
        previous, previous_height = cell, height
    return cells
