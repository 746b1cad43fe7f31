"""Browser test of the built website (_build/html), page by page, fully offline.

``scripts/test.sh`` builds the site (scripts/build_site.sh) and installs Debian's
Chromium (scripts/install_browser.sh) before pytest runs.  This module serves the site
on 127.0.0.1, drives that Chromium headless through Playwright (no browser download)
and opens every page of the table of contents cold (a fresh browser context) at
1400 px and at 390 px, as a reader would.  Each page

- loads, with no console error, no failed request and no request leaving 127.0.0.1
  (the site must work with no network: MathJax, fonts and scripts are served locally);
- typesets every formula, without TeX errors, and shows no raw TeX (``$``, ``\\(``,
  ``\\mathbf``...), no formula typed as text (``s_{t-1}``) and no Markdown table
  syntax; the search page's snippets, which are page source, only whole formulas;
- shows each figure numbered ("Fig. 7.2"), captioned, with alt text that says what
  it shows, and cited from the text (the convention of the README);
- fits the window: nothing is wider than the phone's screen except inside a box that
  scrolls, every box that scrolls sideways shows a cue, and on the desktop only code
  does; a cell's prints are one box; the solution buttons say which solution;
- has one chapter-list and one contents button, which open their panels when
  tapped at 390 px (pydata/pydata-sphinx-theme#2451 took the taps), and one search
  field;
- links only to files and ids that exist; the root page links every chapter;
- fetches at most 1.5 MB (uncompressed) on a cold visit, for chapter pages.

A full-page screenshot of each page at each width goes to test-artifacts/screenshots/
and a summary (pages, formulas, figures, links, page weights, problems) to
test-artifacts/site_summary.txt.  The notebooks' figure metadata is also checked
before any build (``test_notebook_figures_follow_the_convention``).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("D2LRNN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000
# A glossary definition's first line: **中文** · definition
BILINGUAL = re.compile(r"\*\*[^*]*[\u3400-\u9fff][^*]*\*\* · \S")

# Waits for MathJax to finish; returns what the page shows once it has.
PAGE_REPORT_JS = (Path(__file__).with_name("site_report.js")).read_text("utf-8")


def toc_pages(toc_file: Path = ROOT / "_toc.yml") -> list[str]:
    """Return the documents of the table of contents, root first, in reading order."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return [str(Path(page).with_suffix("")) for page in pages]


class _IdCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")


@functools.cache
def html_ids(path: Path) -> frozenset[str]:
    """Return the ids (and anchor names) defined in the HTML file ``path``."""
    parser = _IdCollector()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def broken_internal_link(page: Path, href: str, site: Path = SITE) -> str | None:
    """Return why ``href`` on ``page`` does not resolve inside ``site``, or None."""
    site = site.resolve()
    parts = urlsplit(href)
    target = page.resolve()
    if parts.path:
        target = (page.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if site not in target.parents:
            return f"{href}: leaves the site"
        if not target.is_file():
            return f"{href}: no file {target.relative_to(site)}"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in html_ids(target):
        return f"{href}: no id {fragment!r} in {target.name}"
    return None


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves quietly; records every error it answers (the browser's own requests,
    such as /favicon.ico, never reach Playwright's request events)."""

    errors: list[str] = []

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def send_error(self, code, message=None, explain=None):
        self.errors.append(f"server answered {code} to GET {self.path}")
        super().send_error(code, message, explain)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Serve SITE on a free port of 127.0.0.1; yield its base URL."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} has no index.html: run `bash scripts/build_site.sh` first")
    _QuietHandler.errors.clear()
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded build)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install_browser.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def test_toc_pages_parsed_in_order(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nparts:\n"
        "  - caption: A\n    chapters:\n      - file: book/01_a.ipynb\n"
        "        sections:\n          - file: book/01_b\n"
        "  - caption: B\n    chapters:\n      - file: book/glossary\n"
        "      - url: https://example.org\n        title: away\n",
        encoding="utf-8",
    )
    assert toc_pages(toc) == ["book/intro", "book/01_a", "book/01_b", "book/glossary"]


