"""What the isolated grader runs of a notebook: its definitions, never its top-level code.

A submitted exercise notebook is read as data. Each graded exercise is found by its
``check("NN.name", fn)`` call; the program graded for it is every code cell's
*definitions* (imports, ``def``, ``class``, and assignments of inert values such as
``EPS = 1e-8`` or ``F = torch.nn.functional``), from the first cell down to the exercise's
own cell, then the definitions of later cells whose names are still unbound (a helper
defined further down, as a learner running cells out of order would have). Top-level
calls — the ``check`` itself, training loops, ``sys.exit()``, patches of the grader — are
dropped. Decorators and default arguments stay part of their ``def``: they run inside the
isolated process, under its time limit.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHAPTER_IN_NAME = re.compile(r"(?:^|[^0-9a-z])(\d\d[a-z]?)_")
CHECK_IN_TEXT = re.compile(r"""check\(\s*["'](\d\d[a-z]?\.[A-Za-z0-9_]+)["']""")
DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
CHOOSE = "__edu_gen_choose__"
BUILTINS = set(dir(builtins)) | {CHOOSE}
INERT_LEAVES = (ast.Constant, ast.Name)
INERT_NODES = (
    ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Starred,
    ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip


@dataclass
class Chunk:
    """The kept statements of one code cell, as Python source."""

    label: str  # "cell c012" (the cell id the build writes) or "cell 12"
    source: str
    names: set[str]  # names these statements bind
    dropped_names: set[str] = field(default_factory=set)  # bound only by dropped statements


@dataclass
class Found:
    """One ``check(exercise_id, fn)`` call: what to grade and where it is."""

    exercise: str
    expression: str  # the ``fn`` argument, evaluated after the definitions
    cell: int  # index into Extraction.chunks
    label: str


@dataclass
class Extraction:
    chunks: list[Chunk]
    found: dict[str, Found]  # exercise id -> its last check call in notebook order
    broken: dict[str, str]  # exercise id -> why its cell could not be read (syntax error)
    chapter_hint: str | None  # from the notebook's metadata or file name

    def program(self, exercise_id: str) -> list[tuple[str, str]]:
        """``(label, source)`` chunks to execute before grading ``exercise_id``."""
        found = self.found[exercise_id]
        chunks = [(c.label, c.source) for c in self.chunks[: found.cell + 1] if c.source]
        bound = set().union(*(c.names for c in self.chunks[: found.cell + 1]))
        for chunk in self.chunks[found.cell + 1 :]:
            source = _only_unbound(chunk.source, bound)
            if source:
                chunks.append((chunk.label + " (defined below the exercise)", source))
                bound |= chunk.names
        return chunks

    def dropped_by(self, name: str) -> str | None:
        """The cell that assigns ``name`` by a top-level call (so it is not defined here)."""
        return next((c.label for c in self.chunks if name in c.dropped_names), None)

    def chapters(self) -> Counter[str]:
        return Counter(e.split(".")[0] for e in [*self.found, *self.broken])


def python_source(cell_source: str) -> str:
    """Cell text as plain Python: IPython magics and ``!shell`` lines become calls
    (dropped later, as every top-level call is)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(cell_source)
    except Exception:  # noqa: BLE001 - no IPython, or text it cannot transform
        lines = cell_source.splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            return ""
        return "\n".join("" if ln.lstrip()[:1] in ("!", "%") else ln for ln in lines)


def inert(node: ast.AST) -> bool:
    """True for an expression that calls nothing when evaluated (bar dunder hooks)."""
    if isinstance(node, ast.Lambda):  # its body runs when called, not when defined
        return all(map(inert, node.args.defaults + node.args.kw_defaults))
    return isinstance(node, INERT_LEAVES + INERT_NODES) and all(
        map(inert, ast.iter_child_nodes(node))
    )


def bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def loaded_names(node: ast.AST) -> set[str]:
    """Names an expression reads when evaluated (a lambda's body is read later)."""
    if isinstance(node, ast.Lambda):
        return set().union(*map(loaded_names, node.args.defaults + node.args.kw_defaults))
    if isinstance(node, ast.Name):
        return {node.id}
    return set().union(set(), *map(loaded_names, ast.iter_child_nodes(node)))


def kept(node: ast.stmt, bound: set[str]) -> bool:
    """A definition, or an assignment of an inert value made of names already bound."""
    if isinstance(node, DEFINITIONS):
        return True
    value = getattr(node, "value", None)
    if value is None or not inert(value) or not loaded_names(value) <= bound | BUILTINS:
        return isinstance(node, ast.AnnAssign) and node.value is None
    if isinstance(node, ast.Assign):
        return all(
            isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Store)
            for t in node.targets
            for n in ast.walk(t)
        )
    return isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)


def as_choose(node: ast.stmt, results: dict[str, str]) -> ast.stmt | None:
    """``fn = result_x.choose(student_fn)`` (``result_x`` from ``check("NN.x", ...)``) as
    ``fn = __edu_gen_choose__("NN.x", student_fn)``: the learner's function if that
    exercise passed, else its stand-in, as in the notebook."""
    if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
        return None
    call = node.value
    func = call.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr == "choose"
        and isinstance(func.value, ast.Name)
        and func.value.id in results
        and len(call.args) == 1
        and not call.keywords
        and inert(call.args[0])
    ):
        return None
    target = ast.Name(CHOOSE, ast.Load())
    new = ast.Call(target, [ast.Constant(results[func.value.id]), call.args[0]], [])
    return ast.fix_missing_locations(ast.copy_location(ast.Assign(node.targets, new), node))


def _only_unbound(source: str, bound: set[str]) -> str:
    body = [n for n in ast.parse(source).body if not bound_names(n) or bound_names(n) - bound]
    return ast.unparse(ast.Module(body=body, type_ignores=[])) if body else ""


def check_calls(tree: ast.AST) -> list[tuple[str, str]]:
    """``(exercise id, fn expression)`` of every ``check(...)`` call in ``tree``, in order."""
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "check":
            continue
        args = list(node.args) + [None, None]
        keywords = {k.arg: k.value for k in node.keywords}
        ident, fn = keywords.get("exercise_id", args[0]), keywords.get("fn", args[1])
        if isinstance(ident, ast.Constant) and isinstance(ident.value, str) and fn is not None:
            calls.append(((node.lineno, node.col_offset), ident.value, ast.unparse(fn)))
    return [(ident, fn) for _, ident, fn in sorted(calls)]  # ast.walk is breadth first


def chapter_hint(nb: Any, path: Path | None) -> str | None:
    """The chapter a notebook says it is: its build metadata, else its file name (a
    folder name is not trusted: ``2024_01_class/`` says nothing of the chapter)."""
    meta = nb.get("metadata", {}) if hasattr(nb, "get") else {}
    source = str((meta.get("edu_gen") or {}).get("source", "")) if hasattr(meta, "get") else ""
    for text in [Path(source).name, "" if path is None else Path(path).name]:
        if match := CHAPTER_IN_NAME.search(text):
            return match.group(1)
    return None


def extract(nb: Any, path: Path | None = None) -> Extraction:
    """Read the definitions and ``check`` calls of a notebook (an nbformat node)."""
    chunks: list[Chunk] = []
    found: dict[str, Found] = {}
    broken: dict[str, str] = {}
    bound: set[str] = set()
    results: dict[str, str] = {}  # variable -> exercise id of the check() assigned to it
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    for index, cell in enumerate(cells):
        raw = cell.get("source", "")
        raw = "".join(raw) if isinstance(raw, list) else str(raw)
        label = f"cell {cell.get('id') or index}"
        try:
            tree = ast.parse(python_source(raw))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            why = f"{label} does not parse ({type(error).__name__}: {error})"
            for exercise_id in CHECK_IN_TEXT.findall(raw):
                broken[exercise_id] = why
                found.pop(exercise_id, None)
            chunks.append(Chunk(label, "", set()))
            continue
        body: list[ast.stmt] = []
        dropped: set[str] = set()
        for node in tree.body:
            if (choose := as_choose(node, results)) is not None or kept(node, bound):
                body.append(choose or node)
                bound |= bound_names(node)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                dropped |= bound_names(node)
            calls = check_calls(node)
            if isinstance(node, ast.Assign) and len(calls) == 1 and node.value is not None:
                results.update(dict.fromkeys(bound_names(node), calls[0][0]))
        names = set().union(*(bound_names(n) for n in body)) if body else set()
        source = ast.unparse(ast.Module(body=body, type_ignores=[])) if body else ""
        chunks.append(Chunk(label, source, names, dropped - names))
        for exercise_id, expression in check_calls(tree):
            found[exercise_id] = Found(exercise_id, expression, len(chunks) - 1, label)
            broken.pop(exercise_id, None)
    return Extraction(chunks, found, broken, chapter_hint(nb, path))
