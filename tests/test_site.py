"""Browser test of the built website (_build/html), page by page, fully offline.

``scripts/test.sh`` builds the site (scripts/build_site.sh) and installs Debian's
Chromium (scripts/install_browser.sh) before pytest runs.  This module serves the site
on 127.0.0.1, drives that Chromium headless through Playwright (no browser download)
and checks every page of the table of contents, as a reader would open it:

- it loads, with no console error, no failed request and no request leaving 127.0.0.1
  (the site must work with no network: MathJax, fonts and scripts are served locally);
- every formula is typeset by MathJax, without TeX errors and with no raw ``\\(``,
  ``\\[`` or ``$$`` left in the visible text;
- every image has loaded;
- every internal link leads to an existing file and, for ``#fragment``, an existing id;
- exercise solutions (``hide-cell``) are collapsed.

A full-page screenshot of each page goes to test-artifacts/screenshots/ and a summary
(pages, formulas, images, links) to test-artifacts/site_summary.txt.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
PAGE_REPORT_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = "eager"; }
  await Promise.all(imgs.map((img) => img.complete ? null : new Promise((ok) => {
    img.addEventListener("load", ok); img.addEventListener("error", ok);
  })));
  const main = document.querySelector("main") || document.body;
  const prose = main.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .cell_output")
    .forEach((el) => el.remove());
  const math = Array.from(main.querySelectorAll(".math"));
  return {
    hasMathJax: !!window.MathJax,
    mathSources: math.length,
    mathUntypeset: math.filter((el) => !el.querySelector("mjx-container"))
      .map((el) => el.textContent.slice(0, 80)),
    mjxContainers: main.querySelectorAll("mjx-container").length,
    mathErrors: Array.from(main.querySelectorAll("mjx-merror"))
      .map((el) => el.getAttribute("data-mjx-error") || el.textContent),
    text: prose.innerText,
    images: imgs.map((img) => ({
      src: img.currentSrc || img.src,
      ok: img.complete && img.naturalWidth > 0,
    })),
    links: Array.from(document.querySelectorAll("a[href]"))
      .map((a) => a.getAttribute("href")),
    openSolutions: Array.from(document.querySelectorAll(
      ".tag_hide-cell details[open], .tag_hide-cell .cell_input"
    )).filter((el) => el.tagName === "DETAILS" || el.checkVisibility())
      .length,
    hiddenCells: document.querySelectorAll(".tag_hide-cell").length,
  };
}
"""


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


def page_problems(doc: str, report: dict) -> tuple[list[str], int]:
    """Return the problems in one page's ``report`` and its count of internal links."""
    where = f"{doc}.html"
    problems = [f"{where}: {error}" for error in report["errors"]]
    if report["mathSources"] and not report["hasMathJax"]:
        problems.append(f"{where}: formulas but MathJax did not load")
    problems += [f"{where}: formula not typeset: {t}" for t in report["mathUntypeset"]]
    problems += [f"{where}: MathJax error: {t}" for t in report["mathErrors"]]
    # Search result snippets are page text before MathJax ran (Sphinx's search shows
    # them so), hence raw TeX is expected there and only there.
    for raw in () if doc == "search" else ("\\(", "\\)", "\\[", "\\]", "$$"):
        if raw in report["text"]:
            at = report["text"].index(raw)
            around = report["text"][max(0, at - 40) : at + 40]
            problems.append(f"{where}: raw TeX {raw!r} in the text: {around!r}")
    problems += [
        f"{where}: image not loaded: {img['src'][:100]}"
        for img in report["images"]
        if not img["ok"]
    ]
    if report["openSolutions"]:
        problems.append(f"{where}: {report['openSolutions']} hide-cell cells open")
    links = 0
    for href in report["links"]:
        scheme = urlsplit(href).scheme
        if scheme or href.startswith("//"):  # http(s), mailto, javascript: not ours
            continue
        links += 1
        why = broken_internal_link(SITE / where, href)
        if why:
            problems.append(f"{where}: broken link {why}")
    return problems, links


