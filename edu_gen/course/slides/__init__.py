"""reveal.js slides for every lesson, online (CDN) or fully offline.

``notebooks/NN_slug.ipynb`` → ``build/slides/NN_slug.slides.html`` with nbconvert's
:class:`~nbconvert.exporters.SlidesExporter` (its ``reveal`` template, reveal.js 4):

* a deck is a lecture (:mod:`.lecture`): prose, equations and what code produces, the
  code itself in the speaker notes unless a cell is tagged ``show_code`` (or ``--code``);
  cells tagged ``setup`` are dropped, ``remove_output`` / ``remove_input`` keep a cell's
  input / output only; long cells become sub-slides so that every slide fits 1280×720;
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

Modules: :mod:`.assets` (the npm packages and their cache), :mod:`.lecture` (what goes on
which slide), :mod:`.template` (the reveal.js page and its stylesheet), :mod:`.deck`
(export and the ``edu-gen slides`` command), :mod:`.offline` (the scan for network
references), :mod:`.browser` (headless Chromium: measure, print, contact sheet) and
:mod:`.review` (``--check``, ``--pdf``, ``--sheet``).
"""

from edu_gen.course.slides.assets import (
    HTML_MANAGER_VERSION,
    MATHJAX_VERSION,
    PACKAGES,
    REVEAL_VERSION,
    JsPackage,
    OfflineAssetError,
    install_offline_assets,
    missing_offline_packages,
)
from edu_gen.course.slides.deck import (
    build_all,
    build_slides,
    execute_notebook,
    export_slides,
    main,
    notebook_needs,
)
from edu_gen.course.slides.offline import find_remote_references, offline_problems
from edu_gen.course.slides.template import SLIDE_SIZE

__all__ = [
    "HTML_MANAGER_VERSION",
    "MATHJAX_VERSION",
    "PACKAGES",
    "REVEAL_VERSION",
    "SLIDE_SIZE",
    "JsPackage",
    "OfflineAssetError",
    "build_all",
    "build_slides",
    "execute_notebook",
    "export_slides",
    "find_remote_references",
    "install_offline_assets",
    "main",
    "missing_offline_packages",
    "notebook_needs",
    "offline_problems",
]
