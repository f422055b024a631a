"""Grade a folder of submitted exercise notebooks headless into a CSV.

Each notebook runs in a fresh kernel (nbclient) with a time limit, in FAST mode, with
``EDU_GEN_GRADING_REPORT`` pointing at a private file where every ``check(...)`` call
appends its result. Cells that raise do not stop the run (later exercises still
count). A notebook that times out or kills its kernel keeps the points recorded so
far and gets a note. Submissions are code: run the grader in a sandbox or container.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from edu_gen.course.execute import cell_errors, execute


@dataclass
class Submission:
    name: str
    points: dict[str, float] = field(default_factory=dict)
    max_points: dict[str, int] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return round(sum(self.points.values()), 2)


def grade_notebook(path: Path, *, timeout: float = 600.0, fast: bool = True) -> Submission:
    """Execute one notebook in a fresh kernel and collect its ``check`` results."""
    submission = Submission(Path(path).stem)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        report.touch()
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as error:  # noqa: BLE001 - any unreadable file is a note
            submission.note = f"unreadable notebook: {type(error).__name__}: {error}"
            return submission
        env = {
            "EDU_GEN_GRADING_REPORT": str(report),
            "EDU_GEN_FAST": "1" if fast else "0",
            "EDU_GEN_STRICT": "0",
            "MPLBACKEND": "Agg",
        }
        try:
            execute(nb, tmp, env=env, timeout=timeout, allow_errors=True)
        except CellTimeoutError:
            submission.note = f"stopped: a cell ran longer than {timeout:g} s"
        except DeadKernelError:
            submission.note = "stopped: the kernel died"
        errors = [name for name, _ in cell_errors(nb)]
        if errors and not submission.note:
            submission.note = f"{len(errors)} cell(s) raised: {', '.join(sorted(set(errors)))}"
        for line in report.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            key = row["exercise"]
            # a re-run check replaces the earlier result for the same exercise
            submission.points[key] = float(row["points"])
            submission.max_points[key] = int(row["max_points"])
            submission.status[key] = row["status"]
    submission.seconds = round(time.perf_counter() - start, 1)
    return submission


def grade_folder(
    folder: Path, out_csv: Path, *, timeout: float = 600.0, fast: bool = True
) -> list[Submission]:
    """Grade every ``*.ipynb`` under ``folder`` (recursively) and write ``out_csv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"submissions: {folder} is not a folder")
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise FileNotFoundError(f"submissions: no .ipynb files under {folder}")
    results = []
    for path in notebooks:
        submission = grade_notebook(path, timeout=timeout, fast=fast)
        submission.name = path.relative_to(folder).as_posix()
        print(f"{submission.name}: {submission.total:g} points ({submission.seconds:g} s)")
        results.append(submission)
    exercises = sorted({key for s in results for key in s.max_points})
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *exercises, "total", "max_total", "seconds", "note"])
        for s in results:
            max_total = sum(s.max_points.values())
            row = [s.points.get(e, "") for e in exercises]
            writer.writerow([s.name, *row, s.total, max_total, s.seconds, s.note])
    return results
