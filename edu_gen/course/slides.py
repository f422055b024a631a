"""reveal.js slides for every lesson, online (CDN) or fully offline.

``notebooks/NN_slug.ipynb`` → ``build/slides/NN_slug.slides.html`` with nbconvert's
:class:`~nbconvert.exporters.SlidesExporter` (its ``reveal`` template, reveal.js 4):

* cells tagged ``setup`` (the Colab install cell, imports) are dropped,
  ``remove_output`` keeps a cell's input only and ``remove_input`` its output only;
* markdown images are embedded, so a deck does not depend on where the notebook lived;
* ``execute=True`` runs the notebook first (nbclient, FAST mode) so the deck shows figures.

Offline decks (``offline=True``) point at JavaScript installed from the npm registry into
an ignored cache (default ``.cache/edu_gen/js``) by :func:`install_offline_assets`, through
relative paths from the deck, or, with ``portable=True``, at a copy under
``<out_dir>/_assets/`` so the output folder can be handed out whole. Either way the
exported HTML is scanned and the build fails if any script, stylesheet or other
resource would still be fetched over the network.

The pins follow what nbconvert's reveal template is written for: reveal.js 4
(``dist/reveal.js`` loaded through require.js, the notes plugin) and MathJax 2 (its
config script calls ``MathJax.Hub``; the default URL is MathJax 2.7.7's
``latest.js?config=TeX-AMS_CHTML-full,Safe``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import nbformat

DEFAULT_NOTEBOOKS_DIR = Path("notebooks")
DEFAULT_OUT_DIR = Path("build/slides")
DEFAULT_CACHE_DIR = Path(".cache/edu_gen/js")
ASSETS_DIRNAME = "_assets"
"""Folder next to the decks that holds the copied JavaScript of portable decks."""

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

_TEMPLATE_NAME = "edu_gen_reveal.html.j2"
# The stock reveal template imports mermaid as an ES module from a CDN in every deck.
# ES modules do not load from file:// pages, so this child template emits mermaid only
# for notebooks that contain a diagram: the CDN import online, and the package's
# self-contained classic-script build (``dist/mermaid.min.js``) offline.
_TEMPLATE_SOURCE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}
{%- if resources.edu_gen_mermaid == 'local' %}
<script src="{{ resources.edu_gen_mermaid_src }}"></script>
<script>mermaid.initialize({ startOnLoad: true });</script>
{%- elif resources.edu_gen_mermaid == 'cdn' -%}
{{ super() }}
{%- endif -%}
{%- endblock html_head_js_mermaidjs -%}
"""


@dataclass(frozen=True)
class JsPackage:
    """One npm package an offline deck needs, pinned to an exact version."""

    key: str
    """Name of the piece in :func:`install_offline_assets`' result."""
    name: str
    """npm package name."""
    version: str
    """Exact version installed with ``npm install name@version``."""
    entry: str
    """The file (or, if empty, the package folder) that decks reference."""
    portable: tuple[str, ...]
    """Files and folders of the package copied next to portable decks."""
    optional: bool = False
    """Installed only when a notebook needs it."""


PACKAGES: tuple[JsPackage, ...] = (
    # reveal.js 4.x: the template requires dist/reveal.js (UMD) and plugin/notes/notes.js;
    # the template is written for reveal.js 4 (its CDN default is 4.0.2); 4.6.1 is the last
    # 4.x release.
    JsPackage("reveal", "reveal.js", "4.6.1", "", ("dist", "plugin/notes", "LICENSE")),
    # MathJax 2.x: the template configures MathJax.Hub, which MathJax 3 removed. 2.7.9 is the
    # last 2.x release; nbconvert's CDN URL (2.7.7's latest.js) also resolves to the newest 2.x.
    JsPackage(
        "mathjax",
        "mathjax",
        "2.7.9",
        "MathJax.js",
        ("MathJax.js", "config", "extensions", "fonts", "jax", "localization", "LICENSE"),
    ),
    # require.js loads reveal.js and the widget manager; 2.3.8 is the newest 2.x release
    # (nbconvert's CDN default is the old 2.1.10; the API the template uses is unchanged).
    JsPackage("requirejs", "requirejs", "2.3.8", "require.js", ("require.js",)),
    # jQuery: used by the template's scrolling helper and by many notebook outputs.
    JsPackage(
        "jquery", "jquery", "3.7.1", "dist/jquery.min.js", ("dist/jquery.min.js", "LICENSE.txt")
    ),
    # Jupyter widget renderer for notebooks with saved widget state (ipywidgets 8 →
    # html-manager 1.x; nbconvert's default semver range "*" resolves to the newest 1.0.x).
    JsPackage(
        "html_manager",
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "dist/embed-amd.js",
        ("dist",),
    ),
    # mermaid 11.10.0 is the version nbconvert's default mermaid_js_url names.
    JsPackage(
        "mermaid",
        "mermaid",
        "11.10.0",
        "dist/mermaid.min.js",
        ("dist/mermaid.min.js", "LICENSE"),
        optional=True,
    ),
)
_BY_KEY = {package.key: package for package in PACKAGES}
REVEAL_VERSION = _BY_KEY["reveal"].version
MATHJAX_VERSION = _BY_KEY["mathjax"].version
HTML_MANAGER_VERSION = _BY_KEY["html_manager"].version


