// The public booker. Everything works without this file; it adds:
// - the visitor's own time zone and 12h/24h habit on the first visit (the
//   server renders the page's zone until told otherwise);
// - focus on the new step after htmx swaps in the form;
// - when framed by embed.js (?embed=1): the page's height and Escape, posted
//   to the parent page, which checks that they come from this origin.
(function () {
  "use strict";

  function detect(root) {
    var form = root.querySelector("form[data-booker-detect]");
    if (!form || !window.htmx) return;
    var wanted = form.getAttribute("data-booker-detect").split(" ");
    form.removeAttribute("data-booker-detect");
    var changed = false;
    var select = form.elements.namedItem("tz");
    if (wanted.indexOf("tz") >= 0 && select) {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
      if (zone && known && select.value !== zone) {
        select.value = zone;
        changed = true;
      }
    }
    var clock = form.elements.namedItem("clock");
    if (wanted.indexOf("clock") >= 0 && clock) {
      var cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
      var habit = cycle === "h11" || cycle === "h12" ? "12" : "24";
      if (clock.value !== habit) {
        clock.value = habit;
        changed = true;
      }
    }
    if (!changed) return;
    var url = form.getAttribute("action") + "?" + new URLSearchParams(new FormData(form)).toString();
    // Replace, not push: Back should not return to the page in the wrong zone.
    // The form is the source, so #booker's hx-sync="this:replace" lets a visitor's
    // own click (a day, a slot) cancel this request instead of being undone by it.
    window.htmx.ajax("GET", url, { source: form, target: "#booker", swap: "outerHTML" }).then(function () {
      history.replaceState({ htmx: true }, "", url);
    });
  }

  function focusStep(root) {
    var target = root.querySelector("[data-booker-focus]");
    if (target && root !== document) target.focus();
  }

  var framed = window.parent !== window;
  var lastHeight = 0;

  function postHeight() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === lastHeight) return;
    lastHeight = height;
    window.parent.postMessage({ calmesh: "height", height: height }, "*");
  }

  function embedded() {
    return framed && document.querySelector("[data-booker-embed]") !== null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    detect(document);
    if (!embedded()) return;
    if (window.ResizeObserver) new ResizeObserver(postHeight).observe(document.body);
    postHeight();
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") window.parent.postMessage({ calmesh: "escape" }, "*");
    });
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail.elt || document;
    if (root.id !== "booker") root = document.getElementById("booker") || root;
    detect(root);
    focusStep(root);
    if (embedded()) postHeight();
  });

  // One click books once: the button rests while the form is on its way.
  document.addEventListener("submit", function (event) {
    if (event.target.method !== "post" || event.defaultPrevented) return;
    var button = event.target.querySelector("button[type=submit]");
    if (!button) return;
    setTimeout(function () { button.disabled = true; }, 0);
    setTimeout(function () { button.disabled = false; }, 8000);
  });
})();
