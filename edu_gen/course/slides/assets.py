"""The JavaScript an offline deck needs (reveal.js, MathJax 2, the widget manager,
mermaid), installed from the npm registry into a cache and copied next to portable decks.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE_DIR = Path(".cache/edu_gen/js")
ASSETS_DIRNAME = "_assets"
"""Folder next to the decks that holds the copied JavaScript of portable decks."""


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


def copy_portable(assets: dict[str, Path], cache_dir: Path, dest: Path) -> dict[str, Path]:
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
