"""Export: a lesson notebook → a reveal.js deck (nbconvert's SlidesExporter with a child
template), online or offline, and the ``edu-gen slides`` command.

Length: export, building one deck or all, and the command with its options read in one
place; the template is in ``template.py``, the browser review in ``review.py``.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import nbformat

from edu_gen.course.execute import INLINE_BACKEND, execute
from edu_gen.course.slides.assets import (
    ASSETS_DIRNAME,
    DEFAULT_CACHE_DIR,
    HTML_MANAGER_VERSION,
    REVEAL_VERSION,
    OfflineAssetError,
    copy_portable,
    install_offline_assets,
)
from edu_gen.course.slides.lecture import lecture
from edu_gen.course.slides.offline import offline_problems
from edu_gen.course.slides.template import LECTURE_CSS, SLIDE_SIZE, TEMPLATE_NAME, TEMPLATE_SOURCE

DEFAULT_NOTEBOOKS_DIR = Path("notebooks")
DEFAULT_OUT_DIR = Path("build/slides")

DEFAULT_THEME = "white"
"""reveal.js theme. ``white`` ships its fonts; ``simple`` (nbconvert's default) and several
other reveal.js 4 themes ``@import`` Google Fonts, which an offline deck cannot load."""

REMOVE_CELL_TAGS = ("setup",)
REMOVE_OUTPUT_TAGS = ("remove_output",)
REMOVE_INPUT_TAGS = ("remove_input",)

MATHJAX_CONFIG = "TeX-AMS_CHTML-full,Safe"
"""The MathJax 2 combined configuration nbconvert's default ``mathjax_url`` asks for."""

ONLINE_REVEAL_PREFIX = "https://unpkg.com/reveal.js@{version}"
"""Online decks load the same reveal.js version that offline decks install."""

# --------------------------------------------------------------------------- export


def notebook_needs(nb: nbformat.NotebookNode) -> dict[str, bool]:
    """Which optional pieces a notebook uses: ``widgets`` (saved state), ``mermaid``."""
    fence = re.compile(r"^[ \t]*(```|~~~)[ \t]*mermaid\b", re.MULTILINE)
    mermaid = False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and fence.search(cell.source):
            mermaid = True
        for output in cell.get("outputs", []):
            if "text/vnd.mermaid" in output.get("data", {}):
                mermaid = True
    return {"widgets": "widgets" in nb.metadata, "mermaid": mermaid}


def _href(target: Path, start: Path) -> str:
    """URL of ``target`` as seen from a page in ``start``: relative where possible."""
    try:
        rel = os.path.relpath(Path(target).resolve(), Path(start).resolve())
    except ValueError:  # other drive (Windows): fall back to an absolute file:// URL
        return Path(target).resolve().as_uri()
    return quote(Path(rel).as_posix(), safe="/@")


def execute_notebook(
    nb: nbformat.NotebookNode, cwd: Path, *, timeout: int = 600
) -> nbformat.NotebookNode:
    """Run every cell with nbclient in FAST mode (``EDU_GEN_FAST=1``); return a new notebook.

    Figures are captured with matplotlib's inline backend even where the calling process
    set ``MPLBACKEND`` (e.g. to ``Agg``). A failing cell raises nbclient's
    ``CellExecutionError``.
    """
    nb = copy.deepcopy(nb)
    env = {"EDU_GEN_FAST": "1", "MPLBACKEND": INLINE_BACKEND}
    return execute(nb, cwd, env=env, timeout=timeout, allow_errors=False)


def _exporter(theme: str, urls: dict[str, str] | None):
    from jinja2 import DictLoader
    from nbconvert.exporters import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
    config.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    config.TagRemovePreprocessor.remove_input_tags = set(REMOVE_INPUT_TAGS)
    config.SlidesExporter.reveal_theme = theme
    config.SlidesExporter.embed_images = True
    config.SlidesExporter.html_manager_semver_range = HTML_MANAGER_VERSION
    if urls is None:
        config.SlidesExporter.reveal_url_prefix = ONLINE_REVEAL_PREFIX.format(
            version=REVEAL_VERSION
        )
    else:
        config.SlidesExporter.reveal_url_prefix = urls["reveal"]
        config.SlidesExporter.mathjax_url = f"{urls['mathjax']}?config={MATHJAX_CONFIG}"
        config.SlidesExporter.require_js_url = urls["requirejs"]
        config.SlidesExporter.jquery_url = urls["jquery"]
        config.SlidesExporter.widget_renderer_url = urls.get("html_manager", "")
    return SlidesExporter(
        config=config,
        extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE_SOURCE})],
        template_file=TEMPLATE_NAME,
    )


