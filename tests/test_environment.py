"""environment.yml cannot drift from pyproject.toml.

Every runtime dependency and every package of the ``course``, ``dev`` and ``lab`` extras
must be in ``environment.yml`` (conda or pip section) with a version floor at least
pyproject's, and the pinned Python must satisfy ``requires-python``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("course", "dev", "lab")
CONDA_NAMES = {"torch": "pytorch-cpu"}  # conda-forge's name for the CPU build
SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:(>=|==|=)\s*([0-9][\w.]*))?\s*$")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements(project: dict) -> list[Requirement]:
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in EXTRAS:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in found if normal(r.name) != normal(project["name"])]  # edu_gen[course]


def environment_specs(env: dict) -> dict[str, tuple[str | None, str | None]]:
    """``name -> (operator, version)`` of every conda and pip entry (``-e .`` skipped)."""
    entries: list[str] = []
    for item in env["dependencies"]:
        entries += item["pip"] if isinstance(item, dict) else [item]
    specs = {}
    for entry in entries:
        if entry.startswith("-"):
            continue
        match = SPEC.match(entry.split("#")[0])
        assert match, f"environment.yml: cannot read the entry {entry!r}"
        specs[normal(match[1])] = (match[2], match[3])
    return specs


def drift(project: dict, env: dict) -> list[str]:
    """What environment.yml gets wrong about pyproject.toml (empty: nothing)."""
    specs, problems = environment_specs(env), []
    for req in pyproject_requirements(project):
        name = normal(CONDA_NAMES.get(req.name, req.name))
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        if name not in specs:
            problems.append(f"{req.name}: missing (pyproject: {req})")
            continue
        operator, version = specs[name]
        if floors and (version is None or Version(version) < max(floors)):
            got = f"{operator}{version}" if version else "no floor"
            problems.append(f"{req.name}: {got}, pyproject needs >={max(floors)}")
    python = specs.get("python", (None, None))[1]
    if python is None or Version(python) not in SpecifierSet(project["requires-python"]):
        problems.append(f"python={python} does not satisfy {project['requires-python']}")
    return problems


def load() -> tuple[dict, dict]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    return project, env


def test_environment_yml_matches_pyproject():
    assert drift(*load()) == []


def test_drift_is_detected():
    project, env = load()
    project["dependencies"] = [*project["dependencies"], "einops>=0.7"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    lowered = [re.sub(r"^numpy>=.*", "numpy>=1.0", d) for d in conda if d != "pandas>=1.5"]
    env["dependencies"] = [*lowered, *pip]
    assert sorted(drift(project, env)) == [
        "einops: missing (pyproject: einops>=0.7)",
        "numpy: >=1.0, pyproject needs >=1.24",
        "pandas: missing (pyproject: pandas>=1.5)",
    ]
