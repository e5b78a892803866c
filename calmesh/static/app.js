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
    root.querySelectorAll("[data-week-keys]").forEach(weekGrid);
    root.querySelectorAll("input[data-slug-from]").forEach(slugFrom);
    root.querySelectorAll("[data-presets-for]").forEach(presets);
    root.querySelectorAll("select[data-shows]").forEach(showsWhen);
  }

  // As web.forms.slug_from: "Café Intro call!" -> "cafe-intro-call".
  function slugify(text) {
    return text.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "");
  }

  // A slug input follows its title until the owner types a slug of their own.
  function slugFrom(slug) {
    var title = document.querySelector(slug.dataset.slugFrom);
    if (!title || slug.dataset.bound) return;
    slug.dataset.bound = "1";
    var following = slug.value === "" || slug.value === slugify(title.value);
    slug.addEventListener("input", function () { following = slug.value === ""; });
    title.addEventListener("input", function () {
      if (!following) return;
      slug.value = slugify(title.value);
      slug.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  // Duration quick picks: each toggles its minutes in the comma-separated input, in order.
  function presets(group) {
    var input = document.querySelector(group.dataset.presetsFor);
    if (!input || group.dataset.bound) return;
    group.dataset.bound = "1";
    group.hidden = false;
    function values() { return input.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean); }
    function sync() {
      group.querySelectorAll("[data-duration]").forEach(function (b) {
        b.setAttribute("aria-pressed", values().indexOf(b.dataset.duration) >= 0 ? "true" : "false");
      });
    }
    group.addEventListener("click", function (event) {
      var button = event.target.closest("[data-duration]");
      if (!button) return;
      var list = values(), at = list.indexOf(button.dataset.duration);
      if (at >= 0) list.splice(at, 1); else list.push(button.dataset.duration);
      input.value = list.join(", ");
      input.dispatchEvent(new Event("input", { bubbles: true }));
      sync();
    });
    input.addEventListener("input", sync);
    sync();
  }

  // <select data-shows="#part" data-shows-when="select">: the part shows only for that value.
  function showsWhen(select) {
    var part = document.querySelector(select.dataset.shows);
    if (!part) return;
    function update() { part.hidden = select.value !== select.dataset.showsWhen; }
    if (!select.dataset.bound) select.addEventListener("change", update);
    select.dataset.bound = "1";
    update();
  }

  // The calendar page's week grid: opens scrolled to the working day; on the focused
  // grid, Left/Right go to the previous/next week and T to this week, and the grid of
  // the new page takes the focus back.
  function weekGrid(grid) {
    if (grid.dataset.bound) return;
    grid.dataset.bound = "1";
    var body = grid.querySelector(".wg-body"), head = grid.querySelector(".wg-top");
    var day = grid.querySelector(".wg-day");
    var row = parseInt(grid.dataset.scrollRow, 10) || 1;
    if (body && day) grid.scrollTop = body.offsetTop - head.offsetHeight - 8 + (row - 1) * day.offsetHeight / 96;
    if (sessionStorage.getItem("week-focus")) {
      sessionStorage.removeItem("week-focus");
      grid.focus({ preventScroll: true });
    }
    grid.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      var target = { ArrowLeft: "prev", ArrowRight: "next", t: "this", T: "this" }[event.key];
      if (!target) return;
      event.preventDefault();
      sessionStorage.setItem("week-focus", "1");
      window.location.assign(grid.dataset[target]);
    });
  }

  // The language links keep the visitor's place: the address a script moved to
  // (the booker's htmx steps, the poll's zone).
  function relinkLanguages() {
    document.querySelectorAll("a[data-language]").forEach(function (link) {
      var params = new URLSearchParams(window.location.search);
      params.set("lang", link.getAttribute("data-language"));
      link.setAttribute("href", window.location.pathname + "?" + params.toString());
    });
  }
  window.CalMesh = { relinkLanguages: relinkLanguages };

  document.addEventListener("DOMContentLoaded", function () { apply(document); });
  document.addEventListener("htmx:afterSwap", function (event) { apply(event.target); });
})();
