// CalMesh page helpers. No inline scripts (the CSP forbids them): behaviour hangs
// off data- attributes and is re-applied after every htmx swap.
(function () {
  "use strict";

  function apply(root) {
    // Zone pickers marked data-detect-zone (the first-run form) start at the browser's
    // zone; without JavaScript, or for a zone the list lacks, the server's UTC stays.
    root.querySelectorAll("select[data-detect-zone]").forEach(function (select) {
      var zone;
      try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
      if (zone && known) select.value = zone;
    });
    // Colour swatches: CSP blocks style="" attributes, but not CSSOM writes.
    root.querySelectorAll("[data-color]").forEach(function (el) {
      if (/^#[0-9a-fA-F]{3,8}$/.test(el.dataset.color)) el.style.backgroundColor = el.dataset.color;
    });
    // Copy buttons: <button data-copy="#selector">.
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        var text = source.value !== undefined ? source.value : source.textContent;
        navigator.clipboard.writeText(text.trim()).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { apply(document); });
  document.addEventListener("htmx:afterSwap", function (event) { apply(event.target); });
})();
