// The public booker. Everything works without this file; it adds:
// - the visitor's own time zone on the first visit (the server renders the
//   page's zone until told otherwise; the clock follows the visitor's language);
// - a searchable zone picker (the ARIA combobox pattern) over the plain select:
//   the page's select lists every zone once; it is read here once, and the
//   fragments htmx swaps in carry only the chosen zone;
// - the month as one Tab stop with arrow keys between its days (the ARIA grid
//   pattern), and on a phone a scroll to the times once a day is tapped;
// - focus on the new step after htmx swaps in the form, and language links that
//   follow the address htmx moved to;
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
      var known = (zoneList || []).some(function (z) { return z.zone === zone; });
      if (zone && known && select.value !== zone) {
        select.value = zone;
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
      relinkLanguages();
    });
  }

  var relinkLanguages = window.CalMesh.relinkLanguages; // app.js, loaded first
  document.addEventListener("htmx:pushedIntoHistory", relinkLanguages);
  document.addEventListener("htmx:replacedInHistory", relinkLanguages);

  // --- the zone picker -------------------------------------------------------------
  var zoneList = null; // [{zone, region}], read once from the page's grouped select
  var formats = {}; // Intl formatters by zone and clock: building them is the slow part
  var refocus = false;

  function readZones(root) {
    var select = root.querySelector("select[data-booker-zones]");
    if (!select || !select.querySelector("optgroup")) return;
    zoneList = [];
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      Array.prototype.forEach.call(group.querySelectorAll("option"), function (o) {
        zoneList.push({ zone: o.value, region: group.label });
      });
    });
  }

  // "UTC+05:30" and "14:05" (or "2:05pm") for a zone, now.
  function describe(zone, clock, now) {
    var key = zone + " " + clock;
    if (!(key in formats)) {
      try {
        formats[key] = new Intl.DateTimeFormat(document.documentElement.lang || "en", {
          timeZone: zone, hour: "numeric", minute: "2-digit",
          hourCycle: clock === "12" ? "h12" : "h23", timeZoneName: "longOffset"
        });
      } catch (e) {
        formats[key] = null; // a name the server knows and this browser does not ("localtime")
      }
    }
    if (!formats[key]) return { offset: "", time: "" };
    var parts = {};
    formats[key].formatToParts(now).forEach(function (p) { parts[p.type] = p.value; });
    var offset = (parts.timeZoneName || "GMT").replace("GMT", "") || "+00:00";
    var hour = clock === "12" ? parts.hour : ("0" + parts.hour).slice(-2);
    var time = hour + ":" + parts.minute + (clock === "12" ? (parts.dayPeriod || "").toLowerCase() : "");
    return { offset: "UTC" + offset, time: time };
  }

  function searchText(zone, info) {
    if (!info.offset) return zone.replace(/_/g, " ").toLowerCase() + " " + zone.toLowerCase();
    var off = info.offset.slice(3); // "+05:30"
    var short = off.replace(/^([+-])0?(\d+):00$/, "$1$2").replace(/^([+-])0(\d)/, "$1$2");
    return (zone.replace(/_/g, " ") + " " + zone + " " + info.offset + " " + off + " " + short).toLowerCase();
  }

  function enhanceZone(root) {
    var select = root.querySelector("select[data-booker-zones]");
    if (!select || !zoneList || select.hidden) return;
    var form = select.form;
    var text = JSON.parse(select.getAttribute("data-booker-text") || "{}");
    var clockInput = form.elements.namedItem("clock");
    var clock = clockInput ? clockInput.value : "24";
    var label = form.querySelector("label[for='booker-tz']");
    var box = document.createElement("div");
    box.className = "zone-picker";
    var input = document.createElement("input");
    input.type = "text";
    input.id = "booker-tz-search";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", "booker-tz-list");
    input.setAttribute("aria-describedby", "booker-tz-hint");
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = text.search;
    var current = select.value;
    input.value = current.replace(/_/g, " ");
    var hint = document.createElement("span");
    hint.id = "booker-tz-hint";
    hint.className = "zone-hint";
    var mine = describe(current, clock, new Date());
    hint.textContent = (mine.offset ? text.now.replace("{offset}", mine.offset).replace("{time}", mine.time) + " " : "") +
      text.hint;
    var list = document.createElement("div");
    list.id = "booker-tz-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", text.zones);
    list.hidden = true;
    box.appendChild(input);
    box.appendChild(list);
    select.hidden = true;
    select.parentNode.insertBefore(box, select);
    form.appendChild(hint);
    if (label) label.setAttribute("for", "booker-tz-search");
    var submit = form.querySelector("noscript");
    if (submit) submit.remove();

    var detected = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var options = [];
    var active = -1;

    function render() {
      var query = input.value.trim().toLowerCase();
      if (query === current.replace(/_/g, " ").toLowerCase()) query = "";
      var now = new Date();
      var groups = [];
      var byName = {};
      function add(name, zone) {
        if (!byName[name]) { byName[name] = []; groups.push(name); }
        byName[name].push(zone);
      }
      if (!query && zoneList.some(function (z) { return z.zone === detected; })) add(text.detected, detected);
      zoneList.forEach(function (z) {
        if (!query || searchText(z.zone, describe(z.zone, clock, now)).indexOf(query) >= 0) add(z.region, z.zone);
      });
      list.textContent = "";
      options = [];
      groups.forEach(function (name, g) {
        var group = document.createElement("div");
        group.setAttribute("role", "group");
        group.setAttribute("aria-labelledby", "booker-tz-g" + g);
        var head = document.createElement("div");
        head.id = "booker-tz-g" + g;
        head.className = "zone-group";
        head.setAttribute("role", "presentation");
        head.textContent = name;
        group.appendChild(head);
        byName[name].forEach(function (zone) {
          var info = describe(zone, clock, now);
          var option = document.createElement("div");
          option.id = "booker-tz-o" + options.length;
          option.setAttribute("role", "option");
          option.setAttribute("aria-selected", zone === current ? "true" : "false");
          option.setAttribute("data-zone", zone);
          var nameSpan = document.createElement("span");
          nameSpan.textContent = zone.replace(/_/g, " ");
          var meta = document.createElement("span");
          meta.className = "zone-meta";
          meta.textContent = info.offset ? info.offset + " · " + info.time : "";
          option.appendChild(nameSpan);
          option.appendChild(meta);
          group.appendChild(option);
          options.push(option);
        });
        list.appendChild(group);
      });
      if (!options.length) {
        var none = document.createElement("div");
        none.className = "zone-none";
        none.setAttribute("role", "presentation");
        none.textContent = text.none;
        list.appendChild(none);
      }
      move(query && options.length ? 0 : -1);
    }

    function open() {
      if (!list.hidden) return;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      render();
    }

    function close(restore) {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      if (!restore) return;
      input.value = current.replace(/_/g, " ");
      if (document.activeElement === input) input.select();
    }

    function move(to) {
      if (options[active]) options[active].classList.remove("active");
      active = Math.max(-1, Math.min(to, options.length - 1));
      if (active < 0) { input.removeAttribute("aria-activedescendant"); return; }
      options[active].classList.add("active");
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function pick(zone) {
      close(false);
      input.value = zone.replace(/_/g, " ");
      if (zone === current) return;
      if (!Array.prototype.some.call(select.options, function (o) { return o.value === zone; })) {
        select.add(new Option(zone, zone));
      }
      select.value = zone;
      refocus = true;
      select.dispatchEvent(new Event("change", { bubbles: true })); // htmx submits the form
    }

    input.addEventListener("input", function () { list.hidden ? open() : render(); });
    input.addEventListener("click", open);
    // The shown zone is all selected on focus: typing replaces it instead of adding to it.
    input.addEventListener("focus", function () { setTimeout(function () { input.select(); }, 0); });
    // The text box is not the form's value: its edits must not submit the form.
    input.addEventListener("change", function (event) { event.stopPropagation(); });
    input.addEventListener("blur", function () { close(true); });
    input.addEventListener("keydown", function (event) {
      var key = event.key;
      if (key === "ArrowDown" || key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { open(); if (active < 0) move(0); return; }
        move(active + (key === "ArrowDown" ? 1 : -1));
      } else if (key === "PageDown" || key === "PageUp") {
        if (list.hidden) return;
        event.preventDefault();
        move(active + (key === "PageDown" ? 10 : -10));
      } else if (key === "Enter") {
        event.preventDefault(); // never submit the form with the search text
        if (!list.hidden && options[active]) pick(options[active].getAttribute("data-zone"));
      } else if (key === "Escape" && !list.hidden) {
        event.stopPropagation(); // the embed's Escape closes the frame only when the list is shut
        close(true);
      }
    });
    // mousedown, not click: the text box keeps the focus (no blur closes the list first).
    list.addEventListener("mousedown", function (event) {
      event.preventDefault();
      var option = event.target.closest("[role=option]");
      if (option) pick(option.getAttribute("data-zone"));
    });
    if (refocus) {
      refocus = false;
      input.focus();
    }
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
    readZones(document);
    detect(document);
    enhanceZone(document);
    monthGrid(document);
    if (!embedded()) return;
    if (window.ResizeObserver) new ResizeObserver(postHeight).observe(document.body);
    postHeight();
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") window.parent.postMessage({ calmesh: "escape" }, "*");
    });
  });

  // --- the month: one Tab stop, arrow keys between days (the ARIA grid pattern) ------
  function monthGrid(root) {
    var table = root.querySelector("table.month");
    if (!table) return;
    table.setAttribute("role", "grid");
    var cells = Array.prototype.slice.call(table.querySelectorAll("tbody td"));
    var days = cells.map(function (td) { return td.querySelector(".day"); });
    var current = table.querySelector(".day.selected") || table.querySelector("a.day") ||
      days.filter(Boolean)[0];
    days.forEach(function (day) {
      if (day) day.tabIndex = day === current ? 0 : -1;
    });
    table.addEventListener("keydown", function (event) {
      var at = days.indexOf(document.activeElement);
      if (at < 0) return;
      var step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 }[event.key];
      var target = null;
      if (step) {
        for (var i = at + step; i >= 0 && i < days.length && !target; i += step) target = days[i];
      } else if (event.key === "Home" || event.key === "End") {
        var row = at - (at % 7);
        var span = days.slice(row, row + 7).filter(Boolean);
        target = event.key === "Home" ? span[0] : span[span.length - 1];
      } else if (event.key === "PageUp" || event.key === "PageDown") {
        var other = root.querySelector(event.key === "PageUp" ? "#month-prev" : "#month-next");
        if (other) { event.preventDefault(); other.click(); }
        return;
      } else {
        return;
      }
      event.preventDefault();
      if (!target) return;
      days[at].tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    });
  }

  // On a phone the times sit below the month: show them once a day is tapped.
  var dayTapped = false;
  document.addEventListener("htmx:beforeRequest", function (event) {
    dayTapped = !!(event.detail.elt && event.detail.elt.matches && event.detail.elt.matches("a.day"));
  });
  function showTimes(root) {
    if (!dayTapped) return;
    dayTapped = false;
    var times = root.querySelector(".booker-times");
    if (!times || !window.matchMedia("(max-width: 43.99rem)").matches) return;
    var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    times.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail.elt || document;
    if (root.id !== "booker") root = document.getElementById("booker") || root;
    readZones(root);
    detect(root);
    enhanceZone(root);
    monthGrid(root);
    focusStep(root);
    showTimes(root);
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