def test_broken_internal_link_detects_missing_targets(tmp_path):
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "a.html"
    page.write_text('<h1 id="top">A</h1><a name="old">x</a>', encoding="utf-8")
    (tmp_path / "book" / "b.html").write_text('<p id="eq-1">b</p>', "utf-8")
    for ok in ("#", "#top", "#old", "a.html", "b.html#eq-1", "../book/b.html"):
        assert broken_internal_link(page, ok, site=tmp_path) is None, ok
    for bad in ("c.html", "#nowhere", "b.html#top", "../../etc/passwd"):
        assert broken_internal_link(page, bad, site=tmp_path) is not None, bad


def glossary_entries(text: str) -> dict[str, str]:
    """Return {term: first definition line} of the {glossary} block in ``text``."""
    block = re.search(r"^:::\{glossary\}\n(.*?)^:::$", text, re.M | re.S)
    if block is None:
        raise ValueError("no :::{glossary} block")
    entries: dict[str, str] = {}
    term = None
    for line in block.group(1).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if not line[0].isspace():
            if line in entries:
                raise ValueError(f"glossary term {line!r} appears twice")
            term = line
            entries[term] = ""
        elif term is not None and not entries[term]:
            entries[term] = line.strip()
    return entries


def test_glossary_entries_have_chinese_names():
    entries = glossary_entries((ROOT / "book" / "glossary.md").read_text("utf-8"))
    missing = [term for term, first in entries.items() if not BILINGUAL.match(first)]
    assert len(entries) >= 5
    assert not missing, f"entries without '**中文** · definition': {missing}"


def test_glossary_entries_finds_a_term_without_chinese():
    text = "\n".join(
        [":::{glossary}", ":sorted:", "token", "  **词元** · A unit.", "", "state"]
        + ["  A vector.", ":::", ""]
    )
    entries = glossary_entries(text)
    assert entries == {"token": "**词元** · A unit.", "state": "A vector."}
    assert [t for t, first in entries.items() if not BILINGUAL.match(first)] == [
        "state"
    ]


# --- rules ------------------------------------------------------------------------
WIDTHS = (1400, 390)  # a desktop window and a phone
PAGE_BUDGET = 1_500_000  # bytes a cold chapter page may fetch, uncompressed
# raw TeX or Markdown a reader should never see in the text of a page
RAW_TEX = re.compile(r"\$|\\[()\[\]]|\\[A-Za-z]+")
# sub- and superscripts typed as text: s_t, s_{t-1}, x^2, i^α (math belongs in $...$)
TEX_NOTATION = re.compile(
    r"(?<![\w`/.])[A-Za-z]\w*_(?:\{[^}\s]*\}|[A-Za-z0-9]\b)"
    r"|\w\^(?:\{|[0-9A-Za-z\u0370-\u03ff])"
)
MD_TABLE = re.compile(r"(?m)^\s*\|.*\|\s*$|\|\s*:?-{3,}")
# sentences that point at cells the page does not show (tagged remove-cell)
HIDDEN_CELL = re.compile(
    r"\b(?:hidden|removed) (?:cells?|assertions?)\b|cell below asserts"
)
FIG_NUMBER = re.compile(r"^Fig\. \d+(?:\.\d+)*$")
FILE_NAME = re.compile(r"\.(?:png|svg|jpe?g|gif)$|^[0-9a-f]{16,}", re.IGNORECASE)
# The one box per page that may scroll sideways at desktop width: code.
DESKTOP_SCROLL_OK = {"code"}


def raw_markup(text: str, where: str, search: bool = False) -> list[str]:
    """Problems with raw TeX, TeX-like notation or Markdown table syntax in ``text``.

    The search page shows snippets of the pages' text before MathJax ran, so there
    TeX may appear, but only as whole ``\\(...\\)``/``\\[...\\]`` formulas (or one cut
    off at the end of a snippet); ``$`` and table syntax may not."""
    problems = []
    if search:  # ``text`` is one snippet
        whole = r"\\\((?:(?!\\\)).)*\\\)|\\\[(?:(?!\\\]).)*\\\]"
        text = re.sub(whole, " ", text, flags=re.S)
        text = re.sub(r"\\[(\[].*", " ", text, flags=re.S)  # cut off at the end
        text = re.sub(r"^.*?\\[)\]]", " ", text, flags=re.S)  # ... at the start
    for rule, what in ((RAW_TEX, "raw TeX"), (MD_TABLE, "raw Markdown table")):
        for match in list(rule.finditer(text))[:3]:
            around = text[max(0, match.start() - 40) : match.end() + 40]
            found = match.group(0)
            problems.append(f"{where}: {what} {found!r} in the text: {around!r}")
    if not search:
        for match in list(TEX_NOTATION.finditer(text))[:3]:
            around = text[max(0, match.start() - 40) : match.end() + 40]
            problems.append(
                f"{where}: formula as plain text {match.group(0)!r}: {around!r}"
            )
    for match in list(HIDDEN_CELL.finditer(text))[:3]:
        around = text[max(0, match.start() - 40) : match.end() + 40]
        problems.append(f"{where}: text points at a cell the page hides: {around!r}")
    return problems


