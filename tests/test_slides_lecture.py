"""A lesson arranged as a lecture: code hidden (in the notes), outputs kept, long cells
split, slides paginated to fit, "figures missing" said when the deck was not executed."""

from __future__ import annotations

import base64
import struct
import zlib

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from edu_gen.course.slides import lecture as L


def _png(width: int, height: int) -> str:
    """A real (blank) PNG of the given size, base64 as in a notebook output."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"".join(b"\x00" + b"\xff" * width for _ in range(height)))
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    text = base64.b64encode(raw).decode()
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))  # wrapped, as saved


def _figure(width: int = 600, height: int = 400) -> dict:
    return new_output(
        "display_data", data={"image/png": _png(width, height), "text/plain": "<Fig>"}
    )


def _kinds(nb) -> list[str]:
    return [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in nb.cells]


def _shown(nb) -> list:
    return [c for c in nb.cells if L._slide_type(c) not in ("notes", "skip")]


def _slides(nb) -> list[float]:
    """Estimated height of every (sub)slide after pagination."""
    heights: list[float] = []
    for cell in _shown(nb):
        if L._slide_type(cell) in ("slide", "subslide") or not heights:
            heights.append(0.0)
        heights[-1] += L.estimate_height(cell)
    return heights


def test_png_size_is_read_from_a_wrapped_base64_header():
    assert L._png_size(_png(459, 284)) == (459, 284)
    assert L._png_size(base64.b64encode(b"GIF89a" + b"\0" * 40).decode()) is None


def test_code_is_hidden_and_kept_in_the_notes_unless_asked_for():
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("x = 1  # bookkeeping"),
            new_code_cell("plot()", outputs=[_figure()]),
            new_code_cell("shown()", metadata={"tags": ["show_code"]}, outputs=[_figure()]),
            new_code_cell("setup()", metadata={"tags": ["setup"]}),
            new_markdown_cell("said, not shown", metadata={"tags": ["notes"]}),
        ]
    )
    out = L.lecture(nb)
    notes = [c.source for c in out.cells if L._slide_type(c) == "notes"]
    assert any("x = 1" in n for n in notes) and any("plot()" in n for n in notes)
    assert "said, not shown" in notes and not any("setup()" in c.source for c in out.cells)
    code = [c for c in out.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ["plot()", "shown()"]  # x = 1 shows nothing: skipped
    assert "remove_input" in code[0].metadata["tags"]
    assert "remove_input" not in code[1].metadata["tags"]
    everything = L.lecture(nb, code=True)
    assert [c.source for c in everything.cells if c.cell_type == "code"] == [
        "x = 1  # bookkeeping",
        "plot()",
        "shown()",
    ]
    assert nb.cells[2].metadata == {}  # the input notebook is not changed


def test_outputs_lose_progress_bars_reprs_and_long_tails():
    lines = "".join(f"row {i}\n" for i in range(40))
    nb = new_notebook(
        cells=[
            new_code_cell(
                "run()",
                outputs=[
                    new_output("stream", name="stderr", text="100%|████| 50/50\n"),
                    new_output("stream", name="stdout", text=lines),
                    new_output("execute_result", data={"text/plain": "True"}, execution_count=1),
                ],
            )
        ]
    )
    (cell,) = [c for c in L.lecture(nb).cells if c.cell_type == "code"]
    assert [o.output_type for o in cell.outputs] == ["stream"]
    text = cell.outputs[0].text
    assert "row 0" in text and "row 13" in text and "row 14" not in text
    assert "(26 more lines)" in text


def test_a_long_derivation_becomes_sub_slides_never_cut_inside_an_equation():
    paragraphs = [f"Paragraph {i}: " + "words " * 60 for i in range(8)]
    equation = "$$\na = b\n\n+ c\n$$"  # a blank line inside the display block
    source = "## Derivation\n\n" + "\n\n".join(paragraphs[:4] + [equation] + paragraphs[4:])
    out = L.lecture(new_notebook(cells=[new_markdown_cell(source)]))
    pieces = [
        c.source for c in out.cells if c.cell_type == "markdown" and "--execute" not in c.source
    ]
    assert len(pieces) > 1 and "\n\n".join(pieces) == source
    assert sum(p.count("$$") for p in pieces) == 2 and any(equation in p for p in pieces)
    assert _kinds(out)[1:].count("subslide") >= 1
    assert all(h <= L.BUDGET for h in _slides(out))


def test_figures_start_new_sub_slides_when_they_would_not_fit():
    cells = [new_markdown_cell("## Figures", metadata={"slideshow": {"slide_type": "slide"}})]
    cells += [new_code_cell(f"fig{i}()", outputs=[_figure(640, 480)]) for i in range(4)]
    cells.append(new_code_cell("many()", outputs=[_figure(640, 480) for _ in range(3)]))
    out = L.lecture(new_notebook(cells=cells))
    assert all(h <= L.BUDGET for h in _slides(out)), _slides(out)
    many = [c for c in out.cells if c.get("id", "").startswith(cells[-1].id)]
    assert len(many) == 3 and all(len(c.outputs) == 1 for c in many)


def test_a_lead_in_line_moves_with_what_it_introduces():
    cells = [
        new_markdown_cell("## Section", metadata={"slideshow": {"slide_type": "slide"}}),
        new_code_cell("a()", outputs=[_figure(640, 500)]),
        new_markdown_cell("**Check your understanding.**"),
        new_code_cell("quiz()", outputs=[_figure(640, 400)]),
    ]
    out = L.lecture(new_notebook(cells=cells))
    lead = next(c for c in out.cells if "Check your understanding" in c.source)
    assert L._slide_type(lead) == "subslide"
    question = next(c for c in out.cells if c.cell_type == "code" and c.source == "quiz()")
    assert L._slide_type(question) == "-"


def test_source_notes_go_to_the_speaker_notes():
    text = (
        "Some prose.\n\n> **Notes on the source (eq. 1).** The notes write it\n> differently."
        "\n\nMore prose."
    )
    out = L.lecture(new_notebook(cells=[new_markdown_cell(text)]))
    shown = "\n".join(c.source for c in _shown(out))
    notes = "\n".join(c.source for c in out.cells if L._slide_type(c) == "notes")
    assert "Notes on the source" in notes and "differently" in notes
    assert "Notes on the source" not in shown and "Some prose." in shown and "More prose." in shown


def test_unexecuted_deck_says_its_figures_are_missing():
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("plot()")])
    assert "edu-gen slides --execute" in L.lecture(nb).cells[1].source
    ran = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("p()", outputs=[_figure()])])
    assert not any("--execute" in c.source for c in L.lecture(ran).cells)
