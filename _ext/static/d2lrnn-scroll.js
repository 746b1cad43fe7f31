// Boxes that scroll sideways (a wide equation or table, a long code line, a formula
// on a phone) get the data-d2lrnn-scrolls attribute, which gives them the scroll
// cue of d2lrnn.css and a place in the tab order, so that a keyboard can scroll
// them too.  Checked again whenever a box changes size (fonts, MathJax, rotation).
(() => {
  "use strict";
  const SELECTOR = [
    "div.math mjx-container", "span.math", ".pst-scrollable-table-container",
    ".bd-article div.highlight pre", "figure.d2lrnn-wide",
  ].join(", ");

  // An inline formula's box is a few pixels narrower than its ink (italics,
  // subscripts); it scrolls only when the formula is wider than the line.
  function scrolls(el) {
    if (el.matches("span.math")) {
      const math = el.querySelector("mjx-container");
      return !!math && math.getBoundingClientRect().width > el.clientWidth + 2;
    }
    return el.scrollWidth > el.clientWidth + 1;
  }

  function mark(el) {
    const wide = scrolls(el);
    if (wide === el.hasAttribute("data-d2lrnn-scrolls")) return;
    if (wide) {
      el.setAttribute("data-d2lrnn-scrolls", "");
      if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0");
    } else {
      el.removeAttribute("data-d2lrnn-scrolls");
    }
  }

  const observer = new ResizeObserver((entries) => entries.forEach((e) => mark(e.target)));
  function watch() {
    document.querySelectorAll(SELECTOR).forEach((el) => {
      mark(el);
      observer.observe(el);
    });
  }

  window.addEventListener("load", () => {
    watch();
    const mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise) {
      mathjax.startup.promise.then(watch);
    }
  });
})();