class OfflineAssetError(RuntimeError):
    """An offline deck would fetch something from the network or misses a local file."""


# --------------------------------------------------------------------------- npm cache


def _wanted(mermaid: bool) -> list[JsPackage]:
    return [p for p in PACKAGES if not p.optional or (p.key == "mermaid" and mermaid)]


def _package_dir(cache_dir: Path, package: JsPackage) -> Path:
    return Path(cache_dir) / "node_modules" / package.name


def _installed_version(cache_dir: Path, package: JsPackage) -> str | None:
    manifest = _package_dir(cache_dir, package) / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
    except (OSError, ValueError):
        return None


def missing_offline_packages(
    cache_dir: Path = DEFAULT_CACHE_DIR, *, mermaid: bool = False
) -> list[str]:
    """``name@version`` of every pinned package not (or not correctly) in ``cache_dir``."""
    missing = []
    for package in _wanted(mermaid):
        entry = _package_dir(cache_dir, package) / package.entry
        if _installed_version(cache_dir, package) != package.version or not entry.exists():
            missing.append(f"{package.name}@{package.version}")
    return missing


@contextlib.contextmanager
def _install_lock(cache_dir: Path) -> Iterator[None]:
    """Serialise installs into one cache (pytest-xdist workers, parallel builds)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, npm copes with most races
        yield
        return
    with open(cache_dir / ".install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_offline_assets(
    cache_dir: Path = DEFAULT_CACHE_DIR, *, mermaid: bool = False
) -> dict[str, Path]:
    """Install the pinned JavaScript into ``cache_dir`` (only what is missing).

    Runs ``npm install --prefix <cache_dir> name@version ...`` when a pinned package is
    absent or at another version, and does nothing otherwise (no network, no npm needed).
    Returns each piece a deck references: ``reveal`` (the package folder), ``mathjax``
    (``MathJax.js``), ``requirejs``, ``jquery``, ``html_manager`` (``embed-amd.js``) and,
    with ``mermaid=True``, ``mermaid`` (``mermaid.min.js``).
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if missing_offline_packages(cache_dir, mermaid=mermaid):
        with _install_lock(cache_dir):
            missing = missing_offline_packages(cache_dir, mermaid=mermaid)
            if missing:
                _npm_install(cache_dir, missing)
        still = missing_offline_packages(cache_dir, mermaid=mermaid)
        if still:
            raise RuntimeError(f"npm install left these packages missing in {cache_dir}: {still}")
    return {p.key: _package_dir(cache_dir, p) / p.entry for p in _wanted(mermaid)}


def _npm_install(cache_dir: Path, specs: Sequence[str]) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "offline slides need npm to install "
            + ", ".join(specs)
            + f" into {cache_dir} (e.g. `apt-get install -y npm`, or copy a filled cache there)"
        )
    command = [
        npm,
        "install",
        "--prefix",
        str(cache_dir),
        "--save-exact",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
        *specs,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr.strip()}"
        )


def _copy_portable(assets: dict[str, Path], cache_dir: Path, dest: Path) -> dict[str, Path]:
    """Copy the needed part of each package to ``dest/<name>-<version>/`` (once per version)."""
    copied: dict[str, Path] = {}
    for key, entry in assets.items():
        package = _BY_KEY[key]
        source = _package_dir(cache_dir, package)
        target = dest / f"{package.name.rsplit('/', 1)[-1]}-{package.version}"
        if not target.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=dest))
            try:
                for part in package.portable:
                    src, dst = source / part, staging / part
                    if src.is_dir():
                        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.map"))
                    elif src.is_file():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, dst)
                try:
                    staging.rename(target)
                except OSError:  # another build got there first
                    if not target.is_dir():
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        copied[key] = target / entry.relative_to(source)
    return copied


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
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    env = dict(os.environ)
    env["EDU_GEN_FAST"] = "1"
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    kernel = nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env=env)
    return nb


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
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE_SOURCE})],
        template_file=_TEMPLATE_NAME,
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
) -> Path:
    """Write ``<out_dir>/<stem>.slides.html`` for one notebook and return its path.

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
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{notebook.stem}.slides.html"
    urls = None
    if offline:
        needs = notebook_needs(nb)
        assets = install_offline_assets(cache_dir, mermaid=needs["mermaid"])
        if portable:
            if not needs["widgets"]:
                assets.pop("html_manager")
            assets = _copy_portable(assets, Path(cache_dir), out_dir / ASSETS_DIRNAME)
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
        )
        for notebook in sorted(notebooks_dir.glob("*.ipynb"))
    ]


# --------------------------------------------------------------------------- offline check

# Elements whose attributes make the browser fetch something when the page loads.
_FETCHING_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
}
_NETWORK_SCHEMES = {"http", "https", "ftp", "ws", "wss"}
_CSS_URL = re.compile(
    r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)|url\(\s*["']?([^"')\s]+)""", re.IGNORECASE
)
# A quoted URL of a script, module or stylesheet inside inline JavaScript (require() lists,
# dynamically added <script> elements, ES module imports).
_JS_RESOURCE = re.compile(
    r"""(["'`])((?:https?:)?//[^"'`\s]+?\.(?:m?js|css)(?:[?#][^"'`\s]*)?)\1""", re.IGNORECASE
)
_JS_IMPORT = re.compile(r"""\bimport\b[^;"'`]*?\(?\s*(["'`])((?:https?:)?//[^"'`\s]+)\1""")


