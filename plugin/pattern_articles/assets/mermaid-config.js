/* pattern-articles: readable sequence diagrams with the bundled Mermaid.
 *
 * Loaded right after mermaid.min.js. Material for MkDocs calls mermaid.initialize() once per
 * page with its theme settings; this merges in a more compact sequence layout, so a diagram
 * of five or six services fits the text column without shrinking its labels to a few pixels.
 * On narrow screens the diagram keeps its natural size, with slightly smaller labels, and
 * scrolls sideways instead (pattern-articles.css lets it): squeezed to a phone's width its
 * labels would be unreadable. Settings the theme gives explicitly win.
 */
(function () {
  "use strict";
  if (typeof mermaid === "undefined" || mermaid instanceof Element) return;
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
})();
