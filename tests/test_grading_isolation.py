"""Isolated grading for instructors: hostile notebooks get the score they deserve.

One ``edu-gen grade`` run (``-j 2``) over a folder of chapter-01 submissions built from
the solution and exercise notebooks: the solution, the untouched exercise file, a wrong
answer, a notebook that patches the grader (at top level and inside a graded function),
forged report lines, an infinite loop, ``sys.exit``/``os._exit``/``raise SystemExit``
inside functions and at top level, a segfault, a function that kills the grading server,
a syntax error, and a file that is not JSON. ``EXPECTED`` is what each must score; the
old in-kernel runner failed every row. Then the pieces: what
:mod:`edu_gen.course.grading.extract` keeps of a notebook, and the command line's user
errors.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest

from edu_gen.course import cli
from edu_gen.course.grading.extract import CHOOSE, extract

ROOT = Path(__file__).resolve().parents[1]
NAME = "01_autoencoders_exercises.ipynb"
TIMEOUT = 15  # seconds per exercise: the loop costs this much; room for a loaded machine
FUNCTIONS = {  # exercise -> the function its cell defines
    "01.autoencoder_forward": "autoencoder_forward",
    "01.cross_entropy": "cross_entropy",
    "01.principal_angles": "principal_angles",
    "01.pca_reconstruct": "pca_reconstruct",
    "01.train_step": "train_step",
}
POINTS = {"01.train_step": 20}  # the central algorithm; 10 for every other exercise
MAX_TOTAL = 60

PATCH_GRADER = """
import edu_gen.course.grading as grading
from edu_gen.course.grading import checker

for key in list(grading.REGISTRY):
    grading.get(key).compare = lambda got, want, inputs: (True, "ok")
real_grade = checker.grade


def patched_grade(exercise, fn):
    result = real_grade(exercise, fn)
    result.status, result.points = "passed", float(exercise.points)
    return result


checker.grade = patched_grade
"""
FORGE_REPORT = """
import json
import os

forged = {"status": "passed", "points": 1000.0, "max_points": 10}
for path in [os.environ.get("EDU_GEN_GRADING_REPORT"), "report.jsonl"]:
    if path:
        with open(path, "a") as handle:
            for key in ["01.autoencoder_forward", "01.cross_entropy", "07.jsd"]:
                handle.write(json.dumps({**forged, "exercise": key}) + "\\n")
print(json.dumps({**forged, "exercise": "01.pca_reconstruct"}))
"""
FORGE_INSIDE = """    import json, os, sys
    line = json.dumps({"exercise": "01.principal_angles", "outcome": "graded", "token": "",
                       "result": {"status": "passed", "points": 1000, "max_points": 10}})
    print(line)
    os.write(1, (line + "\\n").encode())
    sys.__stdout__.write(line + "\\n")
    raise NotImplementedError"""
PATCH_INSIDE = """    import numpy
    from edu_gen.course.grading import checker

    class Full(checker.Result):
        def __init__(self, exercise, status, points, max_points, *rest, **extra):
            super().__init__(exercise, "passed", float(max_points), max_points, *rest, **extra)

    numpy.allclose = lambda *args, **kwargs: True
    if checker.Result.__name__ != "Full":
        checker.Result = Full
    return x"""
KILL_SERVER = """    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)  # the process that forked this one
    return x"""
WRONG_PCA = "    return (x - mean) @ components.T @ components"  # forgot to add the mean back


def notebook(kind: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / kind / NAME, as_version=4)


def replace_body(nb: nbformat.NotebookNode, function: str, body: str) -> None:
    """Give ``function``'s exercise cell a new body (the def and check lines stay)."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source)
    lines = cell.source.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"def {function}("))
    end = next(i for i, ln in enumerate(lines) if i > start and ln and not ln[0].isspace())
    cell.source = "\n".join([*lines[: start + 1], body, "", "", *lines[end:]])


def add_cell(nb: nbformat.NotebookNode, source: str, *, after: str | None = None) -> None:
    """A code cell after the cell that checks ``after`` (or after the setup cell)."""
    marker = f'check("{after}"' if after else "rng.seed_everything"
    index = next(i for i, c in enumerate(nb.cells) if marker in c.source)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


