"""The package's shape, checked: layers, no cycles, no private imports, modules of one sitting.

The folder tree is the architecture (see ``edu_gen/__init__.py``): ``course`` may use
everything; ``tabular`` and ``evaluation`` stand on ``models``, ``data`` and ``core``;
``models`` on ``data`` and ``core``; ``data`` on ``core``; ``core`` on nothing of the
package. These tests read the source (``ast``), so they see imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "edu_gen"

ALLOWED = {  # layer -> layers it may import from
    "core": {"core"},
    "data": {"core", "data"},
    "models": {"core", "data", "models"},
    "evaluation": {"core", "data", "models", "evaluation"},
    "tabular": {"core", "data", "models", "tabular"},
    "course": {"core", "data", "models", "evaluation", "tabular", "course"},
}
MAX_LINES = 300
"""A module longer than this says why in its docstring, in a line starting ``Length:``."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, names taken from it, line)`` for every edu_gen import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("edu_gen")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("edu_gen"):
                found.append((base, [a.name for a in node.names], node.lineno))
    return found


def resolve(target: str, names: list[str], known: dict[str, Path]) -> list[str]:
    """The package modules an import statement depends on."""
    out = [target] if target in known else []
    out += [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {dep for t, ns, _ in imports(name, path) for dep in resolve(t, ns, known)} - {name}
        for name, path in known.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of module-level imports as a list of modules, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def parents(name: str) -> set[str]:
    """A package's ``__init__`` runs before its modules: importing a parent is no cycle."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def module_edges() -> dict[str, set[str]]:
    return {name: deps - parents(name) for name, deps in graph().items()}


def test_every_module_is_in_a_layer():
    stray = [n for n in modules() if n != "edu_gen" and n != "edu_gen.__main__" and not layer(n)]
    assert not stray, f"modules outside core/data/models/evaluation/tabular/course: {stray}"


def test_imports_point_down_the_layers():
    known = modules()
    bad = []
    for name, path in known.items():
        own = layer(name)
        if own is None:
            continue
        for target, names, line in imports(name, path):
            for dep in resolve(target, names, known) or [target]:
                if (other := layer(dep)) is not None and other not in ALLOWED[own]:
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {dep}")
    assert not bad, "imports against the layer rule:\n" + "\n".join(bad)


def test_no_import_cycles():
    cycle = find_cycle(module_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_a_private_name_from_another():
    bad = []
    for name, path in modules().items():
        for target, names, line in imports(name, path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != name:
                bad.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} takes {private} from {target}"
                )
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_long_modules_say_why():
    bad = []
    for path in modules().values():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > MAX_LINES and "Length:" not in doc:
            bad.append(f"{path.relative_to(PACKAGE.parent)} ({n} lines)")
    assert not bad, f"modules over {MAX_LINES} lines without a 'Length:' note: {bad}"


# ------------------------------------------------------------ the checks catch what they say


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize(
    ("source", "private"),
    [
        ("from edu_gen.core.rng import _hidden\n", True),
        ("from edu_gen.core.rng import seeded\n", False),
    ],
)
def test_private_import_detector(tmp_path, source, private):
    path = tmp_path / "mod.py"
    path.write_text(source)
    found = imports("edu_gen.models.mod", path)
    assert any(n.startswith("_") for _, names, _ in found for n in names) is private


def test_layer_rule_flags_core_importing_course(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from edu_gen.course import viz\n")
    ((target, names, _),) = imports("edu_gen.core.bad", path)
    deps = resolve(target, names, modules())
    assert deps and all(layer(d) not in ALLOWED["core"] for d in deps)
