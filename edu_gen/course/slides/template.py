"""The deck's HTML: a child of nbconvert's reveal template, and the lecture stylesheet.

The child template loads mermaid only where a notebook has a diagram, adds
:data:`LECTURE_CSS`, and initialises reveal.js itself: a 1280×720 slide
(:data:`SLIDE_SIZE`), content from the top, numbered slides, no transition, one PDF page
per slide, MathJax re-rendered on each slide change, and ``window.Reveal`` exposed for the
browser check.
"""

from __future__ import annotations

TEMPLATE_NAME = "edu_gen_reveal.html.j2"
# The stock reveal template imports mermaid as an ES module from a CDN in every deck.
# ES modules do not load from file:// pages, so this child template emits mermaid only
# for notebooks that contain a diagram: the CDN import online, and the package's
# self-contained classic-script build (``dist/mermaid.min.js``) offline.
TEMPLATE_SOURCE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}
{%- if resources.edu_gen_mermaid == 'local' %}
<script src="{{ resources.edu_gen_mermaid_src }}"></script>
<script>mermaid.initialize({ startOnLoad: true });</script>
{%- elif resources.edu_gen_mermaid == 'cdn' -%}
{{ super() }}
{%- endif -%}
{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">
{{ resources.edu_gen_css }}
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<script>
require(
    {waitSeconds: 15},
    ["{{ resources.reveal.url_prefix }}/dist/reveal.js",
     "{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"],
    function (Reveal, RevealNotes) {
        window.Reveal = Reveal;  // for the browser check and the console
        Reveal.initialize({
            controls: true, progress: true, hash: true, slideNumber: "c/t",
            transition: "none", center: false, plugins: [RevealNotes],
            width: {{ resources.edu_gen_width }}, height: {{ resources.edu_gen_height }},
            margin: 0.04, pdfMaxPagesPerSlide: 1, pdfSeparateFragments: false
        });
        Reveal.on("slidechanged", function () {
            if (window.MathJax && MathJax.Hub && MathJax.Hub.getAllJax(Reveal.getCurrentSlide())) {
                MathJax.Hub.Rerender(Reveal.getCurrentSlide());
            }
        });
    }
);
</script>
{% endblock footer_js %}
"""

SLIDE_SIZE = (1280, 720)
"""reveal.js' slide size: a 16:9 slide drawn 1:1 on a 1280×720 screen, scaled on others."""

LECTURE_CSS = """
.reveal { font-size: 26px; }
.reveal h1, .reveal h2, .reveal h3 { text-transform: none; }
@media print { .pdf-page:last-of-type { page-break-after: avoid !important; break-after: avoid; } }
.reveal .slides { text-align: left; }
.reveal .slides section { line-height: 1.35; }
.reveal h1 { font-size: 1.9em; } .reveal h2 { font-size: 1.45em; } .reveal h3 { font-size: 1.15em; }
.reveal p, .reveal li { margin: 0.3em 0; }
.reveal section img, .reveal .jp-RenderedImage img {
  max-height: 480px !important; max-width: 100% !important; height: auto; object-fit: contain; }
.reveal section img:not([width]), .reveal .jp-RenderedImage img:not([width]) { width: auto; }
.reveal pre, .reveal .jp-OutputArea-output pre {
  font-size: 0.6em; line-height: 1.25; white-space: pre-wrap; overflow-wrap: anywhere;
  box-shadow: none; margin: 0.2em 0; }
.reveal table, .reveal .jp-RenderedHTMLCommon table { font-size: 18px !important; max-width: 100%; }
.reveal ol[type="a"] { list-style-type: lower-alpha; }
.reveal .jp-RenderedMarkdown pre { font-size: 18px !important; }
.reveal .jp-RenderedHTMLCommon td, .reveal .jp-RenderedHTMLCommon th {
  padding: 0.15em 0.5em; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
.reveal .jp-Cell, .reveal .jp-Cell-inputWrapper, .reveal .jp-OutputArea-child { padding: 0; }
.reveal .MathJax_Display, .reveal .MathJax_CHTML { max-width: 100%; }
"""
