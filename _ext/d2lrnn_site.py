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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

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


def setup(app: Sphinx) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)
    # Run after the extensions that add page scripts (default priority 500).
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
