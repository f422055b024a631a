"""``edu-gen`` command line: build, run, slides, grade.

* ``edu-gen build [--check]``   lessons/ → notebooks/, exercises/, solutions/
* ``edu-gen run [--fast] [NN…]`` execute chapter notebooks, print claims and times (wall
  and the kernel's CPU time per chapter, with the load average at its start and end)
* ``edu-gen slides [--offline]`` reveal.js decks under build/slides/
* ``edu-gen grade DIR --out grades.csv [-j N] [--feedback DIR]`` grade submitted exercise
  notebooks, each exercise isolated from the notebook's own code
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def _cmd_build(args: argparse.Namespace) -> int:
    from edu_gen.course.build import build

    if args.repo_url:  # a fork's address, for the Colab cell, badges and repository links
        os.environ["EDU_GEN_REPO_URL"] = args.repo_url
    try:
        changed = build(Path(args.root), check=args.check)
    except ValueError as error:
        print(f"edu-gen build: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(
            f"edu-gen build: {error}; run it in a checkout of the course or pass --root",
            file=sys.stderr,
        )
        return 2
    if args.check:
        if changed:
            print("out of date with lessons/ (run `edu-gen build`):")
            for path in changed:
                print(f"  {path}")
            return 1
        print("built notebooks are in sync with lessons/")
        return 0
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} file(s) changed")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from edu_gen.course.chapters import (
        chapter_names,
        format_times,
        load_average,
        print_result,
        run_notebook,
        select_chapters,
    )

    root = Path(args.root).resolve()
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    if not notebooks:
        print(
            f"edu-gen run: no chapter notebooks in {root / 'notebooks'}; run it in a checkout "
            "of the course (or pass --root), and `edu-gen build` if notebooks/ is empty",
            file=sys.stderr,
        )
        return 2
    if args.chapters:
        notebooks, unknown = select_chapters(notebooks, args.chapters)
        if unknown:
            valid = chapter_names(sorted((root / "notebooks").glob("*.ipynb")))
            named = [w + (f" (did you mean {w.zfill(2)}?)" if w.zfill(2) in valid else "")
                     for w in unknown]  # fmt: skip
            print(
                f"edu-gen run: unknown chapter(s) {', '.join(named)}; expected one of "
                f"{' '.join(valid)}",
                file=sys.stderr,
            )
            return 2
    mode = "FAST" if args.fast else "full"
    load = load_average()
    cores = os.cpu_count()
    on = "" if load is None else f"; load {load:.2f} on {cores} CPU core(s)"
    print(
        f"running {len(notebooks)} chapter(s) in {mode} mode; executed copies in {args.out}/{on}",
        flush=True,
    )
    results = []
    for path in notebooks:
        result = run_notebook(path, Path(args.out), fast=args.fast, timeout=args.timeout)
        print_result(result)
        results.append(result)
    total = sum(r.seconds for r in results)
    cpus = [r.cpu_seconds for r in results]
    cpu = None if None in cpus else sum(c for c in cpus if c is not None)
    n_ok = sum(r.ok for r in results)
    load = load_average()
    on = "" if load is None else f", load {load:.2f} at the end"
    print(
        f"{n_ok}/{len(results)} chapters ok, {sum(r.passed for r in results)} claims hold, "
        f"{sum(r.failed for r in results)} fail; total {format_times(total, cpu).strip()} "
        f"({mode} mode{on})"
    )
    return 0 if n_ok == len(results) else 1


def _cmd_grade(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edu_gen.course.grading.isolate import ServerError
    from edu_gen.course.grading.runner import find_notebooks, grade_folder

    try:
        n = len(find_notebooks([Path(p) for p in args.submissions]))
    except (NotADirectoryError, FileNotFoundError) as error:
        print(f"edu-gen grade: {error}", file=sys.stderr)
        return 2
    bar = tqdm(total=n, unit="notebook", file=sys.stderr, desc="grading", disable=args.quiet)
    try:
        results = grade_folder(
            [Path(p) for p in args.submissions],
            Path(args.out),
            timeout=args.timeout,
            fast=not args.full,
            jobs=args.jobs,
            feedback=None if args.feedback is None else Path(args.feedback),
            chapter=args.chapter,
            execute_to=None if args.execute is None else Path(args.execute),
            cell_timeout=args.cell_timeout,
            progress=lambda _: bar.update(),
        )
    except LookupError as error:
        print(f"edu-gen grade: {error}", file=sys.stderr)
        return 2
    except ServerError as error:
        print(f"edu-gen grade: {error}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    graded = sum(s.total for s in results)
    print(f"graded {len(results)} notebook(s), {graded:g} points in all → {args.out}")
    if args.feedback is not None:
        print(f"feedback for each submission → {args.feedback}/")
    return 0


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {noun}, got {text!r}")
        return value

    noun = "integer" if kind is int else "number"
    parse.__name__ = f"positive {noun}"
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edu-gen", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build notebooks/, exercises/, solutions/ from lessons/")
    b.add_argument("--check", action="store_true", help="write nothing; fail if out of date")
    b.add_argument("--root", default=".", help="repository root (default: .)")
    b.add_argument(
        "--repo-url",
        default="",
        help="https address the notebooks install from and link to (a fork's; default: "
        "EDU_GEN_REPO_URL or the course's)",
    )
    b.set_defaults(func=_cmd_build)

    r = sub.add_parser("run", help="execute every chapter and print a claims summary")
    r.add_argument(
        "chapters",
        nargs="*",
        help="chapter numbers such as 01 02 10a (10 = 10a and 10b; default: all)",
    )
    r.add_argument("--fast", action="store_true", help="FAST mode (minutes for the whole course)")
    r.add_argument("--out", default="build/executed", help="where executed notebooks go")
    r.add_argument(
        "--timeout", type=_positive(float), default=1800, help="seconds per cell (default 1800)"
    )
    r.add_argument("--root", default=".", help="repository root (default: .)")
    r.set_defaults(func=_cmd_run)

    sub.add_parser("slides", help="reveal.js slides for the lessons (`edu-gen slides --help`)")

    g = sub.add_parser(
        "grade",
        help="grade submitted exercise notebooks, each exercise isolated from the notebook",
        description="Grade exercise notebooks: each exercise's function is rebuilt from the "
        "notebook's imports and definitions and checked in a fresh process with a time "
        "limit; the notebook's top-level code never runs there. Writes one CSV row per "
        "notebook (points per exercise, total, max_total, reason).",
    )
    g.add_argument(
        "submissions", nargs="+", help="folders searched recursively for .ipynb, or notebooks"
    )
    g.add_argument("--out", default="grades.csv", help="grades file to write (default grades.csv)")
    g.add_argument(
        "-j",
        "--jobs",
        type=_positive(int),
        default=1,
        help="notebooks graded at a time (default 1)",
    )
    g.add_argument(
        "--timeout", type=_positive(float), default=60, help="seconds per exercise (default 60)"
    )
    g.add_argument(
        "--feedback", metavar="DIR", help="also write DIR/<submission>.md for each learner"
    )
    g.add_argument(
        "--chapter", help="grade every notebook as this chapter, e.g. 01 or 10a (default: "
        "from each notebook's metadata, file name or check calls)",
    )  # fmt: skip
    g.add_argument(
        "--execute", metavar="DIR", help="also run each notebook in a kernel and save the "
        "executed copy under DIR (for the learner; never changes points)",
    )  # fmt: skip
    g.add_argument(
        "--cell-timeout",
        type=_positive(float),
        default=600,
        help="seconds per cell with --execute (default 600)",
    )
    g.add_argument("--full", action="store_true", help="grade in full mode (default FAST)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_grade)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["slides"]:  # its options live in edu_gen.course.slides
        from edu_gen.course import slides

        return slides.main(argv[1:]) or 0
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage error (or the help)
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as error:
        print(f"edu-gen {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"edu-gen {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
