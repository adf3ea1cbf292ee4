/* pattern-articles: load the bundled Mermaid on a page that shows a diagram, and only there.
 *
 * The MkDocs plugin writes this script inline, right after the page's first diagram, with
 * the folder of the bundled scripts as its argument. Inline, because Material's instant
 * navigation runs inline scripts of the new page at once but loads `src` scripts in the
 * background: Material looks for `window.mermaid` before they arrive and, finding nothing,
 * asks its CDN. So this script defines `window.mermaid` at once, as a stand-in
 * that passes every call to the real Mermaid when it has loaded, then loads
 *   mermaid-config.js the compact sequence layout (a function that wraps initialize), and
 *   mermaid.min.js    the real Mermaid, which replaces the stand-in,
 * in that order. The layout is applied in mermaid.min.js's load event, which runs right
 * after Mermaid's code and before any other script: Material calls initialize as soon as
 * the real Mermaid exists, and a wrapper loaded after it would miss that call. A page whose Mermaid is already there (a full load of another page with
 * diagrams, then instant navigation here) loads nothing again.
 */
(function (folder) {
  "use strict";
  if (typeof mermaid !== "undefined" && !(mermaid instanceof Element)) return;
  var loaded = new Promise(function (resolve, reject) {
    var load = function (name, then) {
      var script = document.createElement("script");
      script.src = folder + name;
      script.onload = then;
      script.onerror = function () { reject(new Error("could not load " + script.src)); };
      document.head.appendChild(script);
    };
    load("mermaid-config.js", function () {
      load("mermaid.min.js", function () {
        if (window.patternArticlesCompactMermaid) window.patternArticlesCompactMermaid(window.mermaid);
        resolve(window.mermaid);
      });
    });
  });
  var initialized = null;
  var standIn = new Proxy({}, {
    get: function (_, name) {
      if (name === "then") return undefined; // not a promise itself
      return function () {
        var args = arguments;
        if (name === "initialize") {
          initialized = args; // the real initialize runs before anything else is passed on
          return undefined;
        }
        return loaded.then(function (real) {
          if (initialized) {
            real.initialize.apply(real, initialized);
            initialized = null;
          }
          return real[name].apply(real, args);
        });
      };
    },
  });
  window.mermaid = standIn;
  loaded.then(function (real) {
    if (initialized) {
      real.initialize.apply(real, initialized);
      initialized = null;
    }
  });
})