def export_slides(
    nb: nbformat.NotebookNode,
    *,
    name: str,
    path: Path,
    theme: str = DEFAULT_THEME,
    urls: dict[str, str] | None = None,
) -> str:
    """Render ``nb`` as reveal.js HTML (a string; nothing is written).

    ``urls`` is ``None`` for an online deck (CDN URLs) or maps each piece of
    :func:`install_offline_assets` (``reveal``, ``mathjax``, ``requirejs``, ``jquery``,
    ``html_manager``, optionally ``mermaid``) to the URL the deck should load it from.
    """
    needs = notebook_needs(nb)
    resources: dict[str, object] = {
        "metadata": {"name": name, "path": str(path)},
        "edu_gen_css": LECTURE_CSS,
        "edu_gen_width": SLIDE_SIZE[0],
        "edu_gen_height": SLIDE_SIZE[1],
        "edu_gen_mermaid": "",
        "edu_gen_mermaid_src": "",
    }
    if needs["mermaid"] and urls is None:
        resources["edu_gen_mermaid"] = "cdn"
    elif needs["mermaid"] and urls.get("mermaid"):
        resources["edu_gen_mermaid"] = "local"
        resources["edu_gen_mermaid_src"] = urls["mermaid"]
    html, _ = _exporter(theme, urls).from_notebook_node(nb, resources=resources)
    return html


def build_slides(
    notebook: Path,
    out_dir: Path,
    *,
    offline: bool = False,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    execute: bool = False,
    theme: str = DEFAULT_THEME,
    portable: bool = False,
    code: bool = False,
) -> Path:
    """Write ``<out_dir>/<stem>.slides.html`` for one notebook and return its path.

    The notebook is arranged as a lecture first (:func:`~edu_gen.course.slides.lecture.
    lecture`: code hidden unless tagged ``show_code`` or ``code=True``, pagination).

    ``offline=True`` installs the pinned JavaScript into ``cache_dir`` if needed and points
    the deck at it through relative paths; ``portable=True`` (implies offline) copies it to
    ``<out_dir>/_assets/`` instead. An offline deck that would still load anything over the
    network, or whose local scripts and stylesheets are missing, raises
    :class:`OfflineAssetError` and is not written. ``execute=True`` runs the notebook first.
    """
    notebook, out_dir = Path(notebook), Path(out_dir)
    offline = offline or portable
    nb = nbformat.read(notebook, as_version=4)
    if execute:
        nb = execute_notebook(nb, notebook.parent)
    nb = lecture(nb, code=code)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{notebook.stem}.slides.html"
    urls = None
    if offline:
        needs = notebook_needs(nb)
        assets = install_offline_assets(cache_dir, mermaid=needs["mermaid"])
        if portable:
            if not needs["widgets"]:
                assets.pop("html_manager")
            assets = copy_portable(assets, Path(cache_dir), out_dir / ASSETS_DIRNAME)
        urls = {key: _href(path, out_dir) for key, path in assets.items()}
    html = export_slides(nb, name=notebook.stem, path=notebook.parent, theme=theme, urls=urls)
    if offline:
        problems = offline_problems(html, out_dir)
        if problems:
            raise OfflineAssetError(
                f"{notebook}: the offline deck would not open without a network:\n  "
                + "\n  ".join(problems)
            )
    target.write_text(html, encoding="utf-8")
    return target