def figure_problems(where: str, figures: list[dict]) -> list[str]:
    """The figure convention (README, "Changing the course") on one page."""
    problems = []
    numbers = [f["number"] for f in figures if f["number"]]
    for fig in figures:
        what = f"{where}: figure {fig['number'] or fig['src'].rsplit('/', 1)[-1][:24]}"
        if not fig["figure"] or not FIG_NUMBER.match(fig["number"]):
            problems.append(f"{what}: no number (not a numbered figure)")
        if len(fig["caption"]) - len(fig["number"]) < 20:
            problems.append(f"{what}: no caption")
        alt = fig["alt"].strip()
        if len(alt.split()) < 4 or FILE_NAME.search(alt):
            problems.append(f"{what}: alt text {alt[:40]!r} does not say what it shows")
        if fig["figure"] and not fig["refs"]:
            problems.append(f"{what}: not referenced from the text ({{numref}})")
    if len(set(numbers)) != len(numbers):
        problems.append(f"{where}: figure numbers repeat: {numbers}")
    return problems


def width_problems(where: str, report: dict, width: int) -> list[str]:
    problems = [f"{where}: sticks out of the {width} px page: {w}" for w in
                report["overflowing"]]
    problems += [f"{where}: formula cut off at the edge of its line: {w}" for w in
                 report["clipped"]]
    if report["pageWidth"] > report["viewport"] + 1:
        problems.append(
            f"{where}: page is {report['pageWidth']} px wide in a {width} px window"
        )
    for box in report["scrolling"]:
        if not box["cue"]:
            problems.append(f"{where}: {box['kind']} scrolls sideways with no cue: "
                            f"{box['what']}")
        if width >= 1000 and box["kind"] not in DESKTOP_SCROLL_OK:
            problems.append(f"{where}: {box['kind']} needs sideways scrolling at "
                            f"{width} px: {box['what']}")
    return problems


def page_problems(
    doc: str, report: dict, width: int = WIDTHS[0]
) -> tuple[list[str], int]:
    """Return the problems in one page's ``report`` and its count of internal links."""
    where = f"{doc}.html@{width}"
    problems = [f"{where}: {error}" for error in report["errors"]]
    if report["mathSources"] and not report["hasMathJax"]:
        problems.append(f"{where}: formulas but MathJax did not load")
    problems += [f"{where}: formula not typeset: {t}" for t in report["mathUntypeset"]]
    problems += [f"{where}: MathJax error: {t}" for t in report["mathErrors"]]
    problems += raw_markup(report["text"], where)
    problems += [
        p for p in raw_markup(report["rendered"], where)
        if "Markdown table" in p  # the rest is checked on `text` above
    ]
    for snippet in report["searchSnippets"]:
        problems += raw_markup(snippet, where, search=True)
    problems += [
        f"{where}: image not loaded: {img['src'][:100]}"
        for img in report["images"]
        if not img["ok"]
    ]
    problems += figure_problems(where, report["figures"])
    problems += width_problems(where, report, width)
    if report["openSolutions"]:
        problems.append(f"{where}: {report['openSolutions']} hide-cell cells open")
    generic = [s for s in report["summaries"] if s.startswith("Show code cell")]
    if generic or len(set(report["summaries"])) != len(report["summaries"]):
        problems.append(
            f"{where}: solution toggles do not say which solution: "
            f"{report['summaries']}"
        )
    problems += [
        f"{where}: a cell's prints show as separate output boxes: {cell}"
        for cell in report["streamBoxes"]
    ]
    if report["primaryToggles"] > 1 or report["secondaryToggles"] > 1:
        problems.append(
            f"{where}: {report['primaryToggles']} chapter-list and "
            f"{report['secondaryToggles']} contents buttons (the theme's extra "
            "header is back, and its hidden buttons take the clicks)"
        )
    if report["searchFields"] > 1:
        problems.append(f"{where}: {report['searchFields']} search fields shown")
    links = 0
    for href in report["links"]:
        scheme = urlsplit(href).scheme
        if scheme or href.startswith("//"):  # http(s), mailto, javascript: not ours
            continue
        links += 1
        why = broken_internal_link(SITE / f"{doc}.html", href)
        if why:
            problems.append(f"{where}: broken link {why}")
    return problems, links