def _is_remote(url: str) -> bool:
    url = url.strip()
    if url.startswith("//"):
        return True
    return urlsplit(url).scheme.lower() in _NETWORK_SCHEMES


def _is_local_file(url: str) -> bool:
    url = url.strip()
    return (
        bool(url) and not url.startswith("#") and not urlsplit(url).scheme and not _is_remote(url)
    )


class _ResourceScanner(HTMLParser):
    """Collect fetching attributes plus inline script and style text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._inside: str | None = None
        self._data_script = False
        self._chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        for name in _FETCHING_ATTRS.get(tag, ()):
            value = values.get(name, "").strip()
            if not value:
                continue
            if name == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        self.attrs.append((tag, name, candidate.split()[0]))
            else:
                self.attrs.append((tag, name, value))
        if "style" in values:
            self.styles.append(values["style"])
        if tag in ("script", "style"):
            self._inside = tag
            self._data_script = tag == "script" and "json" in values.get("type", "").lower()
            self._chunks = []

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self._chunks.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._inside:
            return
        text = "".join(self._chunks)
        if tag == "style":
            self.styles.append(text)
        elif not self._data_script:
            self.scripts.append(text)
        self._inside = None


def _css_refs(css: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _CSS_URL.finditer(css)]


def find_remote_references(html: str) -> list[str]:
    """Everything in ``html`` that a browser would fetch over the network on load.

    Covers ``src``/``href``/``srcset``/... of fetching elements (scripts, stylesheets,
    images, frames, media), ``@import``/``url()`` in inline CSS, and script or stylesheet
    URLs in inline JavaScript (``require([...])``, ``import``, injected ``<script>``).
    Ordinary links (``<a href>``) are not fetched and are not reported.
    """
    scanner = _ResourceScanner()
    scanner.feed(html)
    scanner.close()
    found = [f"<{tag} {attr}={value!r}>" for tag, attr, value in scanner.attrs if _is_remote(value)]
    for css in scanner.styles:
        found += [f"CSS url {ref!r}" for ref in _css_refs(css) if _is_remote(ref)]
    for script in scanner.scripts:
        refs = {m.group(2) for m in _JS_RESOURCE.finditer(script)}
        refs |= {m.group(2) for m in _JS_IMPORT.finditer(script)}
        found += [f"script loads {ref!r}" for ref in sorted(refs)]
    return found


def _local_path(url: str, base: Path) -> Path:
    return base / unquote(urlsplit(url.strip()).path)


def _remote_in_stylesheet(path: Path, seen: set[Path]) -> list[str]:
    """Remote ``@import``/``url()`` in a local stylesheet and the local ones it imports."""
    path = path.resolve()
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    found = []
    for ref in _css_refs(path.read_text(encoding="utf-8", errors="replace")):
        if _is_remote(ref):
            found.append(f"{path.name} loads {ref!r}")
        elif _is_local_file(ref) and ref.lower().split("?")[0].endswith(".css"):
            found += _remote_in_stylesheet(_local_path(ref, path.parent), seen)
    return found


def offline_problems(html: str, html_dir: Path) -> list[str]:
    """Why a deck in ``html_dir`` would not work offline (empty list: it would).

    Remote references anywhere in the page (:func:`find_remote_references`), local
    scripts or stylesheets that do not exist, and remote ``@import``/``url()`` inside the
    local stylesheets (e.g. a reveal.js theme that pulls Google Fonts).
    """
    problems = find_remote_references(html)
    scanner = _ResourceScanner()
    scanner.feed(html)
    scanner.close()
    seen: set[Path] = set()
    for tag, _attr, value in scanner.attrs:
        if tag not in ("script", "link") or not _is_local_file(value):
            continue
        path = _local_path(value, Path(html_dir))
        if not path.exists():
            problems.append(f"missing local file {value!r} (looked for {path})")
        elif tag == "link":
            problems += _remote_in_stylesheet(path, seen)
    return problems


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``edu-gen slides [--offline] [--portable] [--execute] [--out DIR] [NOTEBOOK ...]``."""
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
    args = parser.parse_args(argv)
    options = {
        "offline": args.offline,
        "portable": args.portable,
        "cache_dir": args.cache,
        "execute": args.execute,
        "theme": args.theme,
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
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