def test_page_problems_finds_each_kind_of_defect():
    report = {
        "errors": ["uncaught: ReferenceError"],
        "hasMathJax": False,
        "mathSources": 2,
        "mathUntypeset": ["\\(x_t\\)"],
        "mathErrors": ["Undefined control sequence \\foo"],
        "text": "the state \\(h_t\\) is",
        "images": [{"src": "a.png", "ok": True}, {"src": "b.png", "ok": False}],
        "openSolutions": 1,
        "links": ["https://d2l.ai", "#", "no_such_page.html", "mailto:a@b.c"],
    }
    problems, links = page_problems("book/x", report)
    assert links == 2
    expected = {
        "ReferenceError": 1,
        "MathJax did not load": 1,
        "not typeset": 1,
        "MathJax error": 1,
        "raw TeX": 2,  # both \\( and \\)
        "b.png": 1,
        "hide-cell": 1,
        "no_such_page.html": 1,
    }
    for needle, count in expected.items():
        assert sum(needle in p for p in problems) == count, (needle, problems)
    assert len(problems) == sum(expected.values())


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


def visit(context, url: str, screenshot: Path, search: bool = False) -> dict:
    """Open ``url`` in a new page, screenshot it, return PAGE_REPORT_JS's report."""
    page = context.new_page()
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            errors.append(f"console error: {message.text}")

    def on_response(response):
        if response.status >= 400:
            errors.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on(
        "requestfailed",
        lambda request: errors.append(f"request failed: {request.url}"),
    )
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    report = page.evaluate(PAGE_REPORT_JS)
    if search:
        # Sphinx fills the result list from searchindex.js, all in the browser.
        page.wait_for_selector("#search-results li", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    report["errors"] = errors
    return report


def test_every_toc_page_works_offline(server, browser, record_property):
    start = time.perf_counter()
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    host = urlsplit(server).netloc
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, service_workers="block"
    )
    external: list[str] = []

    def only_local(route):
        url = route.request.url
        if urlsplit(url).netloc == host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    context.route("**/*", only_local)
    problems: list[str] = []
    totals = {"pages": 0, "formulas": 0, "images": 0, "links": 0}
    docs = toc_pages() + ["search"]  # the search page, with a query, too
    for doc in docs:
        if not (SITE / f"{doc}.html").is_file():
            problems.append(f"{doc}: in _toc.yml but not built")
            continue
        external.clear()
        query = "?q=perplexity" if doc == "search" else ""
        report = visit(
            context,
            f"{server}/{doc}.html{query}",
            shots / f"{doc.replace('/', '__')}.png",
            search=doc == "search",
        )
        report["errors"] += [f"request to the network: {url}" for url in external]
        found, links = page_problems(doc, report)
        problems += found
        totals["pages"] += 1
        totals["formulas"] += report["mjxContainers"]
        totals["images"] += len(report["images"])
        totals["links"] += links
    # index.html, the file a reader opens first, leads to the root page.
    page = context.new_page()
    page.goto(f"{server}/index.html", timeout=TIMEOUT_MS)
    page.wait_for_url(f"{server}/{toc_pages()[0]}.html", timeout=TIMEOUT_MS)
    page.close()
    context.close()
    problems += _QuietHandler.errors
    summary = (
        f"site test: {totals['pages']} pages, {totals['formulas']} formulas typeset, "
        f"{totals['images']} images, {totals['links']} internal links checked in "
        f"{time.perf_counter() - start:.1f} s; screenshots in {shots.relative_to(ROOT)}"
    )
    (ARTIFACTS / "site_summary.txt").write_text(
        summary + "\n" + "".join(f"problem: {p}\n" for p in problems), "utf-8"
    )
    record_property("summary", summary)
    print(summary)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    assert totals["pages"] == len(docs)
    assert totals["formulas"] > 0 and totals["links"] > 0


def _site_extension():
    import importlib.util

    path = ROOT / "_ext" / "d2lrnn_site.py"
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
