"""Grade submitted exercise notebooks for an instructor, isolated from the student's code.

A notebook is read as data (:mod:`.extract`): for each exercise of its chapter, the
function given to ``check("NN.name", fn)`` is rebuilt from the notebook's imports and
definitions only, and graded by :mod:`.isolate` in a fresh process forked from a clean
grading server, one exercise at a time, each with its own time limit. The notebook's
top-level code never runs there, so nothing it does (patching the grader, writing report
lines, exiting, looping forever) reaches the grade; a hang, crash or exit inside a graded
function costs that exercise only. Points are capped at each exercise's registered
maximum, only the chapter's own exercises count, and ``max_total`` is always the
chapter's registered total; an exercise the notebook lacks scores 0 with a reason.

With ``execute_to`` the notebook is also run top to bottom in its own kernel (a time limit
per cell) and the executed copy saved there for the learner; that run never changes points.

The chapter of a notebook: ``chapter=`` if given, else the notebook's build metadata or
file name, else the chapter of most of its ``check`` calls, else (in a folder) the
chapter most other submissions have. Submissions are code: the isolation keeps the grade
honest, not the machine safe — grade in a container or sandbox.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

from edu_gen.course.grading import report as rep
from edu_gen.course.grading.extract import Extraction, extract
from edu_gen.course.grading.isolate import Isolator
from edu_gen.course.grading.report import Outcome, Submission

__all__ = ["Submission", "find_notebooks", "grade_folder", "grade_notebook"]


def chapters(registry: dict[str, float]) -> dict[str, list[str]]:
    """Chapter -> its exercise ids, in registration order."""
    out: dict[str, list[str]] = {}
    for key in registry:
        out.setdefault(key.split(".")[0], []).append(key)
    return out


def read(path: Path) -> tuple[Extraction | None, Any, str]:
    """``(extraction, notebook, note)``; the note says why a file is unreadable."""
    try:
        nb = nbformat.read(path, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        return extract(nb, path), nb, ""
    except Exception as error:  # noqa: BLE001 - any unreadable file is a note
        return None, None, f"unreadable notebook: {type(error).__name__}: {str(error)[:200]}"


def pick_chapter(found: Extraction | None, known: dict[str, list[str]]) -> str | None:
    if found is None:
        return None
    if found.chapter_hint in known:
        return found.chapter_hint
    counts = Counter({k: n for k, n in found.chapters().items() if k in known})
    return counts.most_common(1)[0][0] if counts else None


def execute_copy(nb: Any, target: Path, *, fast: bool, cell_timeout: float) -> str:
    """Run the notebook in its own kernel and save it with outputs; a note on how it went."""
    import tempfile

    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from edu_gen.course.execute import cell_errors, execute

    env = {"EDU_GEN_FAST": "1" if fast else "0", "EDU_GEN_STRICT": "0", "MPLBACKEND": "Agg"}
    env |= {"EDU_GEN_GRADING_REPORT": "", "EDU_GEN_REPORT": ""}
    note = ""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            execute(nb, tmp, env=env, timeout=cell_timeout, allow_errors=True)
        except CellTimeoutError:
            note = f"executed copy stopped: a cell ran longer than {cell_timeout:g} s"
        except DeadKernelError:
            note = "executed copy stopped: the kernel died"
        except Exception as error:  # noqa: BLE001 - the copy is a courtesy, never a grade
            note = f"executed copy failed: {type(error).__name__}"
    errors = sorted({name for name, _ in cell_errors(nb)})
    if errors and not note:
        note = f"executed copy: {len(errors)} kind(s) of error ({', '.join(errors)})"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return note


def grade_extracted(
    name: str,
    found: Extraction | None,
    chapter: str | None,
    isolator: Isolator,
    *,
    timeout: float,
) -> Submission:
    """Grade every exercise of ``chapter`` that ``found`` holds (the rest score 0)."""
    known = chapters(isolator.registry)
    submission = Submission(name, chapter)
    if chapter not in known:
        submission.note = "no exercise of a registered chapter found (pass --chapter)"
        return submission
    ids = known[chapter]
    for key in ids:
        submission.outcomes[key] = Outcome(key, isolator.registry[key])
    if found is None:  # unreadable: the note says why, once
        for outcome in submission.outcomes.values():
            outcome.status, outcome.reason = "unreadable", ""
        return submission
    for key, why in found.broken.items():
        if key in submission.outcomes:
            submission.outcomes[key].status = "syntax error"
            submission.outcomes[key].reason = f"syntax error: {why}"
    failed: list[str] = []
    for key in sorted((k for k in found.found if k in ids), key=lambda k: found.found[k].cell):
        reply = isolator.grade(
            key,
            found.program(key),
            found.found[key].expression,
            timeout=timeout,
            failed=failed,
        )
        outcome = rep.outcome_from_reply(
            key, isolator.registry[key], reply, timeout=timeout, dropped_by=found.dropped_by
        )
        submission.outcomes[key] = outcome
        if outcome.status != "passed":
            failed.append(key)
    return submission


def grade_read(
    name: str,
    notebook: tuple[Extraction | None, Any, str],
    chapter: str | None,
    isolator: Isolator,
    *,
    timeout: float,
    fast: bool,
    execute_to: Path | None,
    cell_timeout: float,
) -> Submission:
    """Grade a notebook :func:`read` has read; optionally save an executed copy."""
    start = time.perf_counter()
    found, nb, note = notebook
    submission = grade_extracted(name, found, chapter, isolator, timeout=timeout)
    submission.note = note or submission.note
    if execute_to is not None and nb is not None:
        executed = execute_copy(nb, Path(execute_to) / name, fast=fast, cell_timeout=cell_timeout)
        submission.note = "; ".join(filter(None, [submission.note, executed]))
    submission.seconds = round(time.perf_counter() - start, 2)
    return submission


def grade_notebook(
    path: Path,
    *,
    timeout: float = 60.0,
    fast: bool = True,
    chapter: str | None = None,
    isolator: Isolator | None = None,
    execute_to: Path | None = None,
    cell_timeout: float = 600.0,
) -> Submission:
    """Grade one notebook (``timeout``: seconds per exercise); starts a grading server
    unless given one."""
    if isolator is None:
        with Isolator(fast=fast) as own:
            return grade_notebook(
                path, timeout=timeout, fast=fast, chapter=chapter, isolator=own,
                execute_to=execute_to, cell_timeout=cell_timeout,
            )  # fmt: skip
    notebook = read(Path(path))
    chapter = chapter or pick_chapter(notebook[0], chapters(isolator.registry))
    return grade_read(
        Path(path).name, notebook, chapter, isolator, timeout=timeout, fast=fast,
        execute_to=execute_to, cell_timeout=cell_timeout,
    )  # fmt: skip


def find_notebooks(paths: Sequence[Path]) -> list[tuple[str, Path]]:
    """``(name, path)`` of every notebook under the given folders (and given files)."""
    out = []
    for root in map(Path, paths):
        if root.is_file() and root.suffix == ".ipynb":
            out.append((root.name, root))
        elif root.is_dir():
            out += [
                (p.relative_to(root).as_posix(), p)
                for p in sorted(root.rglob("*.ipynb"))
                if ".ipynb_checkpoints" not in p.parts
            ]
        else:
            raise NotADirectoryError(f"submissions: {root} is not a folder or a notebook")
    if not out:
        raise FileNotFoundError(f"submissions: no .ipynb files under {', '.join(map(str, paths))}")
    return out


def grade_folder(
    folder: Path | Sequence[Path],
    out_csv: Path,
    *,
    timeout: float = 60.0,
    fast: bool = True,
    jobs: int = 1,
    feedback: Path | None = None,
    chapter: str | None = None,
    execute_to: Path | None = None,
    cell_timeout: float = 600.0,
    progress: Callable[[Submission], None] | None = None,
) -> list[Submission]:
    """Grade every ``*.ipynb`` under ``folder`` (recursively; or a list of folders and
    notebooks), ``jobs`` notebooks at a time; write ``out_csv`` and, if asked, one
    feedback file per submission. ``progress`` is called after each notebook."""
    roots = [folder] if isinstance(folder, str | Path) else list(folder)
    notebooks = find_notebooks(roots)
    servers = [Isolator(fast=fast) for _ in range(max(1, min(jobs, len(notebooks))))]
    for server in servers:
        server.launch()  # they import in parallel while the notebooks are read
    try:
        for server in servers:
            server.wait_ready()
        known = chapters(servers[0].registry)
        if chapter is not None and chapter not in known:
            raise LookupError(f"--chapter {chapter}: not a chapter (known: {', '.join(known)})")
        read_all = {name: read(path) for name, path in notebooks}
        picked = {n: chapter or pick_chapter(r[0], known) for n, r in read_all.items()}
        usual = Counter(c for c in picked.values() if c).most_common(1)
        pool: queue.Queue[Isolator] = queue.Queue()
        for server in servers:
            pool.put(server)

        def one(name: str) -> Submission:
            server = pool.get()
            try:
                sub = grade_read(
                    name, read_all[name], picked[name] or (usual[0][0] if usual else None),
                    server, timeout=timeout, fast=fast, execute_to=execute_to,
                    cell_timeout=cell_timeout,
                )  # fmt: skip
            finally:
                pool.put(server)
            if progress is not None:
                progress(sub)
            return sub

        executor = ThreadPoolExecutor(max_workers=len(servers))
        try:
            results = list(executor.map(one, [name for name, _ in notebooks]))
        finally:  # on Ctrl-C, no new notebook starts
            executor.shutdown(wait=True, cancel_futures=True)
    finally:
        for server in servers:
            server.__exit__()
    ids = [k for k in servers[0].registry if any(k in s.outcomes for s in results)]
    rep.write_csv(results, Path(out_csv), ids)
    if feedback is not None:
        rep.write_feedback(results, Path(feedback))
    return results
