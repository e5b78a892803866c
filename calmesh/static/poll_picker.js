// The poll editor's options, picked the Rallly way: dates on a month calendar and,
// with "Specify times" on, times per date. The textarea of ISO lines stays the source
// of truth (and the whole form without JavaScript): the picker reads it at start and
// rewrites it on every change, so the server parses the same lines either way.
// Keyboard: the month is a grid of buttons with one tab stop; arrows move a day or a
// week (across months), Home/End the week's ends, Page Up/Down a month, Enter/Space pick.
(function () {
  "use strict";

  var LINE = /^(\d{4}-\d{2}-\d{2})(?:[ T]+(\d{1,2}:\d{2})(?:\s*[-\u2013]\s*(\d{1,2}:\d{2}))?)?$/;
  var DAY = 86400000;
  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  // Dates as "YYYY-MM-DD", computed in UTC so no clock change shifts a day.
  function parse(iso) { var p = iso.split("-"); return Date.UTC(+p[0], +p[1] - 1, +p[2]); }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function weekday(ms) { return (new Date(ms).getUTCDay() + 6) % 7; } // 0 = Monday
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function plusHour(hhmm) {
    var p = hhmm.split(":"), h = Math.min(+p[0] + 1, 23);
    return pad(h) + ":" + p[1];
  }
  function label(ms) {
    var d = new Date(ms);
    return WEEKDAYS[weekday(ms)] + " " + d.getUTCDate() + " " + MONTHS[d.getUTCMonth()].slice(0, 3);
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function picker(box) {
    var textarea = document.querySelector(box.dataset.pollPicker);
    if (!textarea) return;
    var days = {}, timed = false, focusDay = null, restore = null;
    function hhmm(text) { var p = text.split(":"); return pad(+p[0]) + ":" + p[1]; }
    function read() {
      days = {};
      timed = false;
      textarea.value.split(/\r?\n/).forEach(function (line) {
        var m = LINE.exec(line.trim());
        if (!m) return;
        days[m[1]] = days[m[1]] || [];
        if (m[2]) { timed = true; days[m[1]].push([hhmm(m[2]), m[3] ? hhmm(m[3]) : ""]); }
      });
    }
    read();
    var picked = Object.keys(days).sort();
    var today = parse(box.dataset.today || iso(Date.now()));
    var firstDay = (+box.dataset.firstDay || 0) % 7; // the owner's first weekday, 0 = Monday
    function column(ms) { return (weekday(ms) - firstDay + 7) % 7; }
    var shown = new Date(picked.length ? parse(picked[0]) : today);
    var month = Date.UTC(shown.getUTCFullYear(), shown.getUTCMonth(), 1);

    function write() {
      var lines = [];
      Object.keys(days).sort().forEach(function (day) {
        if (!timed) { lines.push(day); return; }
        days[day].forEach(function (t) {
          if (t[0]) lines.push(day + " " + t[0] + (t[1] ? "-" + t[1] : ""));
        });
      });
      textarea.value = lines.join("\n");
    }

    function change(fn, focusKey) {
      fn();
      write();
      restore = focusKey;
      render();
    }

    function toggle(day) {
      change(function () {
        if (days[day]) delete days[day];
        else days[day] = timed ? [["09:00", "10:00"]] : [];
      }, "day:" + day);
    }

    function move(ms) {
      var target = new Date(ms);
      month = Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), 1);
      focusDay = iso(ms);
      restore = "day:" + focusDay;
      render();
    }

    function monthGrid() {
      var wrap = el("div", { "class": "picker-month" });
      var head = el("div", { "class": "picker-head" });
      var prev = el("button", { type: "button", "class": "small secondary", "aria-label": "Previous month", "data-key": "prev" }, "‹");
      var next = el("button", { type: "button", "class": "small secondary", "aria-label": "Next month", "data-key": "next" }, "›");
      var d = new Date(month);
      var title = el("h3", { id: "picker-title", "aria-live": "polite" }, MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear());
      function step(by, key) {
        var p = new Date(month);
        month = Date.UTC(p.getUTCFullYear(), p.getUTCMonth() + by, 1);
        focusDay = null;
        restore = key;
        render();
      }
      prev.addEventListener("click", function () { step(-1, "prev"); });
      next.addEventListener("click", function () { step(1, "next"); });
      head.append(prev, title, next);
      wrap.append(head);
      var table = el("table", { role: "grid", "aria-labelledby": "picker-title", "class": "picker-grid" });
      var tr = el("tr");
      for (var c = 0; c < 7; c++) {
        var w = WEEKDAYS[(firstDay + c) % 7];
        tr.append(el("th", { scope: "col", abbr: w }, w.slice(0, 2)));
      }
      var thead = el("thead"); thead.append(tr); table.append(thead);
      var tbody = el("tbody");
      var first = month - column(month) * DAY;
      var nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      var stop = focusDay && parse(focusDay) >= month && parse(focusDay) < nextMonth ? focusDay : null;
      if (!stop) {
        var inMonth = Object.keys(days).sort().filter(function (k) { return parse(k) >= month && parse(k) < nextMonth; });
        stop = inMonth[0] || (today >= month && today < nextMonth ? iso(today) : iso(month));
      }
      for (var start = first; start < nextMonth; start += 7 * DAY) {
        var row = el("tr");
        for (var i = 0; i < 7; i++) {
          var ms = start + i * DAY, day = iso(ms), cell = el("td", { role: "gridcell" });
          if (ms >= month && ms < nextMonth) {
            var full = WEEKDAYS[weekday(ms)] + " " + new Date(ms).getUTCDate() + " " + MONTHS[new Date(ms).getUTCMonth()];
            var b = el("button", {
              type: "button", "class": "picker-day" + (ms === today ? " today" : "") + (ms < today ? " past" : ""),
              "aria-pressed": days[day] ? "true" : "false", "aria-label": full, "data-key": "day:" + day,
              "data-day": day, tabindex: day === stop ? "0" : "-1"
            }, String(new Date(ms).getUTCDate()));
            cell.append(b);
          }
          row.append(cell);
        }
        tbody.append(row);
      }
      table.append(tbody);
      table.addEventListener("click", function (e) {
        var b = e.target.closest("[data-day]");
        if (b) { focusDay = b.dataset.day; toggle(b.dataset.day); }
      });
      table.addEventListener("keydown", function (e) {
        var b = e.target.closest("[data-day]");
        if (!b) return;
        var ms = parse(b.dataset.day), to = null, dd = new Date(ms);
        switch (e.key) {
          case "ArrowLeft": to = ms - DAY; break;
          case "ArrowRight": to = ms + DAY; break;
          case "ArrowUp": to = ms - 7 * DAY; break;
          case "ArrowDown": to = ms + 7 * DAY; break;
          case "Home": to = ms - column(ms) * DAY; break;
          case "End": to = ms + (6 - column(ms)) * DAY; break;
          case "PageUp": to = Date.UTC(dd.getUTCFullYear(), dd.getUTCMonth() - 1, Math.min(dd.getUTCDate(), 28)); break;
          case "PageDown": to = Date.UTC(dd.getUTCFullYear(), dd.getUTCMonth() + 1, Math.min(dd.getUTCDate(), 28)); break;
          default: return;
        }
        e.preventDefault();
        move(to);
      });
      wrap.append(table);
      return wrap;
    }

    function timesList() {
      var wrap = el("div", { "class": "picker-times" });
      var toggleId = "picker-timed";
      var check = el("div", { "class": "field check" });
      var box = el("input", { type: "checkbox", id: toggleId, "data-key": "timed" });
      box.checked = timed;
      box.addEventListener("change", function () {
        change(function () {
          timed = box.checked;
          Object.keys(days).forEach(function (d) { if (timed && !days[d].length) days[d].push(["09:00", "10:00"]); });
        }, "timed");
      });
      check.append(box, el("label", { "for": toggleId }, "Specify times"));
      wrap.append(check);
      var keys = Object.keys(days).sort();
      if (!keys.length) {
        wrap.append(el("p", { "class": "hint" }, "Pick the dates on the calendar."));
        return wrap;
      }
      var list = el("ul", { "class": "picker-dates" });
      keys.forEach(function (day) {
        var name = label(parse(day));
        var li = el("li");
        var top = el("div", { "class": "picker-date" });
        top.append(el("strong", {}, name));
        var remove = el("button", { type: "button", "class": "small link", "aria-label": "Remove " + name, "data-key": "remove:" + day }, "Remove");
        remove.addEventListener("click", function () { change(function () { delete days[day]; }, "day:" + day); });
        top.append(remove);
        li.append(top);
        if (timed) {
          var times = el("ul", { "class": "picker-slots" });
          days[day].forEach(function (t, n) {
            var slot = el("li", { "class": "range" });
            ["start", "end"].forEach(function (part, k) {
              var input = el("input", {
                type: "time", "class": "time", value: t[k], "data-key": part + ":" + day + ":" + n,
                "aria-label": name + ", time " + (n + 1) + ", " + (k ? "until" : "from")
              });
              input.addEventListener("change", function () { t[k] = input.value; write(); });
              slot.append(input);
              if (!k) slot.append(el("span", { "aria-hidden": "true" }, "–"));
            });
            var drop = el("button", { type: "button", "class": "small icon", "aria-label": "Remove " + name + ", time " + (n + 1), "data-key": "drop:" + day + ":" + n }, "✕");
            drop.addEventListener("click", function () { change(function () { days[day].splice(n, 1); }, "add:" + day); });
            slot.append(drop);
            times.append(slot);
          });
          li.append(times);
          var add = el("button", { type: "button", "class": "small secondary", "aria-label": "Add a time on " + name, "data-key": "add:" + day }, "+ Add a time");
          add.addEventListener("click", function () {
            var last = days[day][days[day].length - 1];
            var begin = last && last[1] ? last[1] : "09:00";
            change(function () { days[day].push([begin, plusHour(begin)]); }, "start:" + day + ":" + days[day].length);
          });
          li.append(add);
          if (!days[day].length) li.append(el("small", { "class": "warn" }, "No time yet: this date is left out."));
        }
        list.append(li);
      });
      wrap.append(list);
      return wrap;
    }

    function render() {
      box.replaceChildren(monthGrid(), timesList());
      if (restore) {
        var target = box.querySelector('[data-key="' + restore + '"]');
        if (target) target.focus();
        restore = null;
      }
    }

    box.hidden = false;
    var lines = textarea.closest("details");
    if (lines && !box.closest(".invalid")) lines.open = false;
    // Typed lines win: read them back into the calendar.
    textarea.addEventListener("change", function () { read(); render(); });
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll-picker]").forEach(picker);
  });
})();