def build_all(
    notebooks_dir: Path = DEFAULT_NOTEBOOKS_DIR,
    out_dir: Path = DEFAULT_OUT_DIR,
    *,
    offline: bool = False,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    execute: bool = False,
    theme: str = DEFAULT_THEME,
    portable: bool = False,
    code: bool = False,
) -> list[Path]:
    """:func:`build_slides` for every ``notebooks_dir/*.ipynb`` (sorted); return the decks."""
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"no notebook folder {notebooks_dir}")
    return [
        build_slides(
            notebook,
            out_dir,
            offline=offline,
            cache_dir=cache_dir,
            execute=execute,
            theme=theme,
            portable=portable,
            code=code,
        )
        for notebook in sorted(notebooks_dir.glob("*.ipynb"))
    ]


def parser() -> argparse.ArgumentParser:
    """The options of ``edu-gen slides``."""
    parser = argparse.ArgumentParser(
        prog="edu-gen slides",
        description="Build reveal.js slides (<out>/<stem>.slides.html) from course notebooks.",
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help=f"notebooks to convert (default: every {DEFAULT_NOTEBOOKS_DIR}/*.ipynb)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="output folder")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="reference only local JavaScript (installed with npm into --cache once)",
    )
    parser.add_argument(
        "--portable",
        action="store_true",
        help=f"offline, with the JavaScript copied to <out>/{ASSETS_DIRNAME}/ (hand out <out>)",
    )
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE_DIR, help="npm cache of offline assets"
    )
    parser.add_argument(
        "--execute", action="store_true", help="run each notebook first (FAST mode) for figures"
    )
    parser.add_argument("--theme", default=DEFAULT_THEME, help="reveal.js theme name")
    parser.add_argument(
        "--code",
        action="store_true",
        help="show every code cell (default: only cells tagged "
        "show_code; the others' code is in the speaker notes)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="open each deck in headless Chromium and fail if a slide overflows 1280×720",
    )
    parser.add_argument("--pdf", action="store_true", help="also print a PDF handout per deck")
    parser.add_argument(
        "--sheet", action="store_true", help="with --pdf: also a contact sheet (PNG) per deck"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``edu-gen slides [--offline] [--portable] [--execute] [--out DIR] [NOTEBOOK ...]``."""
    args = parser().parse_args(argv)
    options = {
        "offline": args.offline,
        "portable": args.portable,
        "cache_dir": args.cache,
        "execute": args.execute,
        "theme": args.theme,
        "code": args.code,
    }
    try:
        if args.notebooks:
            decks = [build_slides(nb, args.out, **options) for nb in args.notebooks]
        else:
            decks = build_all(DEFAULT_NOTEBOOKS_DIR, args.out, **options)
    except (OfflineAssetError, RuntimeError, FileNotFoundError, ValueError) as error:
        print(f"edu-gen slides: error: {error}", file=sys.stderr)
        return 1
    for deck in decks:
        print(deck)
    if not decks:
        print(f"edu-gen slides: no notebooks found in {DEFAULT_NOTEBOOKS_DIR}", file=sys.stderr)
    sources = args.notebooks or sorted(DEFAULT_NOTEBOOKS_DIR.glob("*.ipynb"))
    return _review(decks, sources, check=args.check, pdf=args.pdf, sheet=args.sheet)


def _review(decks: list[Path], sources: list[Path], *, check: bool, pdf: bool, sheet: bool) -> int:
    from edu_gen.course.slides.browser import BrowserError
    from edu_gen.course.slides.review import handout, review

    problems: list[str] = []
    try:
        for deck, source in zip(decks, sources, strict=True):
            if check:
                problems += review(deck, source)
            if pdf or sheet:
                for path in handout(deck, sheet=sheet):
                    print(path)
    except (BrowserError, RuntimeError) as error:
        print(f"edu-gen slides: error: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"edu-gen slides: {problem}", file=sys.stderr)
    if check:
        print(f"checked {len(decks)} deck(s): {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