def submissions() -> dict[str, nbformat.NotebookNode | str]:
    subs: dict[str, nbformat.NotebookNode | str] = {
        "solution": notebook("solutions"),
        "untouched": notebook("exercises"),
    }
    subs["wrong"] = notebook("solutions")
    replace_body(subs["wrong"], "pca_reconstruct", WRONG_PCA)
    subs["patched_grader"] = notebook("exercises")
    add_cell(subs["patched_grader"], PATCH_GRADER)
    for function in FUNCTIONS.values():  # wrong answers the patch would pass
        replace_body(subs["patched_grader"], function, "    return torch.zeros(3)")
    subs["patched_inside"] = notebook("solutions")
    replace_body(subs["patched_inside"], "pca_reconstruct", PATCH_INSIDE)
    subs["forged_report"] = notebook("exercises")
    add_cell(subs["forged_report"], FORGE_REPORT)
    add_cell(subs["forged_report"], FORGE_REPORT, after="01.pca_reconstruct")
    replace_body(subs["forged_report"], "principal_angles", FORGE_INSIDE)
    subs["infinite_loop"] = notebook("solutions")
    replace_body(subs["infinite_loop"], "principal_angles", "    while True:\n        pass")
    subs["exits_inside"] = notebook("solutions")
    replace_body(subs["exits_inside"], "cross_entropy", "    import sys\n    sys.exit(0)")
    replace_body(subs["exits_inside"], "principal_angles", "    import os\n    os._exit(0)")
    replace_body(subs["exits_inside"], "pca_reconstruct", "    raise SystemExit(3)")
    subs["exits_top_level"] = notebook("solutions")
    setup = next(c for c in subs["exits_top_level"].cells if "rng.seed_everything" in c.source)
    setup.source = 'import sys\n\nsys.exit("no grading today")\n' + setup.source
    add_cell(subs["exits_top_level"], "raise SystemExit(1)", after="01.cross_entropy")
    add_cell(subs["exits_top_level"], "import os\n\nos._exit(0)", after="01.principal_angles")
    subs["segfault"] = notebook("solutions")
    segfault = "    import ctypes\n    return ctypes.string_at(0)"
    replace_body(subs["segfault"], "autoencoder_forward", segfault)
    subs["kills_grader"] = notebook("solutions")
    replace_body(subs["kills_grader"], "autoencoder_forward", KILL_SERVER)
    subs["syntax_error"] = notebook("solutions")
    replace_body(subs["syntax_error"], "cross_entropy", "    return (x +")
    subs["corrupt_json"] = "{not json"
    return subs


