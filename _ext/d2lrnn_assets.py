"""What a page of the d2lrnn website downloads (imported by d2lrnn_site.py).

A cold chapter page weighed 3.9-4.5 MB, most of it in files that drew nothing the
reader sees.  Each step below keeps every feature and drops only bytes:

1. Icons.  pydata-sphinx-theme ships Font Awesome twice: a 1.5 MB script that swaps
   every ``<i class="fa-...">`` for an inline SVG (it exists so that sites can add
   custom icons; this one adds none), and the icon font with one CSS rule per icon
   (about 1,900 rules) in the theme's stylesheet, which draws the same icons without
   the script.  The script tag is left out of every page (``trim_head``); after the
   build the stylesheet keeps the rules of the icons the site uses, and the three
   icon fonts are cut down to those glyphs (``subset_icon_fonts``).  Used means: named
   in a page or in one of the theme's scripts (which add a few at run time), or drawn
   by a CSS rule of the theme itself (the admonition icons).
2. Search.  The theme loads the search index (and its two helper scripts) on every
   page for search-as-you-type, which the site leaves off; only the search page,
   which uses them, keeps them (``trim_head``).
3. Extensions' assets that a page does not use (sphinx-design, sphinx-togglebutton,
   sphinx-thebe with no live-code button) are dropped from that page
   (``drop_unused_assets``).
4. Stylesheets: rules that can match nothing on the site are dropped after the
   build (d2lrnn_purge.py); most of Bootstrap's components are not used by a book.
5. Figures load lazily, with their size in the page so that nothing jumps
   (``LazyImages``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from d2lrnn_purge import purge_site_css
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

# The theme's Font Awesome script, in the <head> of every page.
FA_SCRIPT = re.compile(
    r'\s*<script defer src="[^"]*/scripts/fontawesome\.js[^"]*">\s*</script>'
)
# The search scripts the theme adds to every page's <head>.
SEARCH_SCRIPTS = re.compile(
    r'\s*<script src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js'
    r'|searchindex\.js)"></script>'
)


def trim_head(html: str, pagename: str) -> str:
    """Drop the Font Awesome script, and the search scripts off the search page."""
    html = FA_SCRIPT.sub("", html)
    if pagename != "search":
        html = SEARCH_SCRIPTS.sub("", html)
    return html


# asset file name -> regular expression that a page body using it must match
PAGE_ASSETS = {
    "sphinx-design.min.css": r'class="[^"]*\bsd-',
    "design-tabs.js": r'class="[^"]*\bsd-tab',
    "togglebutton.css": r'class="(?:[^"]*\s)?(?:toggle|dropdown admonition|admonition'
    r'[^"]*\bdropdown)\b',
    "togglebutton.js": r'class="(?:[^"]*\s)?(?:toggle|dropdown admonition|admonition'
    r'[^"]*\bdropdown)\b',
    "sphinx-thebe.css": r'class="[^"]*\bthebe',
    "sphinx-thebe.js": r'class="[^"]*\bthebe',
}
# inline scripts that only configure one of those assets
ASSET_SETTINGS = {
    "togglebutton.js": ("toggleHint", "toggleOpenOnPrint", "togglebuttonSelector"),
    "sphinx-thebe.js": ("THEBE_JS_URL",),
}


def _asset_name(asset: Any) -> str:
    filename = getattr(asset, "filename", asset) or ""
    return str(filename).rsplit("/", 1)[-1].split("?", 1)[0]


def _asset_body(asset: Any) -> str:
    return str((getattr(asset, "attributes", {}) or {}).get("body", ""))


def drop_unused_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Leave out of a page the extensions' CSS and JS that its body does not use."""
    body = context.get("body", "")
    unused = {
        name for name, used in PAGE_ASSETS.items() if not re.search(used, body)
    }
    settings = tuple(s for name in unused for s in ASSET_SETTINGS.get(name, ()))
    for key in ("css_files", "script_files"):
        assets = context.get(key)
        if assets:
            assets[:] = [
                a
                for a in assets
                if _asset_name(a) not in unused
                and not (settings and any(s in _asset_body(a) for s in settings))
            ]


class LazyImages(SphinxPostTransform):
    """``loading="lazy"`` and the pixel size on every figure image of a page; a
    figure wider than WIDE_PX (several panels) is marked ``d2lrnn-wide`` so that on
    a phone it scrolls sideways at a readable size (d2lrnn.css)."""

    default_priority = 900  # after myst-nb picked each output's image
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        for image in self.document.findall(nodes.image):
            image.setdefault("loading", "lazy")
            size = None
            if not any(key in image for key in ("width", "height", "scale")):
                size = image_size(Path(self.env.srcdir) / image["uri"])
                if size:
                    image["width"], image["height"] = (str(v) for v in size)
            width = _px(image.get("width")) or (size[0] if size else 0)
            figure = image.parent
            if isinstance(figure, nodes.figure) and width > WIDE_PX:
                figure["classes"].append("d2lrnn-wide")


