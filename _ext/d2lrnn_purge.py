"""Drop CSS rules that can match nothing on the site (imported by d2lrnn_site.py).

The theme's stylesheet carries all of Bootstrap (carousels, accordions, toasts,
form controls, ...), most of which no page of a book uses.  After the build, a rule
is dropped when every one of its selectors names a class that occurs nowhere: in no
``class`` attribute of any page and in no script (scripts add classes at run time,
so every word of every script counts as a class name).  Rules without classes, at-
rules other than @media/@supports (fonts, keyframes) and selectors with escaped
characters are always kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
CLASS_ATTR = re.compile(r"""\bclass=(?:"([^"]*)"|'([^']*)')""")
WORD = re.compile(r"[_a-zA-Z][\w-]*")
# :not(), :is() and :where() may match without the classes they name
LENIENT = re.compile(r":(?:not|is|where)\(")
# Bootstrap builds some class names in its scripts (`bs-${name}-auto`).
ALWAYS = ("bs-",)


def site_classes(html: Iterable[str], scripts: Iterable[str]) -> set[str]:
    """Return every class name the pages use, and every word of the scripts."""
    names: set[str] = set()
    for text in html:
        for match in CLASS_ATTR.finditer(text):
            names.update((match.group(1) or match.group(2) or "").split())
    for text in scripts:
        names.update(WORD.findall(text))
    return names


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses, brackets and strings."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote and text[i - 1] != "\\" else quote
        elif c in "\"'":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def without_lenient(selector: str) -> str:
    """``selector`` without the arguments of :not(), :is() and :where()."""
    while match := LENIENT.search(selector):
        depth, i = 1, match.end()
        while i < len(selector) and depth:
            depth += {"(": 1, ")": -1}.get(selector[i], 0)
            i += 1
        selector = selector[: match.start()] + selector[i:]
    return selector


def selector_can_match(selector: str, classes: set[str]) -> bool:
    """False when ``selector`` needs a class that is nowhere in ``classes``."""
    if "\\" in selector:
        return True
    for name in CLASS.findall(without_lenient(selector)):
        if name not in classes and not name.startswith(ALWAYS):
            return False
    return True


def _block_end(css: str, start: int) -> int:
    """Index just after the ``}`` that closes the ``{`` at ``start``."""
    depth, quote, i = 0, "", start
    while i < len(css):
        c = css[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(css)


def strip_comments(css: str) -> str:
    """Remove the comments of ``css`` outside strings, except licences (/*! ...)."""
    out, i, quote = [], 0, ""
    while i < len(css):
        c = css[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(css):
                out.append(css[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            out.append(c)
        elif css.startswith("/*", i) and not css.startswith("/*!", i):
            end = css.find("*/", i + 2)
            i = len(css) if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def purge_css(css: str, classes: set[str]) -> str:
    """Return ``css`` without the rules none of whose selectors can match."""
    return _purge(strip_comments(css), classes)


def _purge(css: str, classes: set[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(css):
        if css[i].isspace():
            i += 1
            continue
        if css.startswith("/*", i):
            end = css.find("*/", i + 2)
            end = len(css) if end < 0 else end + 2
            out.append(css[i:end])  # a licence: the others are stripped
            i = end
            continue
        brace = css.find("{", i)
        semi = css.find(";", i)
        if brace < 0:
            out.append(css[i:])
            break
        prelude = css[i:brace]
        if prelude.lstrip().startswith("@") and 0 <= semi < brace:
            out.append(css[i : semi + 1])  # @charset, @import
            i = semi + 1
            continue
        end = _block_end(css, brace)
        head = prelude.strip()
        if head.startswith(("@media", "@supports", "@container", "@layer")):
            inner = _purge(css[brace + 1 : end - 1], classes)
            if inner.strip():
                out.append(f"{head}{{{inner}}}")
        elif head.startswith("@"):
            out.append(css[i:end])
        else:
            kept = [s for s in split_top(head) if selector_can_match(s, classes)]
            if kept:
                out.append(",".join(s.strip() for s in kept) + css[brace:end])
        i = end
    return "".join(out)


def purge_site_css(outdir: Path, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Purge the stylesheets ``names`` (file names under _static); return
    {name: (bytes before, bytes after)}."""
    static = outdir / "_static"
    html = [p.read_text("utf-8", errors="replace") for p in outdir.rglob("*.html")]
    scripts = [
        p.read_text("utf-8", errors="replace")
        for p in static.rglob("*.js")
        if p.name != "fontawesome.js"
    ]
    classes = site_classes(html, scripts)
    sizes = {}
    for path in sorted(static.rglob("*.css")):
        if path.name in names or any(path.name.startswith(n) for n in names):
            before = path.read_text("utf-8")
            after = purge_css(before, classes)
            path.write_text(after, "utf-8")
            sizes[path.name] = (len(before.encode()), len(after.encode()))
    return sizes