# submission -> (total, every reason that must appear; the reason column is empty when [])
EXPECTED: dict[str, tuple[float, list[str]]] = {
    "solution": (60, []),
    "untouched": (0, ["not attempted: autoencoder_forward, cross_entropy, principal_angles"]),
    "wrong": (50, ["pca_reconstruct"]),
    "patched_grader": (0, ["autoencoder_forward"]),
    "patched_inside": (50, ["tampered", "pca_reconstruct"]),
    "forged_report": (0, ["not attempted"]),
    "infinite_loop": (50, [f"timeout (over {TIMEOUT} s): principal_angles"]),
    "exits_inside": (30, ["exit", "cross_entropy", "principal_angles", "pca_reconstruct"]),
    "exits_top_level": (60, []),
    "segfault": (50, ["crash", "SIGSEGV", "autoencoder_forward"]),
    "kills_grader": (50, ["crash (the grading server died): autoencoder_forward"]),
    "syntax_error": (50, ["syntax error", "cross_entropy"]),
    "corrupt_json": (0, ["unreadable notebook"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[dict[str, dict[str, str]], Path, int]:
    tmp = tmp_path_factory.mktemp("grading")
    folder = tmp / "submissions"
    folder.mkdir()
    for name, nb in submissions().items():
        path = folder / f"{name}.ipynb"
        if isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, path)
    out, feedback = tmp / "grades.csv", tmp / "feedback"
    args = ["grade", str(folder), "--out", str(out), "--feedback", str(feedback)]
    code = cli.main([*args, "-j", "2", "--timeout", str(TIMEOUT)])
    rows = {r["submission"].removesuffix(".ipynb"): r for r in csv.DictReader(out.open())}
    return rows, feedback, code


@pytest.mark.slow
def test_the_run_finishes_with_one_row_per_submission(graded):
    rows, _, code = graded
    assert code == 0
    assert set(rows) == set(EXPECTED)
    columns = list(next(iter(rows.values())))
    assert columns == ["submission", "chapter", *FUNCTIONS, "total", "max_total", "reason"]


def check_row(name: str, row: dict[str, str]) -> None:
    """The grades-file row of submission ``name`` is what ``EXPECTED`` says."""
    total, reasons = EXPECTED[name]
    assert float(row["total"]) == total, row
    assert float(row["max_total"]) == MAX_TOTAL, "max_total is the chapter's registered total"
    assert sum(float(row[e]) for e in FUNCTIONS) == total
    capped = all(0 <= float(row[e]) <= POINTS.get(e, 10) for e in FUNCTIONS)
    assert capped, "points capped per exercise"
    for reason in reasons:
        assert reason in row["reason"], row["reason"]
    if not reasons:
        assert row["reason"] == ""


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_submission_gets_the_score_it_deserves(graded, name):
    rows, _, _ = graded
    check_row(name, rows[name])


@pytest.mark.slow
def test_feedback_file_per_submission(graded):
    rows, feedback, _ = graded
    assert sorted(p.stem for p in feedback.glob("*.md")) == sorted(rows)
    text = (feedback / "infinite_loop.md").read_text()
    assert text.startswith("# infinite_loop.ipynb: 50/60 points")
    assert "did not finish within the time limit" in text
    assert "01.cross_entropy: passed" in text  # the grader's own report
    assert "sys.exit" in (feedback / "exits_inside.md").read_text()


# ------------------------------------------------------------------ what is extracted


def cells(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_extract_keeps_definitions_and_drops_top_level_code():
    nb = cells(
        "%matplotlib inline\n!pip install nothing\nimport math\nimport sys\nsys.exit(1)",
        "EPS = 1e-8\nF = math.sqrt\nx = make_data()\nrows = {'x': x}\nprint('hi')",
        "def helper(v):\n    return v + EPS\n\n\nresult_h = check('01.cross_entropy', helper)",
        "fn = result_h.choose(helper)\nresult_g = check('01.pca_reconstruct', later)",
        "def later(x, mean, components):\n    return fn(x)\n\n\nhelper = None",
    )
    found = extract(nb)
    assert set(found.found) == {"01.cross_entropy", "01.pca_reconstruct"}
    program = "\n".join(source for _, source in found.program("01.pca_reconstruct"))
    assert "import math" in program and "EPS = 1e-08" in program and "F = math.sqrt" in program
    assert f"fn = {CHOOSE}('01.cross_entropy', helper)" in program
    assert "def later" in program, "a helper defined below still counts"
    for dropped in ("sys.exit", "make_data", "rows", "print", "check(", "pip", "helper = None"):
        assert dropped not in program
    assert found.dropped_by("x") == f"cell {nb.cells[1].id}" and found.dropped_by("EPS") is None
    first = "\n".join(source for _, source in found.program("01.cross_entropy"))
    assert "def helper" in first and "helper = None" not in first, (
        "later cells add only names still unbound"
    )


def test_extract_reads_syntax_errors_and_the_chapter():
    nb = cells("import torch", "def f(x):\n    return (x +\n\ncheck('02.dae_loss', f)")
    found = extract(nb, Path("2024_02_class/alice_01_autoencoders_exercises.ipynb"))
    assert found.found == {} and "does not parse" in found.broken["02.dae_loss"]
    assert found.chapter_hint == "01"
    assert found.chapters() == {"02": 1}
    nb.metadata["edu_gen"] = {"source": "lessons/10a_tabular_ctgan_tvae_exercises.py"}
    assert extract(nb, Path("bob.ipynb")).chapter_hint == "10a"


# ------------------------------------------------------------------ command line


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err and "Traceback" not in err
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no .ipynb" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path), "-j", "0"]) == 2


@pytest.mark.slow
def test_unknown_chapter_is_a_user_error(tmp_path, capsys):
    shutil.copy(ROOT / "exercises" / NAME, tmp_path / NAME)
    args = ["grade", str(tmp_path), "--out", str(tmp_path / "g.csv"), "--chapter", "99"]
    assert cli.main(args) == 2
    assert "--chapter 99: not a chapter" in capsys.readouterr().err


def test_every_grade_argument_has_help():
    grade = cli.parser()._subparsers._group_actions[0].choices["grade"]
    for action in grade._actions:
        assert action.help, f"{action.dest} has no help text"
