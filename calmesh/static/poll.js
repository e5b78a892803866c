// The public poll page. Everything works without this file; it adds the
// participant's own time zone, on the first visit and when they choose another,
// without loading the page again: the pieces that follow the zone (the heading,
// the results, the vote and comment forms) are fetched in the new zone and
// swapped by their ids. The zone form stays, and what the participant has
// typed or ticked meanwhile is kept.
(function () {
  "use strict";

  var ZONED = ["poll-head", "poll-results", "poll-vote", "comments"];
  var pending = null;

  function url(form) {
    return form.getAttribute("action") + "?" + new URLSearchParams(new FormData(form)).toString();
  }

  // What the participant entered in the page's forms: [name, value, checked] by id.
  function entered() {
    var kept = [];
    document.querySelectorAll(".poll input[id], .poll textarea[id]").forEach(function (field) {
      if (field.type === "hidden" || field.readOnly) return;
      kept.push([field.id, field.value, field.checked]);
    });
    return kept;
  }

  function restore(kept) {
    kept.forEach(function (item) {
      var field = document.getElementById(item[0]);
      if (!field) return;
      if (field.type === "radio" || field.type === "checkbox") field.checked = item[2];
      else field.value = item[1];
    });
  }

  function show(form) {
    var address = url(form);
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(address, { headers: { "HX-Request": "true" }, credentials: "same-origin", signal: pending.signal })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var kept = entered();
        ZONED.forEach(function (id) {
          var now = document.getElementById(id);
          var next = fresh.getElementById(id);
          if (now && next) now.replaceWith(document.importNode(next, true));
        });
        restore(kept);
        // Replace, not push: Back should not return to the page in the wrong zone.
        history.replaceState(null, "", address);
        if (window.CalMesh) window.CalMesh.relinkLanguages();
      })
      .catch(function (error) {
        // Without the pieces, load the page in that zone the plain way.
        if (error.name !== "AbortError") window.location.assign(address);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.poll-zone");
    if (!form) return;
    var select = form.elements.namedItem("tz");
    select.addEventListener("change", function () { show(form); });
    if (!form.hasAttribute("data-poll-detect")) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
    if (!zone || !known || select.value === zone) return;
    select.value = zone;
    show(form);
  });
})();