def root_links_every_chapter(report: dict) -> list[str]:
    """The landing page's own text links every chapter of the table of contents."""
    linked = {urlsplit(href).path.rsplit("/", 1)[-1] for href in report["articleLinks"]}
    chapters = [p for p in toc_pages()[1:] if re.match(r"book/\d\d_", p)]
    return [
        f"{toc_pages()[0]}.html: the chapter table does not link {p}.html"
        for p in chapters
        if Path(p).name + ".html" not in linked
    ]


def _report(**changes) -> dict:
    """A page report with no problems, updated with ``changes``."""
    report = {
        "errors": [], "hasMathJax": True, "mathSources": 0, "mathUntypeset": [],
        "mathErrors": [], "text": "", "rendered": "", "images": [], "figures": [],
        "openSolutions": 0, "summaries": [], "streamBoxes": [], "searchSnippets": [],
        "links": [], "articleLinks": [], "viewport": 390, "pageWidth": 390,
        "overflowing": [], "clipped": [], "scrolling": [], "primaryToggles": 1,
        "secondaryToggles": 1, "searchFields": 1,
    }
    report.update(changes)
    return report


GOOD_FIGURE = {
    "src": "a.svg", "alt": "Two curves falling over ten epochs", "figure": True,
    "id": "fig-a", "number": "Fig. 7.2", "caption": "Fig. 7.2 Training and "
    "validation perplexity per epoch.", "refs": 1, "svg": True, "naturalWidth": 600,
    "shownWidth": 600,
}


def test_page_problems_accepts_a_clean_page():
    report = _report(
        text="The state is typeset; the prose has no markup, min_freq is code.",
        figures=[GOOD_FIGURE], summaries=["Show the solution to exercise 1"],
        scrolling=[{"kind": "code", "what": "pre", "cue": True}],
    )
    assert page_problems("book/x", report, 1400) == ([], 0)


def test_page_problems_finds_each_kind_of_defect():
    bad_figures = [
        {**GOOD_FIGURE, "figure": False, "number": "", "caption": "", "refs": 0,
         "alt": "494d718a5a0ad88bbbb3e368b334be10.png"},
        {**GOOD_FIGURE, "refs": 0},
        GOOD_FIGURE,
    ]
    report = _report(
        errors=["uncaught: ReferenceError"],
        hasMathJax=False,
        mathSources=2,
        mathUntypeset=["\\(x_t\\)"],
        mathErrors=["Undefined control sequence \\foo"],
        text="the state \\(h\\) is; $\\nabla L$; s_{t-1} = f(s_t); the hidden cell "
        "below asserts it",
        rendered="| k | test MSE |\n|---:|---:|\n| 1 | 0.04 |",
        images=[{"src": "a.png", "ok": True}, {"src": "b.png", "ok": False}],
        figures=bad_figures,
        openSolutions=1,
        summaries=["Show code cell content", "Show code cell content"],
        streamBoxes=["div.cell"],
        links=["https://d2l.ai", "#", "no_such_page.html", "mailto:a@b.c"],
        pageWidth=700,
        overflowing=["mjx-container: x"],
        clipped=["span.math: x"],
        scrolling=[{"kind": "equation", "what": "mjx-container", "cue": False}],
        primaryToggles=2,
        searchFields=2,
    )
    problems, links = page_problems("book/x", report, 390)
    assert links == 2
    expected = {
        "ReferenceError": 1,
        "MathJax did not load": 1,
        "not typeset": 1,
        "MathJax error": 1,
        "raw TeX": 3,  # \( \) $ (the first three)
        "formula as plain text": 2,  # s_{t-1}, s_t
        "cell the page hides": 1,
        "raw Markdown table": 3,  # three rows
        "b.png": 1,
        "no number": 1,
        "no caption": 1,
        "alt text": 1,
        "not referenced": 1,
        "figure numbers repeat": 1,
        "hide-cell": 1,
        "do not say which solution": 1,
        "separate output boxes": 1,
        "sticks out": 1,
        "cut off": 1,
        "px wide": 1,
        "no cue": 1,
        "chapter-list": 1,
        "search fields": 1,
        "no_such_page.html": 1,
    }
    for needle, count in expected.items():
        assert sum(needle in p for p in problems) == count, (needle, problems)
    assert len(problems) == sum(expected.values()), problems
    desktop, _ = page_problems(
        "book/x",
        _report(scrolling=[{"kind": "table", "what": "table", "cue": True},
                           {"kind": "code", "what": "pre", "cue": True}]),
        1400,
    )
    assert len(desktop) == 1 and "table needs sideways scrolling" in desktop[0]


