"""Grading throughput: isolated grading (``edu-gen grade``) vs the old in-kernel grading.

A class of ``--n`` submissions of one chapter's exercise notebook (default 100): half the
solution, half a wrong answer (every exercise's first ``return`` negated). Timed, in the
same run:

* isolated grading, ``grade_folder(..., jobs=1)`` and ``jobs=2``: grading servers start
  (imports and warm-up included), every exercise in its own forked child;
* the old in-kernel grading: the runner of commit ``--old-ref`` (before isolation), read
  from git at run time into a temporary module, which executes each notebook top to bottom
  in a fresh kernel and trusts the report lines ``check`` writes. It is sequential and
  slow, so it runs on ``--old-n`` notebooks and is extrapolated to ``--n`` (said so);
* isolated grading that also executes each notebook for the learner (``--execute``),
  ``jobs=1`` on the same ``--old-n`` notebooks: the old work plus the isolation, so the
  isolation's own overhead shows against the old runner.

Reported: median seconds over ``--repeats`` (isolated) — the old runner and ``--execute``
once unless ``--old-repeats`` — notebooks per minute, the time a class of 100 would take,
and each row's time per notebook as a ratio to the old grading's. Each grading's scores
are checked (solutions full marks, wrong answers fewer). Timings on a shared machine are
noisy.

    .venv/bin/python benchmarks/bench_grading.py --chapters 01 10b --n 100 --repeats 2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OLD_REF = "a43e29a"
"""The last commit whose runner graded inside the student's kernel."""


def wrong_answer(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every exercise's first ``return`` negated (a tuple result then raises)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type != "code" or "check(" not in cell.source:
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("return "):
                indent = line[: len(line) - len(line.lstrip())]
                lines[i] = f"{indent}return -({line.strip()[len('return ') :]})"
                break
        cell.source = "\n".join(lines)
    return nb


def make_class(chapter: str, n: int, folder: Path) -> None:
    path = next((ROOT / "solutions").glob(f"{chapter}_*_exercises.ipynb"))
    solution = nbformat.read(path, as_version=4)
    wrong = wrong_answer(solution)
    folder.mkdir(parents=True)
    for k in range(n):
        name = f"student{k:03d}_{'solved' if k % 2 == 0 else 'wrong'}.ipynb"
        nbformat.write(solution if k % 2 == 0 else wrong, folder / name)


def old_runner(ref: str, where: Path):
    """The runner module of ``ref``, loaded from git into a temporary module."""
    source = subprocess.run(
        ["git", "show", f"{ref}:edu_gen/course/grading/runner.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = where / "old_runner.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_runner", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_runner"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def check_scores(results, how: str) -> None:
    for s in results:
        total, full = s.total, sum(s.max_points.values())
        solved = "solved" in s.name
        if (solved and total != full) or (not solved and total >= full):
            print(f"  warning ({how}): {s.name} scored {total:g}/{full:g}", file=sys.stderr)


def grade_into(
    results: list, *, folder: Path, out: Path, jobs: int, timeout: float, execute: Path | None
) -> None:
    from edu_gen.course.grading.runner import grade_folder

    results[:] = grade_folder(folder, out, jobs=jobs, timeout=timeout, execute_to=execute)


def grade_old_into(results: list, *, old, folder: Path, out: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per notebook
        results[:] = old.grade_folder(folder, out, timeout=600)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chapters", nargs="+", default=["01", "10b"], help="chapters to grade")
    p.add_argument("--n", type=int, default=100, help="submissions per class (default 100)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="-j values to time")
    p.add_argument("--repeats", type=int, default=3, help="runs of isolated grading (median)")
    p.add_argument("--old-n", type=int, default=10, help="notebooks for the old grading")
    p.add_argument("--old-repeats", type=int, default=1, help="runs of the old grading")
    p.add_argument("--old-ref", default=OLD_REF, help="git commit of the old runner")
    p.add_argument("--timeout", type=float, default=60, help="seconds per exercise")
    p.add_argument(
        "--no-execute", dest="execute", action="store_false", help="skip the --execute row"
    )
    args = p.parse_args(argv)

    print("bench_grading " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"{platform.processor() or platform.machine()}, {platform.python_version()}; a shared")
    print("machine gives noisy timings (other processes compete for the same cores)\n")
    rows = []

    def measure(chapter: str, how: str, n: int, run, repeats: int) -> None:
        results: list = []
        seconds = statistics.median(timed(partial(run, results), repeats))
        check_scores(results, how)
        rows.append((chapter, how, n, seconds))
        print(f"  measured {chapter} {how}: {seconds:.1f} s for {n}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = old_runner(args.old_ref, tmp)
        for chapter in args.chapters:
            folder, small = tmp / f"class{chapter}", tmp / f"small{chapter}"
            make_class(chapter, args.n, folder)
            make_class(chapter, args.old_n, small)
            for jobs in args.jobs:
                run = partial(grade_into, folder=folder, out=tmp / "g.csv", jobs=jobs)
                run = partial(run, timeout=args.timeout, execute=None)
                measure(chapter, f"isolated -j {jobs}", args.n, run, args.repeats)
            run = partial(grade_old_into, old=old, folder=small, out=tmp / "old.csv")
            measure(chapter, "old in-kernel (-j 1)", args.old_n, run, args.old_repeats)
            if args.execute:
                run = partial(grade_into, folder=small, out=tmp / "e.csv", jobs=1)
                run = partial(run, timeout=args.timeout, execute=tmp / "executed")
                how = "isolated + --execute -j 1"
                measure(chapter, how, args.old_n, run, args.old_repeats)
            shutil.rmtree(folder)

    print(
        "| chapter | grading | notebooks timed | seconds (median) | notebooks/min "
        "| class of 100 (min) | time vs old |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for chapter, how, n, seconds in rows:
        per_min = 60 * n / seconds
        old_rate = next(60 * m / s for c, h, m, s in rows if c == chapter and h.startswith("old"))
        class_min = 100 / per_min
        note = f" (extrapolated from {n})" if n != 100 else ""
        print(
            f"| {chapter} | {how} | {n} | {seconds:.1f} | {per_min:.1f} | {class_min:.1f}{note} "
            f"| {old_rate / per_min:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
