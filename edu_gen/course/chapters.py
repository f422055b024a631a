"""Chapter runs for ``edu-gen run``: names, one notebook's execution, its summary lines.

A chapter is named by its notebook's prefix (``01``, ``10a``) or by the two digits that
select all its parts (``10`` = 10a and 10b). While a notebook runs, :class:`CellProgress`
reports cells done / total and the time elapsed on stderr; :func:`print_result` prints the
claims that failed and the first error.

Next to the wall time each chapter reports the CPU time (user + sys) of the kernel that ran
it, its threads and the processes it started and waited for, and the 1-minute load average
at its start and end: on a busy machine the wall time grows with the load, the CPU time
much less, so the two together still say what the chapter costs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "PROGRESS_EVERY_S",
    "CellProgress",
    "ChapterRun",
    "chapter_names",
    "print_result",
    "run_notebook",
    "select_chapters",
]


@dataclass
class ChapterRun:
    name: str
    passed: int
    failed: int
    errors: list[str]
    seconds: float
    failed_claims: list[str] = field(default_factory=list)
    cpu_seconds: float | None = None
    """user + sys of the kernel process and its reaped children (None: not measurable)."""
    load: tuple[float, float] | None = None
    """1-minute load average when the chapter started and when it ended (None: unknown)."""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.errors


def children_cpu_seconds() -> float | None:
    """user + sys CPU seconds of this process's terminated, waited-for child processes.

    These include each child's own waited-for children (the kernel's subprocesses), so the
    difference around one notebook's execution is the CPU time of the kernel that ran it
    (jupyter_client waits for the kernel process when it shuts it down). None where the
    platform does not count it (Windows).
    """
    try:
        import resource
    except ImportError:  # Windows
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


PROGRESS_EVERY_S = 10.0
"""Seconds between progress lines when stderr is not a terminal (a terminal: every cell)."""


class CellProgress:
    """``on_cell`` callback: ``  NAME  cell DONE/TOTAL  ELAPSED s`` on stderr while it runs."""

    def __init__(self, name: str, every: float | None = None) -> None:
        self.name = name
        self.start = self.last = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.every = PROGRESS_EVERY_S if every is None else every
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self.tty and now - self.last < self.every and done < total:
            return
        self.last = now
        line = f"  {self.name:<28} cell {done}/{total}  {now - self.start:7.1f} s"
        if self.tty:
            print(f"\r{line}", end="", file=sys.stderr, flush=True)
            self.shown = True
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:  # wipe the terminal line before the summary line replaces it
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def run_notebook(path: Path, out_dir: Path, *, fast: bool, timeout: float) -> ChapterRun:
    """Execute one notebook in a fresh kernel (progress on stderr); collect its claims."""
    import nbformat

    from edu_gen.course.execute import INLINE_BACKEND, cell_errors, execute

    nb = nbformat.read(path, as_version=4)
    load_start = load_average()
    cpu_start = children_cpu_seconds()
    start = time.perf_counter()
    progress = CellProgress(path.stem)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "claims.jsonl"
        report.touch()
        env = {
            "EDU_GEN_REPORT": str(report),
            "EDU_GEN_FAST": "1" if fast else "0",
            "EDU_GEN_STRICT": "0",
            "EDU_GEN_STATIC": "1",  # nobody clicks in a headless run: quizzes and sliders print
            "MPLBACKEND": os.environ.get("MPLBACKEND", INLINE_BACKEND),
        }
        try:
            execute(nb, path.parent, env=env, timeout=timeout, allow_errors=True, on_cell=progress)
        finally:
            progress.close()
        seconds = time.perf_counter() - start  # the kernel has been shut down and waited for
        cpu_end = children_cpu_seconds()
        load_end = load_average()
        rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    errors = [f"{name}: {value}" for name, value in cell_errors(nb)]
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    passed = sum(r["holds"] for r in rows)
    failing = [str(r["claim"]) for r in rows if not r["holds"]]
    cpu = None if cpu_start is None or cpu_end is None else cpu_end - cpu_start
    load = None if load_start is None or load_end is None else (load_start, load_end)
    return ChapterRun(
        path.stem, passed, len(rows) - passed, errors, seconds, failing, cpu_seconds=cpu, load=load
    )


def chapter_names(notebooks: list[Path]) -> list[str]:
    """What ``edu-gen run`` accepts: each prefix (``01``, ``10a``) and ``10`` for 10a + 10b."""
    names = {p.name.split("_")[0] for p in notebooks} | {p.name[:2] for p in notebooks}
    return sorted(names)


def select_chapters(notebooks: list[Path], wanted: list[str]) -> tuple[list[Path], list[str]]:
    """The notebooks of the ``wanted`` chapters, and the names that match none."""
    unknown = [w for w in dict.fromkeys(wanted) if w not in chapter_names(notebooks)]
    chosen = [p for p in notebooks if {p.name.split("_")[0], p.name[:2]} & set(wanted)]
    return chosen, unknown


def print_result(result: ChapterRun) -> None:
    status = "ok" if result.ok else "FAIL"
    print(
        f"  {result.name:<28} claims {result.passed:>2} passed {result.failed:>2} failed"
        f"  {format_times(result.seconds, result.cpu_seconds)}{format_load(result.load)}"
        f"  {status}",
        flush=True,
    )
    for statement in result.failed_claims[:5]:
        print(f"      failed claim: {statement[:200]}")
    if len(result.failed_claims) > 5:
        print(f"      … and {len(result.failed_claims) - 5} more failed claims")
    if result.errors:
        more = f" ({len(result.errors)} errors in all)" if len(result.errors) > 1 else ""
        print(f"      first error: {result.errors[0][:300]}{more}")


def format_times(wall: float, cpu: float | None) -> str:
    """``WALL s wall  CPU s CPU`` (CPU: ``n/a`` where it was not measured)."""
    cpu_text = "    n/a" if cpu is None else f"{cpu:7.1f}"
    return f"{wall:7.1f} s wall {cpu_text} s CPU"


def format_load(load: tuple[float, float] | None) -> str:
    """``  load START→END`` (1-minute load averages), or nothing where unknown."""
    return "" if load is None else f"  load {load[0]:.2f}→{load[1]:.2f}"