def test_raw_markup_on_the_search_page_allows_whole_formulas_only():
    for ok in (
        "Averaged over the \\(N\\) tokens, the NLL (3.4)\\[\n\\frac{1}{N}...",
        "...\\mathbf{h}_t\\) is the state \\(h\\).",
    ):
        assert raw_markup(ok, "search", search=True) == [], ok
    for bad in ("the state $h$", "| k | MSE |", "\\(x\\) and \\mathbf{h} loose"):
        assert raw_markup(bad, "search", search=True), bad


def test_root_page_must_link_every_chapter():
    chapters = [p for p in toc_pages() if re.match(r"book/\d\d_", p)]
    assert len(root_links_every_chapter(_report())) == len(chapters)
    links = [Path(p).name + ".html" for p in chapters]
    assert root_links_every_chapter(_report(articleLinks=links)) == []


def test_site_has_no_remote_assets():

    """No page or stylesheet of the built site loads anything from the network."""
    if not SITE.is_dir():
        pytest.fail(f"{SITE} is missing: run `bash scripts/build_site.sh` first")
    remote = re.compile(
        r"<(?:script|img|iframe)\b[^>]*\ssrc=[\"']?(?:https?:)?//"
        r"|<link\b(?=[^>]*\srel=[\"']?(?:stylesheet|preload|icon|modulepreload))"
        r"[^>]*\shref=[\"']?(?:https?:)?//"
        r"|@import\s+(?:url\()?[\"']?(?:https?:)?//"
        r"|url\([\"']?(?:https?:)?//",
        re.IGNORECASE,
    )
    offenders = []
    for path in sorted(SITE.rglob("*")):
        if path.suffix in {".html", ".css"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            for match in remote.finditer(text):
                snippet = text[match.start() : match.start() + 120]
                offenders.append(f"{path.relative_to(SITE)}: {snippet}")
    assert not offenders, "remote assets:\n" + "\n".join(offenders[:20])


def open_page(browser, host: str, width: int):
    """A fresh browser context (a cold cache) at ``width``; returns (context, page,
    errors, sizes): console errors, failed and outside requests, and the bytes of
    every response."""
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        is_mobile=width < 600,
        has_touch=width < 600,
        service_workers="block",
    )
    errors: list[str] = []
    sizes: dict[str, int] = {}

    def only_local(route):
        url = route.request.url
        if urlsplit(url).netloc == host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            errors.append(f"request to the network: {url}")
            route.abort()

    def on_finished(request):
        response = request.response()
        if response is not None:
            try:
                sizes[request.url] = len(response.body())
            except Exception:  # a body the browser did not keep (redirects)
                sizes[request.url] = 0

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(
        f"console error: {m.text}"))
    page.on("response", lambda r: r.status >= 400 and errors.append(
        f"HTTP {r.status}: {r.url}"))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("requestfinished", on_finished)
    return context, page, errors, sizes


