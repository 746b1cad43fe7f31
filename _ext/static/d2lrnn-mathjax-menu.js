// MathJax's context menu (show the TeX or MathML of a formula, zoom, accessibility
// settings) on demand.  The menu component is 0.4 MB, a third of MathJax, and few
// readers open it, so the pages start MathJax without it (_config.yml's
// mathjax3_config) and this script loads it the first time a reader opens the menu
// of a formula (right click, long press, or the menu key on a focused formula).
// MathJax then rebuilds its document with the menu (startup.getComponents, as its
// documentation does to reconfigure MathJax after loading), typesets the page again
// from the original TeX, and the menu opens where the reader asked for it.
(() => {
  "use strict";
  let loading = null;

  async function loadMenu() {
    const mathjax = window.MathJax;
    const startup = mathjax.startup;
    await startup.promise;
    const old = startup.document;
    const { input, output } = startup;
    await mathjax.loader.load("ui/menu");
    for (const item of old.math) {
      item.removeFromDocument(true); // puts the TeX, with its delimiters, back
    }
    old.clear();
    startup.getComponents(); // a handler that adds the menu to every formula
    // ... with the input and output that typeset the page: the output keeps the
    // CSS of the characters it has drawn, which a new one would not write again.
    startup.input = input;
    startup.output = output;
    startup.document = mathjax._.mathjax.mathjax.document(document, {
      ...mathjax.config.options,
      InputJax: input,
      OutputJax: output,
    });
    await mathjax.typesetPromise();
  }

  function menuLoaded() {
    const doc = window.MathJax && MathJax.startup && MathJax.startup.document;
    return !!(doc && doc.menu);
  }

  // Until the menu is there, formulas stay in the tab order, as the menu puts them.
  function focusable() {
    if (menuLoaded()) return;
    document.querySelectorAll("mjx-container:not([tabindex])").forEach((el) => {
      el.setAttribute("tabindex", "0");
    });
  }

  document.addEventListener(
    "contextmenu",
    (event) => {
      const math = event.target.closest && event.target.closest("mjx-container");
      if (!math || !window.MathJax || !MathJax.loader || menuLoaded()) return;
      event.preventDefault();
      event.stopPropagation();
      const { clientX, clientY } = event;
      const keyboard = event.button !== 2 && clientX === 0 && clientY === 0;
      const index = Array.from(document.querySelectorAll("mjx-container")).indexOf(math);
      loading = loading || loadMenu();
      loading.then(() => {
        const target = keyboard
          ? document.querySelectorAll("mjx-container")[index]
          : document.elementFromPoint(clientX, clientY);
        if (!target) return;
        if (keyboard) target.focus();
        target.dispatchEvent(
          new MouseEvent("contextmenu", {
            bubbles: true, cancelable: true, clientX, clientY, button: 2,
          }),
        );
      });
    },
    true,
  );

  window.addEventListener("load", () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(focusable);
    }
  });
})();
