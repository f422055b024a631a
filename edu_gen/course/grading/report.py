"""What grading hands to the instructor: per-exercise outcomes, ``grades.csv``, feedback.

An :class:`Outcome` is one exercise of one submission: points (capped at the exercise's
registered maximum, 0 unless the isolated grader returned a result), a status, a short
``reason`` for the grades file ("timeout", "not attempted", "contract broken: …") and the
feedback text for the learner. A :class:`Submission` holds every exercise of its chapter,
found in the notebook or not, so ``max_total`` is always the chapter's registered total.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FEEDBACK_TEXT = {
    "timeout": "Your function did not finish within the time limit ({limit:g} s).",
    "crash": "Grading your function crashed the Python process ({detail}).",
    "exit": "Your code ended the Python process ({detail}): do not call sys.exit, "
    "os._exit or raise SystemExit in a graded exercise.",
    "tampered": "Your code changed the grader or a library it relies on ({detail}); "
    "the exercise scores 0.",
    "error": "The grader could not grade this exercise ({detail}); tell your instructor.",
}


@dataclass
class Outcome:
    exercise: str
    max_points: float
    points: float = 0.0
    status: str = "missing"
    reason: str = "missing (no check call for it)"
    report: str = ""
    seconds: float = 0.0

    @property
    def found(self) -> bool:
        return self.status not in ("missing", "syntax error", "unreadable")


def dropped_note(text: str, dropped_by: Any) -> str:
    """Explain a NameError on a name the notebook sets with a top-level call."""
    for name in re.findall(r"name '(\w+)' is not defined", text):
        if cell := dropped_by(name):
            return (
                f" (`{name}` is set by a top-level statement in {cell}; graded code may use "
                "only imports, functions, classes and constants)"
            )
    return ""


def lost_points(result: dict[str, Any]) -> str:
    """Why a graded exercise lost points: the function exits or raises in every failed
    test, its values are wrong, or only a contract (gradient, dtype, ...) is broken."""
    n, passed = int(result.get("tests", 0)), int(result.get("tests_passed", 0))
    tally = f"{passed}/{n} tests passed"
    messages = [str(m) for m in result.get("failed_messages", [])]
    if any("SystemExit" in m or "sys.exit" in m for m in messages):
        return f"exit: the function calls sys.exit or raises SystemExit ({tally})"
    raised = {m.split("raised ", 1)[1].split(":")[0] for m in messages if "raised " in m}
    if messages and len(raised) == 1 and all("raised " in m for m in messages):
        return f"error: the function raises {raised.pop()} ({tally})"
    contracts = [str(c) for c in result.get("contracts", [])]
    if "values" in contracts or not contracts:
        return f"failed tests: wrong values ({tally})"
    return f"contract broken: {', '.join(contracts)} ({tally})"


def outcome_from_reply(
    exercise: str, max_points: float, reply: dict[str, Any], *, timeout: float, dropped_by: Any
) -> Outcome:
    """Turn the grading server's reply into an :class:`Outcome` (points capped)."""
    kind = str(reply.get("outcome", "error"))
    detail = str(reply.get("detail", "") or "")
    seconds = float(reply.get("seconds", 0.0) or 0.0)
    base = Outcome(exercise, max_points, 0.0, kind, "", "", seconds)
    if kind == "graded":
        result = reply.get("result") or {}
        status = str(result.get("status", "invalid"))
        points = min(max(float(result.get("points", 0.0)), 0.0), max_points)
        base.points, base.status, base.report = points, status, str(result.get("report", ""))
        if points >= max_points:
            base.reason = ""
        elif status == "not attempted":
            base.reason = "not attempted"
        elif status == "invalid":
            base.reason = f"invalid: {result.get('hint') or 'not a function'}"
        else:
            base.reason = lost_points(result)
            messages = " ".join(map(str, result.get("failed_messages", [])))
            base.reason += dropped_note(messages, dropped_by)
        errors = [str(e) for e in reply.get("definition_errors", [])]
        if base.reason and errors:
            base.report += "\n  while defining your code: " + "; ".join(errors[:3])
        return base
    if kind == "undefined":
        base.status = "not defined"
        base.reason = f"not defined: {detail}" + dropped_note(detail, dropped_by)
        base.report = f"The function given to check() could not be defined: {detail}."
        return base
    base.reason = f"{kind} ({detail})" if detail else kind
    if kind == "timeout":
        base.reason = f"timeout (over {timeout:g} s)"
    text = FEEDBACK_TEXT.get(kind, "{detail}")
    base.report = text.format(limit=timeout, detail=detail or kind)
    return base