def tap_panels(page, where: str) -> list[str]:
    """Tap the chapter-list (☰) and contents buttons as a phone reader would and
    check that each opens its panel with its links."""
    problems = []
    for which, dialog, what in (
        ("primary", "#pst-primary-sidebar-modal", "chapter list (☰)"),
        ("secondary", "#pst-secondary-sidebar-modal", "page contents"),
    ):
        buttons = page.locator(f"button.{which}-toggle").filter(visible=True)
        if buttons.count() == 0:
            if which == "primary" or page.locator("#pst-page-toc-nav").count():
                problems.append(f"{where}: no {what} button to tap")
            continue
        try:
            buttons.first.tap(timeout=5000)
            page.wait_for_function(
                "(sel) => { const d = document.querySelector(sel); return d"
                " && d.open && d.querySelectorAll('a[href]').length > 0"
                " && d.checkVisibility(); }",
                arg=dialog,
                timeout=3000,
            )
        except Exception as exc:
            problems.append(f"{where}: tapping the {what} button opens nothing "
                            f"({str(exc).splitlines()[0][:80]})")
        # close it as a reader would (Escape), or by hand if that fails
        page.keyboard.press("Escape")
        page.evaluate(
            "() => document.querySelectorAll('dialog[open]').forEach(d => d.close())"
        )
    return problems


def visit(browser, host: str, url: str, width: int, shot: Path, search=False):
    """Open ``url`` cold at ``width``; return (report, bytes fetched, problems of
    interaction).  Saves a full-page screenshot to ``shot``."""
    context, page, errors, sizes = open_page(browser, host, width)
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    page.evaluate(
        "async () => { if (window.MathJax && MathJax.startup && MathJax.startup"
        ".promise) { await MathJax.startup.promise; } }"
    )
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    weight = sum(sizes.values())  # what a reader's first visit fetches
    if search:
        # Sphinx fills the result list from searchindex.js, all in the browser.
        page.wait_for_selector("#search-results li", timeout=TIMEOUT_MS)
        page.wait_for_function(
            "() => !document.querySelector('#search-progress')?.innerText",
            timeout=TIMEOUT_MS,
        )
    report = page.evaluate(PAGE_REPORT_JS)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    page.screenshot(path=str(shot), full_page=True)
    where = f"{urlsplit(url).path.lstrip('/')}@{width}"
    interaction = tap_panels(page, where) if width < 600 else []
    context.close()
    report["errors"] = errors
    return report, weight, interaction


def test_every_toc_page_works_offline(server, browser, record_property):
    start = time.perf_counter()
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    host = urlsplit(server).netloc
    problems: list[str] = []
    totals = {"pages": 0, "formulas": 0, "images": 0, "links": 0, "figures": 0}
    numbered = sharp = 0
    weights: dict[str, int] = {}
    docs = toc_pages() + ["search"]  # the search page, with a query, too
    if os.environ.get("D2LRNN_SITE_PAGES"):  # e.g. "book/07_bptt search"
        docs = [d for d in docs if d in os.environ["D2LRNN_SITE_PAGES"].split()]
    for width in WIDTHS:
        for doc in docs:
            if not (SITE / f"{doc}.html").is_file():
                problems.append(f"{doc}: in _toc.yml but not built")
                continue
            query = "?q=perplexity" if doc == "search" else ""
            report, weight, interaction = visit(
                browser, host, f"{server}/{doc}.html{query}", width,
                shots / f"{width}__{doc.replace('/', '__')}.png",
                search=doc == "search",
            )
            found, links = page_problems(doc, report, width)
            problems += found + interaction
            if doc == toc_pages()[0]:
                problems += root_links_every_chapter(report)
            if width == WIDTHS[0]:
                weights[doc] = weight
                if re.match(r"book/\d\d_", doc) and weight > PAGE_BUDGET:
                    problems.append(
                        f"{doc}.html: a cold visit fetches {weight / 1e6:.2f} MB, "
                        f"over the {PAGE_BUDGET / 1e6:.1f} MB budget"
                    )
                totals["pages"] += 1
                totals["formulas"] += report["mjxContainers"]
                totals["images"] += len(report["images"])
                totals["links"] += links
                totals["figures"] += len(report["figures"])
                numbered += sum(bool(FIG_NUMBER.match(f["number"]))
                                for f in report["figures"])
                sharp += sum(
                    f["svg"] or f["naturalWidth"] >= 2 * f["shownWidth"]
                    for f in report["figures"]
                )
    # index.html, the file a reader opens first, leads to the root page.
    context, page, _, _ = open_page(browser, host, WIDTHS[0])
    page.goto(f"{server}/index.html", timeout=TIMEOUT_MS)
    page.wait_for_url(f"{server}/{toc_pages()[0]}.html", timeout=TIMEOUT_MS)
    context.close()
    problems += _QuietHandler.errors
    chapters = {d: w for d, w in weights.items() if re.match(r"book/\d\d_", d)}
    heaviest = max(chapters, key=chapters.get) if chapters else "-"
    summary = (
        f"site test: {totals['pages']} pages at {' and '.join(map(str, WIDTHS))} px, "
        f"{totals['formulas']} formulas typeset, {totals['figures']} figures "
        f"({numbered} numbered, {sharp} sharp on HiDPI: SVG or 2x PNG), "
        f"{totals['images']} images, "
        f"{totals['links']} internal links checked in "
        f"{time.perf_counter() - start:.1f} s; heaviest cold chapter page "
        f"{heaviest} {chapters.get(heaviest, 0) / 1e6:.2f} MB; "
        f"screenshots in {shots.relative_to(ROOT)}"
    )
    (ARTIFACTS / "site_summary.txt").write_text(
        summary + "\n"
        + "".join(f"cold page weight: {d} {w} bytes\n" for d, w in weights.items())
        + "".join(f"problem: {p}\n" for p in problems),
        "utf-8",
    )
    record_property("summary", summary)
    print(summary)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    assert totals["pages"] == len(docs)
    assert totals["formulas"] > 0 and totals["links"] > 0 and totals["figures"] > 0


