"""The `edu-gen` command line: build --check, the run summary and progress, its errors.

Every message a user sees for a mistake is checked here: unknown chapters (listing the
valid ones, exit 2), bad numbers (naming the argument), missing folders (one line, no
traceback); and what `run` prints while and after a chapter runs.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
import pytest

from edu_gen.course import chapters, cli

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


def test_run_counts_claims_and_errors(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(chapters, "PROGRESS_EVERY_S", 0.0)  # a progress line per cell
    (tmp_path / "notebooks").mkdir()
    source = (
        "from edu_gen.course.claims import claim\n"
        "claim('true one', True)\n"
        "claim('false one', False)\n"
        "claim('another true', 1 + 1 == 2)"
    )
    cells = [source, "", "1 / 0", "raise KeyError('second')"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, tmp_path / "notebooks" / "00_demo.ipynb")
    code = cli.main(["run", "--fast", "--root", str(tmp_path), "--out", str(tmp_path / "out")])
    out, err = capfd.readouterr()  # fd level: the kernel's own stderr too
    assert code == 1
    assert "claims  2 passed  1 failed" in out
    assert "failed claim: false one" in out and "true one" not in out.split("FAIL")[1]
    assert "first error: ZeroDivisionError: division by zero (2 errors in all)" in out
    assert (tmp_path / "out" / "00_demo.ipynb").exists()
    # progress: the three non-empty code cells, with the time elapsed
    assert re.findall(r"00_demo +cell (\d)/3 +\d+\.\d s", err) == ["1", "2", "3"]
    assert "IPKernelApp" not in out + err and "without encryption" not in out + err


CHAPTER_FILES = ("00_a", "01_b", "10a_c", "10b_d")


@pytest.fixture
def course(tmp_path):
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    for name in CHAPTER_FILES:
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    return tmp_path


@pytest.mark.parametrize(
    ("chapters", "unknown"),
    [(["11"], "11"), (["1"], "1 (did you mean 01?)"), (["ddpm"], "ddpm"), (["10c"], "10c"),
     (["01", "99"], "99"), (["x", "01", "x", "y"], "x, y")],
)  # fmt: skip
def test_unknown_chapter_is_an_error_listing_the_valid_ones(course, capsys, chapters, unknown):
    out_dir = course / "out"
    assert cli.main(["run", "--root", str(course), "--out", str(out_dir), *chapters]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"edu-gen run: unknown chapter(s) {unknown}; expected one of 00 01 10 10a 10b"
    )
    assert captured.out == "" and not out_dir.exists()  # nothing ran


def test_every_argument_of_every_subcommand_has_help():
    from edu_gen.course.slides.deck import parser as slides_parser

    (subparsers,) = [a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    commands = {**subparsers.choices, "slides": slides_parser()}
    assert set(commands) == {"build", "run", "slides", "grade"}
    missing = [
        f"{name} {action.dest}"
        for name, sub in commands.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()
    ]
    assert missing == []
    assert all(choice.help for choice in subparsers._choices_actions)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "{tmp}/gone"], "edu-gen grade: submissions: {tmp}/gone is not a folder or"),
        (["build", "--check", "--root", "{tmp}"], "edu-gen build: no lessons/NN_slug.py files"),
        (["build", "--root", "{tmp}"], "edu-gen build: no lessons/NN_slug.py files under {tmp}"),
        (["run", "--root", "{tmp}"], "edu-gen run: no chapter notebooks in {tmp}/notebooks"),
        (["grade", "{tmp}"], "edu-gen grade: submissions: no .ipynb files under {tmp}"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message.format(tmp=tmp_path)) and err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", ".", "-j", "0"], "argument -j/--jobs: expected a positive integer, got '0'"),
        (["grade", ".", "--timeout", "x"], "argument --timeout: expected a positive number"),
        (["grade", ".", "--cell-timeout", "-1"], "argument --cell-timeout: expected a positive"),
        (["run", "--timeout", "0"], "argument --timeout: expected a positive number, got '0'"),
    ],
)
def test_bad_numbers_name_the_argument(capsys, argv, message):
    assert cli.main(argv) == 2  # the usage error is printed; main returns, it does not exit
    assert message in capsys.readouterr().err


def test_os_errors_of_a_command_are_one_line(tmp_path, capsys, monkeypatch):
    def denied(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "grades.csv"))

    monkeypatch.setattr(cli, "_cmd_build", denied)
    assert cli.main(["build"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edu-gen build: [Errno 13] Permission denied") and "Traceback" not in err


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


BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass"


def test_run_reports_the_kernels_cpu_time_and_the_load(tmp_path, capsys):
    """CPU time burnt in the kernel and in a subprocess it waits for is reported per chapter.

    The kernel burns 0.5 s of CPU itself and 0.5 s in a child; the parent (this process)
    only waits, so measuring the wrong process would report far less than 1 s. One thread
    burns at a time, so the CPU time cannot exceed the wall time (plus rounding).
    """
    (tmp_path / "notebooks").mkdir()
    child = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.5)!r}], check=True)"
    )
    cells = [BURN.format(s=0.5), child]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, tmp_path / "notebooks" / "00_burn.ipynb")
    argv = ["run", "--fast", "--root", str(tmp_path), "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "00_burn" in x)
    found = re.search(r"(\d+\.\d) s wall +(\d+\.\d) s CPU  load (\d+\.\d\d)→(\d+\.\d\d)  ok", line)
    assert found, line
    wall, cpu = float(found[1]), float(found[2])
    assert 0.9 <= cpu <= wall + 0.2, line
    assert re.search(r"load \d+\.\d\d on \d+ CPU core", out.splitlines()[0]), out
    assert re.search(r"total +\d+\.\d s wall +\d+\.\d s CPU \(FAST mode, load \d", out), out


def test_run_notebook_measures_the_kernel_not_this_process(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(BURN.format(s=0.6))])
    nbformat.write(nb, tmp_path / "00_burn.ipynb")
    result = chapters.run_notebook(tmp_path / "00_burn.ipynb", tmp_path / "out", fast=True,
                                   timeout=60)  # fmt: skip
    assert result.cpu_seconds is not None and 0.5 <= result.cpu_seconds <= result.seconds + 0.2
    assert result.load is not None and all(x >= 0 for x in result.load)


def test_run_executes_headless_notebooks_statically(tmp_path, monkeypatch):
    """A run saves outputs nobody can click: quizzes must print their folded answers, not
    widgets (in full mode too, where FAST would otherwise not make them static)."""
    from edu_gen.course import chapters, execute

    seen = {}

    def spy(nb, cwd, *, env, **kwargs):
        seen.update(env)
        return nb

    monkeypatch.setattr(execute, "execute", spy)
    nb = tmp_path / "99_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), nb)
    chapters.run_notebook(nb, tmp_path / "out", fast=False, timeout=10)
    assert seen["EDU_GEN_STATIC"] == "1" and seen["EDU_GEN_FAST"] == "0"