@dataclass
class Submission:
    """One graded notebook."""

    name: str
    chapter: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    note: str = ""  # about the notebook itself: unreadable, no chapter, executed copy
    seconds: float = 0.0

    @property
    def points(self) -> dict[str, float]:
        """Points of the exercises found in the notebook."""
        return {k: o.points for k, o in self.outcomes.items() if o.found}

    @property
    def max_points(self) -> dict[str, float]:
        return {k: o.max_points for k, o in self.outcomes.items()}

    @property
    def status(self) -> dict[str, str]:
        return {k: o.status for k, o in self.outcomes.items()}

    @property
    def total(self) -> float:
        return round(sum(o.points for o in self.outcomes.values()), 2)

    @property
    def max_total(self) -> float:
        return round(sum(o.max_points for o in self.outcomes.values()), 2)

    @property
    def reason(self) -> str:
        """Why points were lost: ``reason: exercise, exercise; ...`` then the note."""
        grouped: dict[str, list[str]] = {}
        for key, o in self.outcomes.items():
            if o.reason:
                grouped.setdefault(o.reason, []).append(key.split(".", 1)[-1])
        parts = [f"{why}: {', '.join(keys)}" for why, keys in grouped.items()]
        return "; ".join(parts + ([self.note] if self.note else []))


def number(value: float) -> str:
    return f"{value:g}"


def write_csv(submissions: Iterable[Submission], path: Path, exercises: list[str]) -> None:
    """One row per submission: every exercise's points, total, max_total, reason."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "chapter", *exercises, "total", "max_total", "reason"])
        for s in submissions:
            cells = [number(s.outcomes[e].points) if e in s.outcomes else "" for e in exercises]
            row = [s.name, s.chapter or "", *cells, number(s.total), number(s.max_total)]
            writer.writerow([*row, s.reason])


def feedback_name(submission: str) -> str:
    stem = submission.removesuffix(".ipynb")
    return re.sub(r"[^A-Za-z0-9._-]+", "__", stem).strip("_") + ".md"


def feedback(submission: Submission) -> str:
    """Markdown the instructor can hand back: every exercise's report or reason."""
    chapter = f"chapter {submission.chapter}" if submission.chapter else "no chapter"
    lines = [
        f"# {submission.name}: {number(submission.total)}/{number(submission.max_total)} points",
        "",
        f"Graded as {chapter}, each exercise in a fresh Python process that ran only your "
        "imports and definitions.",
        "",
    ]
    if submission.note:
        lines += [f"**Note:** {submission.note}", ""]
    for key, o in submission.outcomes.items():
        lines += [f"## {key}: {number(o.points)}/{number(o.max_points)} ({o.status})", ""]
        if o.reason and o.reason != "not attempted":
            lines += [f"Why points were lost: {o.reason}", ""]
        body = o.report or ("Not attempted yet." if o.status == "not attempted" else o.reason)
        lines += ["```text", body.replace("```", "'''"), "```", ""]
    return "\n".join(lines)


def write_feedback(submissions: Iterable[Submission], folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for s in submissions:
        path = folder / feedback_name(s.name)
        while path in paths:  # "a/b.ipynb" and "a__b.ipynb" would share a name
            path = path.with_name(path.stem + "_.md")
        path.write_text(feedback(s), encoding="utf-8")
        paths.append(path)
    return paths
