// What a page shows a reader, for tests/test_site.py (evaluated by Playwright once
// MathJax has finished).  Returns plain data; the rules live in page_problems().
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  // two frames: the page's own scripts (scroll cues) react to the typeset formulas
  for (let i = 0; i < 2; i++) await new Promise((ok) => requestAnimationFrame(ok));
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = "eager"; }
  await Promise.all(imgs.map((img) => img.complete ? null : new Promise((ok) => {
    img.addEventListener("load", ok); img.addEventListener("error", ok);
  })));
  const main = document.querySelector("main") || document.body;
  const article = document.querySelector("article.bd-article") || main;
  const visible = (el) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const name = (el) => {
    const cls = typeof el.className === "string" ? el.className.trim().split(/\s+/)[0] : "";
    const id = el.id ? "#" + el.id : "";
    return el.tagName.toLowerCase() + id + (cls ? "." + cls : "")
      + ": " + (el.textContent || el.getAttribute("alt") || "").trim().slice(0, 50);
  };

  // Text as read: without code, scripts and typeset formulas.  `prose` also leaves
  // out cell outputs; `rendered` keeps those that are not preformatted (Markdown).
  const strip = (root, selectors) => {
    const copy = root.cloneNode(true);
    copy.querySelectorAll(selectors).forEach((el) => el.remove());
    return copy.innerText;
  };
  const noCode = "pre, code, kbd, script, style, mjx-container, .copybtn";
  const math = Array.from(main.querySelectorAll(".math"));

  // Figures: every image of the article, with its figure, number, caption, alt text.
  const figures = Array.from(article.querySelectorAll("img")).map((img) => {
    const fig = img.closest("figure");
    const number = fig && fig.querySelector("figcaption .caption-number");
    const caption = fig && fig.querySelector("figcaption");
    const id = fig && fig.id;
    const refs = id ? Array.from(article.querySelectorAll(`a[href="#${CSS.escape(id)}"]`))
      .filter((a) => !fig.contains(a)).length : 0;
    return {
      src: img.currentSrc || img.src,
      alt: img.getAttribute("alt") || "",
      figure: !!fig,
      id: id || "",
      number: number ? number.textContent.trim() : "",
      caption: caption ? caption.innerText.trim() : "",
      refs,
      svg: /\.svg(\?|$)/i.test(img.currentSrc || img.src),
      naturalWidth: img.naturalWidth,
      shownWidth: img.getBoundingClientRect().width,
    };
  });

  // Width: what sticks out of the viewport without a scroll container to hold it,
  // what scrolls sideways without a cue, and which boxes scroll at all.
  const viewport = document.documentElement.clientWidth;
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (/(auto|scroll)/.test(getComputedStyle(p).overflowX)) return p;
    }
    return null;
  };
  const overflowing = [];
  for (const el of main.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || (r.right <= viewport + 1 && r.left >= -1)) continue;
    if (!visible(el) || getComputedStyle(el).position === "fixed") continue;
    if (el.closest("mjx-assistive-mml")) continue; // for screen readers, clipped away
    const box = scroller(el);
    if (box) {
      const b = box.getBoundingClientRect();
      if (b.right <= viewport + 1 && b.left >= -1) continue;
    }
    if (overflowing.length < 20) overflowing.push(name(el));
  }
  const scrolling = Array.from(main.querySelectorAll("*")).filter((el) =>
    /(auto|scroll)/.test(getComputedStyle(el).overflowX)
    && el.scrollWidth > el.clientWidth + 1 && visible(el));
  // formulas wider than their box that are cut off instead of scrolling
  const clipped = Array.from(main.querySelectorAll("span.math, div.math")).filter((el) => {
    const math = el.querySelector("mjx-container");
    return math && math.getBoundingClientRect().width > el.clientWidth + 2
      && !/(auto|scroll)/.test(getComputedStyle(el).overflowX)
      && !el.querySelector("mjx-container[display]")  // display math: its own box
      && visible(el);
  }).map(name);
  const kind = (el) => el.matches(".pst-scrollable-table-container") ? "table"
    : el.matches("div.math mjx-container, mjx-container[display]") ? "equation"
    : el.matches("span.math") ? "formula"
    : el.closest(".cell_output") ? "output" : el.matches("pre") ? "code" : "other";

  const summaries = Array.from(document.querySelectorAll(
    ".tag_hide-cell details > summary, .tag_hide-input details > summary",
  )).map((s) => (s.querySelector(".collapsed") || s).innerText.trim());
  const searchSnippets = Array.from(document.querySelectorAll("#search-results li"))
    .map((li) => li.innerText);
  const streamBoxes = Array.from(article.querySelectorAll(".cell_output"))
    .filter((out) => out.querySelector(":scope > .output.stream + .output.stream"))
    .map((out) => out.closest(".cell") ? name(out.closest(".cell")) : "cell");

  return {
    hasMathJax: !!window.MathJax,
    mathSources: math.length,
    mathUntypeset: math.filter((el) => !el.querySelector("mjx-container"))
      .map((el) => el.textContent.slice(0, 80)),
    mjxContainers: main.querySelectorAll("mjx-container").length,
    mathErrors: Array.from(main.querySelectorAll("mjx-merror"))
      .map((el) => el.getAttribute("data-mjx-error") || el.textContent),
    // search results are checked on their own (searchSnippets)
    text: strip(main, noCode + ", .cell_output, #search-results"),
    rendered: strip(article, noCode),
    images: imgs.map((img) => ({
      src: img.currentSrc || img.src,
      ok: img.complete && img.naturalWidth > 0,
    })),
    figures,
    links: Array.from(document.querySelectorAll("a[href]"))
      .map((a) => a.getAttribute("href")),
    articleLinks: Array.from(article.querySelectorAll("a[href]"))
      .map((a) => a.getAttribute("href")),
    openSolutions: Array.from(document.querySelectorAll(
      ".tag_hide-cell details[open], .tag_hide-cell .cell_input"
    )).filter((el) => el.tagName === "DETAILS" || el.checkVisibility())
      .length,
    hiddenCells: document.querySelectorAll(".tag_hide-cell").length,
    summaries,
    searchSnippets,
    streamBoxes,
    viewport,
    pageWidth: document.documentElement.scrollWidth,
    overflowing,
    clipped,
    scrolling: scrolling.map((el) => ({
      kind: kind(el),
      what: name(el),
      cue: /gradient/.test(getComputedStyle(el).backgroundImage),
    })),
    primaryToggles: document.querySelectorAll(".primary-toggle").length,
    secondaryToggles: document.querySelectorAll(".secondary-toggle").length,
    searchFields: Array.from(document.querySelectorAll(".search-button-field"))
      .filter(visible).length,
  };
}
