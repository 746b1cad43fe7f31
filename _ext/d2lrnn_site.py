"""Small Sphinx additions for the d2lrnn website (_config.yml local_extensions).

1. Author-year labels in the bibliography.  With ``bibtex_reference_style:
author_year`` a citation reads [Elman, 1990] in the text, but pybtex's styles label the
reference list [Elm90].  The bibtex style ``d2lrnn_author_year`` is pybtex's ``plain``
with labels that match the citations: [Elman, 1990], [Hochreiter and Schmidhuber,
1997], [Zhang et al., 2023].

2. No duplicate inline scripts.
Sphinx 7.4 (the last series Jupyter Book 1 supports) adds every inline script that an
extension registers with ``app.add_js_file(None, body=...)`` twice to each page, once
as ``None`` and once as ``''`` (sphinx-doc/sphinx#13402, fixed in Sphinx 8.2).  For
sphinx-thebe's ``const THEBE_JS_URL`` this is a JavaScript error on every page, which
the browser test (tests/test_site.py) rightly reports.  This extension drops the exact
duplicates from each page's script list, as the upstream fix does.

3. Figures of a cell that draws several get one name each (``NameCellFigures``),
hence a number and a {numref} target; the convention is in the README.

4. A lighter page: the template ``templates/layout.html`` and d2lrnn_assets.py
(icons, search scripts, unused assets, lazy figures) and d2lrnn_purge.py (CSS rules
that match nothing).  The MathJax context menu is loaded when a reader opens it
(``static/d2lrnn-mathjax-menu.js``).

5. ``static/d2lrnn.css`` and ``static/d2lrnn-scroll.js``: what scrolls sideways shows
a cue, tables and outputs fit the column, figures keep readable labels on a phone.

The theme's second header (pydata/pydata-sphinx-theme#2451) is switched off in
_config.yml (``navbar_persistent: []``), not here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import d2lrnn_assets as assets
from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

STYLE = "d2lrnn_author_year"


def author_year_label(entry: Any) -> str:
    """Return "Last, year", "Last and Last, year" or "Last et al., year"."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [
        " ".join(part.render_as("text") for part in person.rich_last_names)
        for person in persons
    ]
    year = entry.fields.get("year", "n.d.")
    if not names:
        return f"{entry.key}, {year}"
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {year}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels; equal ones get a, b, ... after the year."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        entries = list(sorted_entries)
        labels = [author_year_label(entry) for entry in entries]
        counts = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style with author-year labels."""

    default_label_style = STYLE


def _script_key(script: Any) -> tuple:
    # Sphinx's _JavaScript (filename, attributes) or, in older themes, a plain string.
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (
        str(filename),
        tuple(sorted((str(k), str(v)) for k, v in attributes.items())),
    )


def drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Keep only the first of identical ``<script>`` entries of a page."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


class NameCellFigures(SphinxTransform):
    """Name the figures of a cell that draws several, from its metadata.

    myst-nb gives every figure of a cell the cell's ``mystnb.figure`` options, so a
    cell with three plots cannot give each its own name there (three equal names
    are an error).  Such a cell lists them instead, in order::

        "d2lrnn": {"figure_names": ["fig-train-rnn", "fig-train-gru", ...]}

    and each figure gets its name, hence a number and a {numref} target.
    """

    default_priority = 200  # before Sphinx's AutoNumbering (210) ids the figures

    def apply(self, **kwargs: Any) -> None:
        for cell in self.document.findall(nodes.container):
            if cell.get("nb_element") != "cell_code":
                continue
            meta = cell.get("cell_metadata") or {}
            names = (meta.get("d2lrnn") or {}).get("figure_names")
            if not names:
                continue
            figures = list(cell.findall(nodes.figure))
            if len(figures) != len(names):
                logger.warning(
                    "cell with d2lrnn.figure_names %s draws %d figures",
                    names, len(figures), location=cell,
                )
            for figure, name in zip(figures, names, strict=False):
                name = nodes.fully_normalize_name(name)
                figure["names"].append(name)
                if not figure["ids"] and nodes.make_id(name) not in self.document.ids:
                    figure["ids"].append(nodes.make_id(name))
                self.document.note_explicit_target(figure, figure)


HERE = Path(__file__).resolve().parent


def add_paths(app: Sphinx, config: Any) -> None:
    """Add this extension's templates (a lighter <head>) and static files."""
    config.templates_path.insert(0, str(HERE / "templates"))
    config.html_static_path.append(str(HERE / "static"))


def add_template_filters(app: Sphinx) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["d2lrnn_trim_head"] = assets.trim_head


def setup(app: Sphinx) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    app.connect("config-inited", add_paths)
    app.connect("builder-inited", add_template_filters)
    # Run after the extensions that add page scripts (default priority 500).
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", assets.drop_unused_assets, priority=900)
    app.add_transform(NameCellFigures)
    app.add_post_transform(assets.LazyImages)
    app.add_css_file("d2lrnn.css")
    app.add_js_file("d2lrnn-mathjax-menu.js", defer="defer")
    app.add_js_file("d2lrnn-scroll.js", defer="defer")
    app.connect("build-finished", assets.slim_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
