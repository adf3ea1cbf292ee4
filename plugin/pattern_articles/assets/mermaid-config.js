/* pattern-articles: readable sequence diagrams with the bundled Mermaid.
 *
 * Material for MkDocs calls mermaid.initialize() once per page with its theme settings; this
 * merges in a more compact sequence layout, so a diagram of five or six services fits the
 * text column without shrinking its labels to a few pixels. On narrow screens the diagram
 * keeps its natural size, with slightly smaller labels, and scrolls sideways instead
 * (pattern-articles.css lets it): squeezed to a phone's width its labels would be
 * unreadable. Settings the theme gives explicitly win.
 *
 * It defines window.patternArticlesCompactMermaid(mermaid), which wraps that Mermaid's
 * initialize, and applies it at once to a Mermaid already loaded. The loader
 * (mermaid-loader.js) loads this file first and applies it in mermaid.min.js's load event,
 * which runs right after Mermaid's own code and before any other script: Material may call
 * initialize as soon as Mermaid exists, and a wrapper that came later would miss that call.
 */
(function () {
  "use strict";
  function compact(mermaid) {
    if (!mermaid || typeof mermaid.initialize !== "function" || mermaid.patternArticlesCompact) return;
    var initialize = mermaid.initialize.bind(mermaid);
    mermaid.initialize = function (config) {
      config = config || {};
      var narrow = window.matchMedia("(max-width: 44.984375em)").matches;
      var sequence = Object.assign(
        { width: 110, actorMargin: 20, boxMargin: 8, messageMargin: 30, diagramMarginX: 10, useMaxWidth: !narrow },
        config.sequence || {}
      );
      // a sequence diagram takes its label size from the top-level fontSize (default 16)
      var small = narrow && config.fontSize === undefined ? { fontSize: 13 } : {};
      return initialize(Object.assign({}, config, small, { sequence: sequence }));
    };
    mermaid.patternArticlesCompact = true;
  }
  window.patternArticlesCompactMermaid = compact;
  if (typeof mermaid !== "undefined" && !(mermaid instanceof Element)) compact(mermaid);
})();
