"""Lesson build: solution stripping, determinism, and the repository being in sync."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from edu_gen.core.config import REPO_REF, REPO_URL
from edu_gen.course import build

ROOT = Path(__file__).resolve().parents[1]

EXERCISE = '''# %% [markdown]
# # Demo exercises

# %%
def double(x):
    """Return 2x."""
    ### BEGIN SOLUTION
    y = 2 * x
    return y
    ### END SOLUTION


print(double(2))
'''


def test_strip_solutions_blanks_regions_at_their_indentation():
    out = build.strip_solutions(EXERCISE, keep=False)
    assert "y = 2 * x" not in out and "BEGIN SOLUTION" not in out
    assert '    raise NotImplementedError("your code here")' in out
    assert '"""Return 2x."""' in out and "print(double(2))" in out


def test_strip_solutions_keep_removes_only_markers():
    out = build.strip_solutions(EXERCISE, keep=True)
    assert "y = 2 * x" in out and "return y" in out
    assert "SOLUTION" not in out and "NotImplementedError" not in out


@pytest.mark.parametrize(
    "text, message",
    [
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "nested"),
        ("x = 1\n### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\nx = 1\n", "unterminated"),
    ],
)
def test_strip_solutions_rejects_broken_markers(text, message):
    with pytest.raises(ValueError, match=message):
        build.strip_solutions(text, keep=False)


def _mini_repo(tmp_path: Path) -> Path:
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "00_demo.py").write_text(
        '# %% [markdown] slideshow={"slide_type": "slide"}\n# # Demo\n\n# %%\nprint(1)\n'
    )
    (tmp_path / "lessons" / "00_demo_exercises.py").write_text(EXERCISE)
    return tmp_path


def test_build_writes_three_notebooks_deterministically(tmp_path):
    root = _mini_repo(tmp_path)
    written = build.build(root)
    names = sorted(p.relative_to(root).as_posix() for p in written)
    assert names == [
        "exercises/00_demo_exercises.ipynb",
        "notebooks/00_demo.ipynb",
        "solutions/00_demo_exercises.ipynb",
    ]
    first = {p: p.read_bytes() for p in written}
    assert build.build(root) == []  # nothing changes on a rebuild
    assert {p: p.read_bytes() for p in written} == first
    assert build.build(root, check=True) == []


def test_built_notebook_shape(tmp_path):
    root = _mini_repo(tmp_path)
    build.build(root)
    nb = nbformat.read(root / "notebooks" / "00_demo.ipynb", as_version=4)
    assert [c["id"] for c in nb.cells] == ["c000", "c001", "c002"]
    colab = nb.cells[0]
    assert colab.metadata["tags"] == ["setup"]
    assert "google.colab" in colab.source and f"git+{REPO_URL}@{REPO_REF}" in colab.source
    compile(colab.source, "colab-cell", "exec")  # valid Python
    assert nb.cells[1].metadata["slideshow"] == {"slide_type": "slide"}
    assert all(c.get("outputs", []) == [] for c in nb.cells)
    assert nb.metadata["edu_gen"]["source"] == "lessons/00_demo.py"
    exercise = nbformat.read(root / "exercises" / "00_demo_exercises.ipynb", as_version=4)
    assert "raise NotImplementedError" in exercise.cells[2].source


def test_colab_cell_pins_the_package_version_and_a_fork_can_set_its_url(tmp_path, monkeypatch):
    tomllib = pytest.importorskip("tomllib")

    import edu_gen

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert REPO_REF == f"v{version}" == f"v{edu_gen.__version__}"
    monkeypatch.setenv("EDU_GEN_REPO_URL", "https://github.com/someone/fork/")
    root = _mini_repo(tmp_path)
    build.build(root)
    colab = nbformat.read(root / "notebooks" / "00_demo.ipynb", as_version=4).cells[0]
    assert f"git+https://github.com/someone/fork@{REPO_REF}" in colab.source
    assert "someone/fork/blob/main/x.ipynb" in build.colab_url("x.ipynb")
    monkeypatch.setenv("EDU_GEN_REPO_URL", "git@github.com:someone/fork")
    with pytest.raises(ValueError, match="EDU_GEN_REPO_URL"):
        build.colab_cell_source()


def test_check_detects_drift_and_orphans_ignoring_outputs(tmp_path):
    root = _mini_repo(tmp_path)
    build.build(root)
    target = root / "notebooks" / "00_demo.ipynb"
    nb = json.loads(target.read_text())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    nb["cells"][2]["execution_count"] = 1
    target.write_text(json.dumps(nb, indent=1))
    assert build.build(root, check=True) == []  # executed outputs are not drift
    nb["cells"][2]["source"] = ["print(2)"]
    target.write_text(json.dumps(nb, indent=1))
    assert build.build(root, check=True) == [target]
    orphan = root / "solutions" / "99_gone_exercises.ipynb"
    shutil.copy(target, orphan)
    assert orphan in build.build(root, check=True)
    build.build(root)
    assert not orphan.exists() and build.build(root, check=True) == []


def test_repository_build_is_in_sync_with_lessons():
    stale = build.build(ROOT, check=True)
    assert stale == [], f"run `edu-gen build`: stale {[str(p) for p in stale]}"


def test_every_exercise_set_blanks_all_solutions():
    for lesson in sorted((ROOT / "lessons").glob("*_exercises.py")):
        text = lesson.read_text()
        assert text.count(build.BEGIN) >= 3, f"{lesson.name}: fewer than 3 exercises"
        ex = (ROOT / "exercises" / f"{lesson.stem}.ipynb").read_text()
        sol = (ROOT / "solutions" / f"{lesson.stem}.ipynb").read_text()
        assert "SOLUTION" not in ex and "SOLUTION" not in sol
        assert ex.count("NotImplementedError(") >= text.count(build.BEGIN)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("01_autoencoders.py", True),
        ("10a_tabular.py", True),
        ("10b_x_exercises.py", True),
        ("1_short.py", False),
        ("10ab_two_letters.py", False),
        ("README.md", False),
    ],
)
def test_lesson_names_allow_chapter_parts(name, ok):
    assert bool(build.LESSON_NAME.match(name)) is ok


def test_build_command_takes_a_fork_address(tmp_path, monkeypatch, capsys):
    from edu_gen.course import cli

    monkeypatch.setenv("EDU_GEN_REPO_URL", REPO_URL)  # restored after the test
    root = _mini_repo(tmp_path)
    url = "https://github.com/someone/fork"
    assert cli.main(["build", "--root", str(root), "--repo-url", url]) == 0
    colab = nbformat.read(root / "notebooks" / "00_demo.ipynb", as_version=4).cells[0]
    assert f"git+{url}@{REPO_REF}" in colab.source
    assert cli.main(["build", "--root", str(root), "--repo-url", "ftp://x"]) == 2
    assert "EDU_GEN_REPO_URL" in capsys.readouterr().err
