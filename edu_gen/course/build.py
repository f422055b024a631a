"""Build notebooks, exercises and solutions from the jupytext sources in ``lessons/``.

``lessons/NN_slug.py``            → ``notebooks/NN_slug.ipynb``
``lessons/NN_slug_exercises.py``  → ``exercises/NN_slug_exercises.ipynb`` (solution regions blanked)
                                    ``solutions/NN_slug_exercises.ipynb`` (markers removed)

A solution region is the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
in the exercise notebook it becomes ``raise NotImplementedError(...)`` at the marker's
indentation. Output is deterministic (fixed cell ids, no outputs, sorted JSON), so
``edu-gen build --check`` can fail CI when a built file drifts from its lesson.
Every notebook starts with a ``setup``-tagged cell that installs edu_gen on Colab only.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

from edu_gen.core.config import REPO_REF, repo_url

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
LESSON_NAME = re.compile(r"^\d\d[a-z]?_[a-z0-9_]+\.py$")
"""``NN_slug.py`` or ``NNx_slug.py`` (a chapter in parts, e.g. ``10a_…``, ``10b_…``)."""
_KEEP_NB_METADATA = ("kernelspec",)
_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def colab_cell_source(extra: str = "") -> str:
    """Source of the first cell: on Colab only, install edu_gen at the pinned tag and keep
    ``checkpoints/`` on Google Drive when Drive is mounted.

    pip leaves the runtime's preinstalled torch, numpy and ipywidgets alone (they satisfy
    the package's version ranges), so nothing needs a restart.
    """
    spec = f"edu_gen{extra} @ git+{repo_url()}@{REPO_REF}"
    return (
        "# Colab only: install the course package (does nothing on your own machine).\n"
        "import os\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    pip = [sys.executable, "-m", "pip", "install", "-q", "{spec}"]\n'
        "    subprocess.run(pip, check=True)\n"
        '    drive = "/content/drive/MyDrive"\n'
        '    if os.path.isdir(drive) and not os.path.exists("checkpoints"):\n'
        '        os.makedirs(f"{drive}/edu_gen/checkpoints", exist_ok=True)\n'
        '        os.symlink(f"{drive}/edu_gen/checkpoints", "checkpoints")\n'
        '        print("checkpoints/ is on Google Drive: training resumes after a runtime reset")\n'
        "    elif not os.path.isdir(drive):\n"
        '        print("Tip: mount Google Drive (Files → Mount Drive), then rerun this cell, "\n'
        '              "to keep checkpoints when the runtime is recycled.")'
    )


def colab_url(relpath: str) -> str:
    """'Open in Colab' address of a built notebook, derived from the one repository URL."""
    slug = repo_url().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/{relpath}"


_REPO_LINK = re.compile(r"\]\(\.\./([^)\s]+)\)")


def absolute_links(markdown: str) -> str:
    """Point links to repository files (``](../lessons/glossary.md)``, written relative to
    the built notebook) at the file on GitHub, so that they also work on Colab, in slides
    and in exported HTML, where the repository's folders are not next to the notebook."""
    return _REPO_LINK.sub(lambda m: f"]({repo_url()}/blob/main/{m.group(1)})", markdown)


def strip_solutions(source: str, *, keep: bool) -> str:
    """Remove solution markers (``keep=True``) or replace each region by a raise."""
    out: list[str] = []
    inside = False
    for lineno, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {lineno}: nested {BEGIN!r}")
            inside = True
            if not keep:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f'{indent}raise NotImplementedError("your code here")')
            continue
        if stripped == END:
            if not inside:
                raise ValueError(f"line {lineno}: {END!r} without {BEGIN!r}")
            inside = False
            continue
        if inside and not keep:
            continue
        out.append(line)
    if inside:
        raise ValueError(f"unterminated {BEGIN!r} region")
    return "\n".join(out)


def _normalise(nb: nbformat.NotebookNode, relpath: str) -> nbformat.NotebookNode:
    """Fixed ids, no outputs, minimal metadata, Colab cell first."""
    nb = copy.deepcopy(nb)
    colab = nbformat.v4.new_code_cell(colab_cell_source(), metadata={"tags": ["setup"]})
    cells = [colab, *nb.cells]
    clean = []
    for index, cell in enumerate(cells):
        meta = {k: v for k, v in cell.metadata.items() if k in ("tags", "slideshow")}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source, metadata=meta)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(absolute_links(cell.source), metadata=meta)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=meta)
        new["id"] = f"c{index:03d}"
        clean.append(new)
    out = nbformat.v4.new_notebook(cells=clean)
    out.metadata = {
        "kernelspec": dict(_KERNELSPEC),
        "language_info": {"name": "python"},
        "edu_gen": {"source": relpath},
    }
    nbformat.validate(out)
    return out


def _dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


@dataclass(frozen=True)
class Target:
    path: Path
    text: str


def lesson_targets(lesson: Path, root: Path) -> list[Target]:
    """Built files (path, exact text) for one lesson source."""
    source_rel = lesson.relative_to(root).as_posix()
    text = lesson.read_text(encoding="utf-8")
    stem = lesson.stem
    if stem.endswith("_exercises"):
        targets = []
        for folder, keep in (("exercises", False), ("solutions", True)):
            blanked = strip_solutions(text, keep=keep)
            nb = _normalise(jupytext.reads(blanked, fmt="py:percent"), source_rel)
            targets.append(Target(root / folder / f"{stem}.ipynb", _dumps(nb)))
        return targets
    nb = _normalise(jupytext.reads(text, fmt="py:percent"), source_rel)
    return [Target(root / "notebooks" / f"{stem}.ipynb", _dumps(nb))]


def find_lessons(root: Path) -> list[Path]:
    lessons = sorted(p for p in (root / "lessons").glob("*.py") if LESSON_NAME.match(p.name))
    if not lessons:
        raise FileNotFoundError(f"no lessons/NN_slug.py files under {root}")
    return lessons


def _strip_outputs(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb)


def build(root: Path = Path("."), *, check: bool = False) -> list[Path]:
    """Build every lesson. With ``check=True`` write nothing; return the stale files.

    Stale means missing or different from a fresh build, outputs ignored. Without
    ``check`` returns the files written. Built files whose lesson is gone are
    reported (check) or deleted (build).
    """
    root = Path(root).resolve()
    targets = [t for lesson in find_lessons(root) for t in lesson_targets(lesson, root)]
    wanted = {t.path for t in targets}
    orphans = [
        p
        for folder in ("notebooks", "exercises", "solutions")
        for p in sorted((root / folder).glob("*.ipynb"))
        if p not in wanted
    ]
    changed: list[Path] = []
    for target in targets:
        current = target.path.read_text(encoding="utf-8") if target.path.exists() else None
        if check:
            if current is None or _strip_outputs(current) != _strip_outputs(target.text):
                changed.append(target.path)
        elif current != target.text:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            target.path.write_text(target.text, encoding="utf-8")
            changed.append(target.path)
    for orphan in orphans:
        if not check:
            orphan.unlink()
        changed.append(orphan)
    return changed