def test_launch_buttons_open_this_repository():
    """Every chapter's rocket menu opens that notebook on Colab and on Binder."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import launch
    finally:
        sys.path.pop(0)
    url, branch = launch.repository()
    owner_repo = urlsplit(url).path.strip("/")
    for doc in toc_pages():
        if not (ROOT / f"{doc}.ipynb").is_file():
            continue
        html = (SITE / f"{doc}.html").read_text("utf-8")
        colab = (
            "https://colab.research.google.com/github/"
            f"{owner_repo}/blob/{branch}/{doc}.ipynb"
        )
        binder = (
            f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=tree/{doc}.ipynb"
        )
        assert colab in html, (doc, colab)
        assert binder in html, (doc, binder)


def _site_extension():
    import importlib.util

    path = ROOT / "_ext" / "d2lrnn_site.py"
    if str(path.parent) not in sys.path:  # its sibling modules, as the build has
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("d2lrnn_site", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_author_year_labels_match_citations():
    from pybtex.database import parse_string

    bib = parse_string(
        "@article{a, author={Elman, Jeffrey L.}, year={1990}}\n"
        '@article{b, author={Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen},'
        " year={1997}}\n"
        "@book{c, author={Zhang, A. and Lipton, Z. and Li, M.}, year={2023}}\n"
        "@article{d, author={Bengio, Y.}, year={1994}}\n"
        "@article{e, author={Bengio, Y.}, year={1994}}\n",
        "bibtex",
    )
    style = _site_extension().AuthorYearLabelStyle()
    labels = list(style.format_labels(bib.entries.values()))
    assert labels == [
        "Elman, 1990",
        "Hochreiter and Schmidhuber, 1997",
        "Zhang et al., 2023",
        "Bengio, 1994a",
        "Bengio, 1994b",
    ]


def test_drop_duplicate_scripts_keeps_first_of_each():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [
        _JavaScript(None, body="const A = 1"),
        _JavaScript("x.js"),
        _JavaScript("", body="const A = 1"),
        _JavaScript("x.js", defer="defer"),
    ]
    context = {"script_files": list(scripts)}
    _site_extension().drop_duplicate_scripts(None, "p", "page.html", context, None)
    assert context["script_files"] == [scripts[0], scripts[1], scripts[3]]


# --- the notebooks, before any build ------------------------------------------------
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")


def figure_convention_problems(path: Path) -> list[str]:
    """A notebook's figure cells against the convention (README, "Changing the
    course"): a caption, alt text and a name for every figure a cell draws."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.get("outputs", [])
                  if any(t in o.get("data", {}) for t in IMAGE_TYPES)]
        if not images:
            continue
        where = f"{path.name} cell {cell.get('id')}"
        mystnb = cell.metadata.get("mystnb", {})
        figure, image = mystnb.get("figure", {}), mystnb.get("image", {})
        names = cell.metadata.get("d2lrnn", {}).get("figure_names")
        if len(str(figure.get("caption", ""))) < 20:
            problems.append(f"{where}: no mystnb.figure.caption")
        if len(str(image.get("alt", "")).split()) < 4:
            problems.append(f"{where}: no mystnb.image.alt that says what it shows")
        if len(images) == 1 and not figure.get("name"):
            problems.append(f"{where}: no mystnb.figure.name (fig-...)")
        if len(images) > 1 and (figure.get("name") or len(names or []) != len(images)):
            problems.append(
                f"{where}: draws {len(images)} figures: name them with "
                "d2lrnn.figure_names (one per figure) instead of mystnb.figure.name"
            )
    return problems


