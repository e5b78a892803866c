// CalMesh embed: put a booking page on any website.
//
//   <div data-calmesh-handle="you" data-calmesh-slug="intro" data-mode="inline"></div>
//   <div data-calmesh-handle="you" data-calmesh-slug="intro" data-mode="popup"
//        data-color="#f97316" data-text="Book a call" data-lang="de"></div>
//   <script src="https://calmesh.example.org/embed.js" defer></script>
//
// Inline: an iframe of the booking page (?embed=1) that takes the height the
// page reports. Popup: a button that opens the page in a modal dialog (Escape,
// the close button or a click beside it closes it; focus goes in and comes
// back). Messages are believed only from this script's own origin and frames.
// Styles are set through the CSSOM, which a host's strict CSP still allows.
// data-lang (en, de, fr, es) fixes the page's language; without it the framed
// page follows the visitor's browser, and the script's own words (the button,
// "Close") the host page's <html lang>.
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) return;
  var origin = new URL(script.src, window.location.href).origin;
  var frames = []; // {frame, inline, dialog}
  var WORDS = {
    en: { book: "Book a time", close: "Close" },
    de: { book: "Termin buchen", close: "Schließen" },
    fr: { book: "Réserver un créneau", close: "Fermer" },
    es: { book: "Reservar una hora", close: "Cerrar" }
  };

  function language(el) {
    return (el.getAttribute("data-lang") || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
  }

  function words(el) {
    return WORDS[language(el)] || WORDS.en;
  }

  function pageUrl(el) {
    return origin + "/" + encodeURIComponent(el.getAttribute("data-calmesh-handle")) + "/" +
      encodeURIComponent(el.getAttribute("data-calmesh-slug")) + "?embed=1" +
      (WORDS[el.getAttribute("data-lang")] ? "&lang=" + el.getAttribute("data-lang") : "");
  }

  function css(el, rules) {
    Object.keys(rules).forEach(function (name) { el.style.setProperty(name, rules[name]); });
    return el;
  }

  function makeFrame(el, inline) {
    var frame = document.createElement("iframe");
    frame.src = pageUrl(el);
    frame.title = el.getAttribute("data-text") || words(el).book;
    frame.setAttribute("data-calmesh-frame", inline ? "inline" : "popup");
    css(frame, { display: "block", width: "100%", border: "0", "background-color": "transparent" });
    return frame;
  }

  function inline(el) {
    var frame = makeFrame(el, true);
    css(frame, { height: "680px" });
    el.appendChild(frame);
    frames.push({ frame: frame, inline: true, dialog: null });
  }

  // Black or white text, whichever reads better on the button's colour (WCAG contrast).
  function textFor(button) {
    var rgb = getComputedStyle(button).backgroundColor.match(/\d+(\.\d+)?/g);
    if (!rgb || rgb.length < 3) return "#fff";
    var lum = rgb.slice(0, 3).map(function (v) {
      var c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? "#fff" : "#111";
  }

  function popup(el) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = el.getAttribute("data-text") || words(el).book;
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("data-calmesh-open", "");
    css(button, {
      font: "inherit", "font-weight": "600", padding: ".7rem 1.3rem", border: "0",
      "border-radius": "8px", cursor: "pointer", "background-color": "#0b5cad",
    });
    var colour = el.getAttribute("data-color");
    if (colour && window.CSS && CSS.supports("color", colour)) button.style.backgroundColor = colour;
    el.appendChild(button);
    button.style.color = textFor(button);

    var dialog = null;
    button.addEventListener("click", function () {
      if (!dialog) dialog = makeDialog(el, button);
      dialog.showModal();
      dialog.querySelector("[data-calmesh-close]").focus();
    });
  }

  function makeDialog(el, button) {
    var dialog = css(document.createElement("dialog"), {
      position: "fixed", inset: "0", width: "100%", height: "100%", "max-width": "100%",
      "max-height": "100%", margin: "0", padding: "0", border: "0",
      "background-color": "rgba(15, 20, 25, .6)",
    });
    dialog.setAttribute("aria-label", button.textContent);
    var panel = css(document.createElement("div"), {
      position: "absolute", top: "50%", left: "50%", transform: "translate(-50%, -50%)",
      width: "min(64rem, calc(100% - 1rem))", height: "min(52rem, calc(100% - 1rem))",
      "background-color": "#fff", "border-radius": "12px", overflow: "hidden",
      display: "flex", "flex-direction": "column", "box-shadow": "0 10px 40px rgba(0, 0, 0, .35)",
    });
    var close = css(document.createElement("button"), {
      position: "absolute", top: ".4rem", right: ".4rem", width: "2.5rem", height: "2.5rem",
      border: "0", "border-radius": "50%", "background-color": "#eaeef2", color: "#1b1f24",
      "font-size": "1.5rem", "line-height": "1", cursor: "pointer", "z-index": "1",
    });
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", words(el).close);
    close.setAttribute("data-calmesh-close", "");
    var frame = css(makeFrame(el, false), { flex: "1", height: "100%" });
    panel.appendChild(close);
    panel.appendChild(frame);
    dialog.appendChild(panel);
    document.body.appendChild(dialog);
    frames.push({ frame: frame, inline: false, dialog: dialog });

    close.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close(); // a click beside the panel
    });
    dialog.addEventListener("close", function () { button.focus(); });
    return dialog;
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data || typeof event.data !== "object") return;
    frames.forEach(function (entry) {
      if (entry.frame.contentWindow !== event.source) return;
      var height = Number(event.data.height);
      if (event.data.calmesh === "height" && entry.inline && height > 0) {
        entry.frame.style.height = Math.min(Math.ceil(height), 20000) + "px";
      } else if (event.data.calmesh === "escape" && entry.dialog && entry.dialog.open) {
        entry.dialog.close();
      }
    });
  });

  function start() {
    var found = document.querySelectorAll("[data-calmesh-handle][data-calmesh-slug]");
    Array.prototype.forEach.call(found, function (el) {
      if (el.hasAttribute("data-calmesh-ready")) return; // two copies of the script
      el.setAttribute("data-calmesh-ready", "");
      if (el.getAttribute("data-mode") === "popup") popup(el);
      else inline(el);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
