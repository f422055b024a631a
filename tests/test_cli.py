"""The `edu-gen` command line: build --check and the run summary."""

from __future__ import annotations

from pathlib import Path

import nbformat

from edu_gen.course import cli

ROOT = Path(__file__).resolve().parents[1]


def test_build_check_passes_on_the_repository(capsys):
    assert cli.main(["build", "--check", "--root", str(ROOT)]) == 0
    assert "in sync" in capsys.readouterr().out


def test_build_check_fails_when_a_lesson_changed(tmp_path, capsys):
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "00_x.py").write_text("# %%\nprint(1)\n")
    assert cli.main(["build", "--check", "--root", str(tmp_path)]) == 1
    assert cli.main(["build", "--root", str(tmp_path)]) == 0
    assert cli.main(["build", "--check", "--root", str(tmp_path)]) == 0


def test_run_counts_claims_and_errors(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    source = (
        "from edu_gen.course.claims import claim\n"
        "claim('true one', True)\n"
        "claim('false one', False)\n"
        "claim('another true', 1 + 1 == 2)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbformat.write(nb, tmp_path / "notebooks" / "00_demo.ipynb")
    code = cli.main(["run", "--fast", "--root", str(tmp_path), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    assert "claims  2 passed  1 failed" in out
    assert (tmp_path / "out" / "00_demo.ipynb").exists()


def test_slides_for_every_lesson_drop_setup_cells(tmp_path):
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert cli.main(["slides", "--out", str(tmp_path), *map(str, notebooks)]) == 0
    decks = sorted(tmp_path.glob("*.slides.html"))
    assert [d.name.removesuffix(".slides.html") for d in decks] == [p.stem for p in notebooks]
    for deck in decks:
        html = deck.read_text(encoding="utf-8")
        assert "google.colab" not in html, f"{deck.name}: the setup cell leaked into the slides"
        assert 'class="reveal' in html


def test_run_selects_chapter_parts(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    for name in ("09_a", "10a_b", "10b_c"):
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")

    def ran(*chapters: str) -> set[str]:
        out_dir = tmp_path / f"out_{'_'.join(chapters)}"
        argv = ["run", "--fast", "--root", str(tmp_path), "--out", str(out_dir), *chapters]
        assert cli.main(argv) == 0
        capsys.readouterr()
        return {p.stem for p in out_dir.glob("*.ipynb")}

    assert ran("10") == {"10a_b", "10b_c"}
    assert ran("10b") == {"10b_c"}
    assert ran("09", "10a") == {"09_a", "10a_b"}