def blurry_figure_problems(path: Path) -> list[str]:
    """Once a notebook has been run with its setup cell (which asks matplotlib for
    SVG), every figure it stores must be SVG, or a PNG stored at twice its display
    size (metadata width at most half the pixels).  Outputs from before the setup
    cell (execution_count None on it) are not judged: they change on the next run."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0] if nb.cells else None
    if first is None or first.get("execution_count") is None:
        return []
    problems = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data and "image/svg+xml" not in data:
                shown = out.get("metadata", {}).get("image/png", {}).get("width")
                pixels = _png_width(data["image/png"])
                if not shown or pixels < 2 * float(shown):
                    problems.append(
                        f"{path.name} cell {cell.get('id')}: a 1x PNG figure "
                        "(blurry on HiDPI screens); the setup cell asks for SVG"
                    )
    return problems


def _png_width(b64: str) -> int:
    import base64

    head = base64.b64decode(b64[:64])
    return int.from_bytes(head[16:20], "big") if head[12:16] == b"IHDR" else 0


def interleaved_print_problems(path: Path) -> list[str]:
    """Cells whose prints are interleaved with figures must not have their streams
    merged (nb_merge_streams would move every print above the first figure)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    for cell in nb.cells:
        seen, between = set(), set()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                if out.get("name") in between and cell.metadata.get(
                    "mystnb", {}
                ).get("merge_streams") is not False:
                    problems.append(
                        f"{path.name} cell {cell.get('id')}: prints around its figures;"
                        " set mystnb.merge_streams: false"
                    )
                    break
                seen.add(out.get("name"))
            else:
                between |= seen
    return problems


def test_notebook_figures_follow_the_convention():
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    problems = [p for path in notebooks for p in figure_convention_problems(path)]
    problems += [p for path in notebooks for p in interleaved_print_problems(path)]
    problems += [p for path in notebooks for p in blurry_figure_problems(path)]
    assert not problems, "\n".join(problems)


def test_figure_convention_problems_finds_each_kind(tmp_path):
    png = nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    )
    text = nbformat.v4.new_output("stream", name="stdout", text="x\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("plot()", outputs=[png]),
        nbformat.v4.new_code_cell("a(); b()", outputs=[text, png, text, png]),
    ]
    nb.cells[1].metadata["mystnb"] = {
        "figure": {"caption": "Two curves, one per model, falling.", "name": "fig-x"},
        "image": {"alt": "Two falling curves on a log axis"},
    }
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    problems = figure_convention_problems(path)
    assert sum("caption" in p for p in problems) == 1
    assert sum("alt" in p for p in problems) == 1
    assert sum("no mystnb.figure.name" in p for p in problems) == 1
    assert sum("figure_names" in p for p in problems) == 1
    assert len(interleaved_print_problems(path)) == 1
    assert blurry_figure_problems(path) == []  # no setup cell run: not judged
    nb.cells.insert(0, nbformat.v4.new_code_cell("# setup", execution_count=1))
    nbformat.write(nb, path)
    assert len(blurry_figure_problems(path)) == 3  # three 1x PNG figures