WIDE_PX = 800


def _px(value: Any) -> float:
    match = re.fullmatch(r"\s*([\d.]+)\s*(px)?\s*", str(value or ""))
    return float(match.group(1)) if match else 0.0


def image_size(path: Path) -> tuple[int, int] | None:
    """Return the (width, height) in CSS pixels of a PNG or SVG file, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(2048)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    svg = re.search(rb"<svg\b[^>]*>", head)
    if svg:
        def length(attr: bytes) -> float:
            m = re.search(rb"\b" + attr + rb'="([\d.]+)(pt|px)?"', svg.group(0))
            if not m:
                return 0.0
            return float(m.group(1)) * (4 / 3 if m.group(2) == b"pt" else 1)

        w, h = length(b"width"), length(b"height")
        if w and h:
            return round(w), round(h)
    return None


# the stylesheets purge_site_css trims (file names, or their start)
PURGED_CSS = (
    "pydata-sphinx-theme.css",
    "sphinx-book-theme.css",
    "mystnb.",
    "basic.css",
    "pygments.css",
    "copybutton.css",
)

# --- icons -------------------------------------------------------------------

ICON_RULE = re.compile(
    r"((?:\.fa-[a-z0-9-]+::?before,?)+)\{content:\"((?:\\[0-9a-f]+ ?|[^\"\\])+)\"\}"
)
ICON_NAME = re.compile(r"fa-[a-z0-9-]+")
ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}) ?")
FONT_FACE = re.compile(r"@font-face\{[^}]*\}")


def css_string_chars(value: str) -> set[int]:
    """Return the code points of a CSS string body such as ``\\f062`` or ``\\30 ``."""
    chars = {int(m.group(1), 16) for m in ESCAPE.finditer(value)}
    chars.update(ord(c) for c in ESCAPE.sub("", value))
    return chars


def used_icon_names(texts: Iterable[str]) -> set[str]:
    """Return every ``fa-...`` name that occurs in ``texts``."""
    names: set[str] = set()
    for text in texts:
        names.update(ICON_NAME.findall(text))
    return names


def drawn_icon_chars(css: str) -> set[int]:
    """Return the private-use characters (icon glyphs) in the strings of ``css``."""
    chars: set[int] = set()
    for string in re.findall(r"\"((?:\\[0-9a-fA-F]+ ?|[^\"\\])*)\"", css):
        chars.update(c for c in css_string_chars(string) if 0xE000 <= c <= 0xF8FF)
    return chars


def purge_icon_rules(css: str, used: set[str]) -> tuple[str, set[int]]:
    """Keep the icon rules of ``used`` names; return the CSS and the code points
    of the kept rules."""
    kept: set[int] = set()

    def keep(match: re.Match) -> str:
        selectors = [s for s in match.group(1).split(",") if s]
        mine = [s for s in selectors if s.split(":")[0][1:] in used]
        if not mine:
            return ""
        kept.update(css_string_chars(match.group(2)))
        return ",".join(mine) + '{content:"' + match.group(2) + '"}'

    return ICON_RULE.sub(keep, css), kept


def subset_font(source: Path, target: Path, chars: set[int]) -> None:
    """Write the glyphs of ``chars`` from the font ``source`` to ``target`` (WOFF)."""
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"  # zlib; WOFF2 would need the brotli package
    options.layout_features = ["*"]
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=chars)
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def slim_assets(app: Sphinx, exception: Exception | None) -> None:
    """After the build: keep the icons the site uses (CSS rules and font glyphs),
    then drop the CSS rules that match nothing."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    static = out / "_static"
    css_path = static / "styles" / "pydata-sphinx-theme.css"
    if not css_path.is_file():
        return
    texts = [p.read_text("utf-8", errors="replace") for p in out.rglob("*.html")]
    texts += [
        p.read_text("utf-8", errors="replace")
        for p in static.rglob("*.js")
        if p.name != "fontawesome.js" and "mathjax" not in p.parts
    ]
    css, chars = purge_icon_rules(css_path.read_text("utf-8"), used_icon_names(texts))
    # glyphs that CSS rules draw by code point (the theme's admonition icons)
    chars |= drawn_icon_chars(css)
    for other in static.rglob("*.css"):
        if other != css_path:
            chars |= drawn_icon_chars(other.read_text("utf-8", errors="replace"))

    def new_face(match: re.Match) -> str:
        face = match.group(0)
        ttf = re.search(r"url\(([^)]*\.ttf)\)", face)
        if not ttf:
            return face
        source = (css_path.parent / ttf.group(1)).resolve()
        target = source.with_suffix(".subset.woff")
        subset_font(source, target, chars)
        url = ttf.group(1).replace(".ttf", ".subset.woff")
        return re.sub(r"src:[^;}]*", f'src:url({url}) format("woff")', face)

    css = FONT_FACE.sub(new_face, css)
    css_path.write_text(css, "utf-8")
    purge_site_css(out, PURGED_CSS)
