// The public poll page. Everything works without this file; it adds:
// - the participant's own time zone on the first visit (the server shows the
//   poll's zone until told otherwise);
// - a new zone applied as soon as it is chosen.
(function () {
  "use strict";

  function url(form) {
    return form.getAttribute("action") + "?" + new URLSearchParams(new FormData(form)).toString();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.poll-zone");
    if (!form) return;
    var select = form.elements.namedItem("tz");
    select.addEventListener("change", function () { window.location.assign(url(form)); });
    if (!form.hasAttribute("data-poll-detect")) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
    if (!zone || !known || select.value === zone) return;
    select.value = zone;
    // Replace, not push: Back should not return to the page in the wrong zone.
    window.location.replace(url(form));
  });
})();
