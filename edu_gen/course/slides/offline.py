"""Proof that a deck is offline: every script, stylesheet, image or import the HTML (and
the stylesheets it loads) would fetch, listed when it points at the network.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
