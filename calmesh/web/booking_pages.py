"""Booking pages in the dashboard: the list, every setting in one form, preview, copy, delete.

The form is turned into the REST API's JSON body and checked with the very same
declarations (``NEW_PAGE`` / ``PAGE_PATCH``), then handed to the same service;
``service.page_data`` gives the public link and the embed snippet. Rows of
ranges, overrides and questions are added and removed by submit buttons that
re-render the form without saving, so the editor works without JavaScript;
htmx only swaps the section that changed.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.models import BookingPage, UnifiedCalendar, User
from calmesh.schema import Invalid, iana_zones
from calmesh.services import booking_pages as service
from calmesh.urls import links
from calmesh.web import next_step, render, web
from calmesh.web.forms import language_choices, slug_from

DURATION_PRESETS = ("15", "30", "45", "60", "90")  # quick picks beside the durations input
WEEKDAYS = service.DAYS[:5]  # what "copy to all weekdays" fills
DAY_NAMES = dict(zip(service.DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
QUESTION_TYPES = dict(
    zip(
        service.QUESTION_TYPES,
        ("Short text", "Long text", "Choice (select)", "Checkbox", "Phone number"),
        strict=True,
    )
)
# Labels of the plain inputs, used by the template and to word their errors.
LABELS = {
    "title": "Title",
    "slug": "Slug",
    "description": "Description",
    "calendar": "Calendar",
    "timezone": "Time zone",
    "durations": "Durations",
    "slot_interval": "Slot interval",
    "buffer_before": "Buffer before",
    "buffer_after": "Buffer after",
    "min_notice": "Minimum notice",
    "window_days": "Days ahead",
    "window_start": "First date",
    "window_end": "Last date",
    "daily_limit": "Daily limit",
    "weekly_limit": "Weekly limit",
    "location": "Location",
    "weekly_hours": "Weekly hours",
    "date_overrides": "Date overrides",
    "questions": "Questions",
    "language": "Visitors' language",
}
TEXT_FIELDS = ("title", "slug", "description", "calendar", "timezone", "location")
INT_FIELDS = ("buffer_before", "buffer_after", "min_notice")  # blank = 0
NULLABLE_INT_FIELDS = ("slot_interval", "window_days", "daily_limit", "weekly_limit")
BLANK_RANGE = ["", ""]


def _owned(slug: str) -> BookingPage:
    page = service.get_for(current_user, slug)
    if page is None:
        abort(404)
    return page


# --- the form's state: what the owner typed, rows in order ----------------------------


def _ranges(form, prefix: str) -> list[list[str]]:
    found = {
        int(m[1]) for key in form if (m := re.fullmatch(rf"{prefix}-(\d+)-(?:start|end)", key))
    }
    return [
        [form.get(f"{prefix}-{i}-start", "").strip(), form.get(f"{prefix}-{i}-end", "").strip()]
        for i in sorted(found)
    ]


def _indices(form, pattern: str) -> list[int]:
    return sorted({int(m[1]) for key in form if (m := re.fullmatch(pattern, key))})


def read_form(form) -> dict[str, Any]:
    """The submitted form as a state the template renders back (input kept on error)."""
    state: dict[str, Any] = {k: form.get(k, "").strip() for k in (*TEXT_FIELDS, "durations")}
    state |= {k: form.get(k, "").strip() for k in (*INT_FIELDS, *NULLABLE_INT_FIELDS)}
    state |= {k: form.get(k, "").strip() for k in ("window_start", "window_end")}
    # Browsers send textareas with CRLF line ends; store plain newlines.
    state["description"] = form.get("description", "").replace("\r\n", "\n")
    state["window_mode"] = "range" if form.get("window_mode") == "range" else "days"
    state["requires_confirmation"] = form.get("requires_confirmation") == "1"
    state["active"] = form.get("active") == "1"
    state["ask_notes"] = form.get("ask_notes") == "1"
    state["language"] = form.get("language", "").strip()
    state["hours"] = {day: _ranges(form, f"hours-{day}") for day in service.DAYS}
    state["overrides"] = [
        {
            "date": form.get(f"override-{n}-date", "").strip(),
            "off": form.get(f"override-{n}-off") == "1",
            "ranges": _ranges(form, f"override-{n}"),
        }
        for n in _indices(form, r"override-(\d+)-date")
    ]
    state["questions"] = [
        {
            "id": form.get(f"question-{n}-id", "").strip(),
            "label": form.get(f"question-{n}-label", "").strip(),
            "type": form.get(f"question-{n}-type", "short_text"),
            "required": form.get(f"question-{n}-required") == "1",
            "options": form.get(f"question-{n}-options", "").replace("\r\n", "\n"),
        }
        for n in _indices(form, r"question-(\d+)-label")
    ]
    return state


def state_from(data: dict[str, Any]) -> dict[str, Any]:
    """The form's state for settings in the API's shape (``service.page_data`` or the defaults)."""
    durations = [str(d) for d in data["durations"]]
    plain = (*TEXT_FIELDS, *INT_FIELDS, *NULLABLE_INT_FIELDS, "window_start", "window_end")
    return {
        **{k: "" if data[k] is None else str(data[k]) for k in plain},
        "window_mode": "range" if data.get("window_start") else "days",
        "durations": ", ".join(durations),
        "requires_confirmation": data["requires_confirmation"],
        "active": data["active"],
        "ask_notes": data["ask_notes"],
        "language": data["language"],
        "hours": {day: [list(r) for r in data["weekly_hours"][day]] for day in service.DAYS},
        "overrides": [
            {"date": str(o["date"]), "off": not o["hours"], "ranges": [list(r) for r in o["hours"]]}
            for o in data["date_overrides"]
        ],
        "questions": [{**q, "options": "\n".join(q.get("options", []))} for q in data["questions"]],
    }


def _new_state() -> dict[str, Any]:
    calendar = UnifiedCalendar.for_user(current_user).order_by(UnifiedCalendar.name).first()
    return state_from(
        {
            **service.DEFAULTS,
            "title": "",
            "slug": "",
            "calendar": calendar.slug if calendar else "",
            "timezone": current_user.timezone,
            "durations": [30],
        }
    )


NEW_ROWS = {
    "range": lambda: list(BLANK_RANGE),
    "override": lambda: {"date": "", "off": False, "ranges": [list(BLANK_RANGE)]},
    "question": lambda: {
        "id": "",
        "label": "",
        "type": "short_text",
        "required": False,
        "options": "",
    },
}


def _range_rows(state: dict[str, Any], target: str) -> list[list[str]]:
    area, _, key = target.partition("-")
    if area == "hours" and key in state["hours"]:
        return state["hours"][key]
    if area == "override" and key.isdigit() and int(key) < len(state["overrides"]):
        return state["overrides"][int(key)]["ranges"]
    abort(400)


def apply_action(state: dict[str, Any], action: str) -> str:
    """Add or remove a row: ``add-range:hours-mon``, ``remove-range:override-0:1``,
    ``add-question``, ``remove-question:2``..., or ``copy-hours:mon`` (that day's
    hours to every weekday); returns the name of the input (or the value of the
    button) that gets the focus."""
    verb, _, rest = action.partition(":")
    if verb == "copy-hours":
        if rest not in state["hours"]:
            abort(400)
        for day in WEEKDAYS:
            state["hours"][day] = [list(r) for r in state["hours"][rest]]
        return action
    op, _, kind = verb.partition("-")
    if op not in {"add", "remove"} or kind not in NEW_ROWS:
        abort(400)
    if kind == "range":  # of a weekday or of an override
        target, _, index = rest.partition(":")
        rows, add = _range_rows(state, target), f"add-range:{target}"
    else:
        rows, index, add = state[f"{kind}s"], rest, f"add-{kind}"
    if op == "add":
        rows.append(NEW_ROWS[kind]())
        first = {"range": "start", "override": "date", "question": "label"}[kind]
        prefix = rest if kind == "range" else kind
        return f"{prefix}-{len(rows) - 1}-{first}"
    if index.isdigit() and int(index) < len(rows):
        del rows[int(index)]
    return add


# --- the form as the API's JSON body ------------------------------------------------------


def _int(text: str) -> Any:
    """An integer when the text is one; else the text, so the schema words the error."""
    return int(text) if re.fullmatch(r"-?\d{1,18}", text) else text


def _question_id(label: str, taken: set[str], n: int) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:36] or f"q{n + 1}"
    qid, i = base, 2
    while qid in taken:
        qid, i = f"{base}_{i}", i + 1
    taken.add(qid)
    return qid


def body_from(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """(the API body, where each of its list items came from in the form) for ``state``;
    ``where`` maps a path in the body to the row's key in the form and its name.

    Blank rows are dropped; a half-filled one goes through, for the schema to word.
    """
    where: dict[str, tuple[str, str]] = {}
    body: dict[str, Any] = {k: state[k] for k in TEXT_FIELDS}
    body |= {k: _int(state[k] or "0") for k in INT_FIELDS}
    body |= {k: _int(state[k]) if state[k] else None for k in NULLABLE_INT_FIELDS}
    # In the order given: the visitor sees them so, and the first is the default.
    typed = (d.strip() for d in state["durations"].split(","))
    body["durations"] = list(dict.fromkeys(_int(d) for d in typed if d))
    if not state["slug"] and state["title"]:
        body["slug"] = slug_from(state["title"])  # what app.js proposes, without JavaScript
    if state["window_mode"] == "range":
        body["window_days"] = None
        body["window_start"] = state["window_start"] or None
        body["window_end"] = state["window_end"] or None
    else:
        body["window_start"] = body["window_end"] = None
    body["requires_confirmation"] = state["requires_confirmation"]
    body["active"] = state["active"]
    body["ask_notes"] = state["ask_notes"]
    if state["language"]:  # a form without the select leaves the language as it is
        body["language"] = state["language"]

    def ranges(rows: list[list[str]], path: str, key: str, name: str) -> list[list[str]]:
        kept = [(i, r) for i, r in enumerate(rows) if r != BLANK_RANGE]
        for j, (i, _) in enumerate(kept):
            where[f"{path}[{j}]"] = (f"{key}-{i}", f"{name}, hours {i + 1}")
        return [r for _, r in kept]

    body["weekly_hours"] = {}
    for day, name in DAY_NAMES.items():
        where[f"weekly_hours.{day}"] = (f"hours-{day}", name)
        body["weekly_hours"][day] = ranges(
            state["hours"][day], f"weekly_hours.{day}", f"hours-{day}", name
        )
    body["date_overrides"] = []
    for n, override in enumerate(state["overrides"]):
        if not override["date"] and all(r == BLANK_RANGE for r in override["ranges"]):
            continue
        path, key = f"date_overrides[{len(body['date_overrides'])}]", f"override-{n}"
        where[path] = (key, f"Date override {n + 1}")
        hours = [] if override["off"] else ranges(override["ranges"], f"{path}.hours", *where[path])
        body["date_overrides"].append({"date": override["date"], "hours": hours})
    taken = {q["id"] for q in state["questions"] if q["id"]}
    body["questions"] = []
    for n, q in enumerate(state["questions"]):
        if not q["label"] and not q["id"] and not q["options"].strip():
            continue
        where[f"questions[{len(body['questions'])}]"] = (f"question-{n}", f"Question {n + 1}")
        options = [line.strip() for line in q["options"].splitlines() if line.strip()]
        body["questions"].append(
            {
                "id": q["id"] or _question_id(q["label"], taken, n),
                "label": q["label"],
                "type": q["type"],
                "required": q["required"],
                "options": options if q["type"] == "select" else [],
            }
        )
    return body, where


# The part of a row a nested path names, e.g. "weekly_hours.mon[0][1]" -> its end.
PARTS = {
    "[0]": "start",
    "[1]": "end",
    ".date": "date",
    ".label": "label",
    ".type": "type",
    ".options": "options",
    ".id": "id",
}


# Schema messages that continue a sentence after the field's name ("Title is required").
SENTENCE_STARTS = ("is ", "must ", "needs ", "takes ")


def errors_from(details: list[dict[str, str]], where: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The schema's problems by the form's keys, worded for the form."""
    errors: dict[str, list[str]] = {}
    for detail in details:
        path, message = detail["field"], detail["message"]
        prefix = max(
            (p for p in where if path == p or path.startswith((p + ".", p + "["))),
            key=len,
            default="",
        )
        (key, row), rest = where.get(prefix, ("", "")), path[len(prefix) :]
        if prefix:
            noun = next((v for k, v in PARTS.items() if rest.startswith(k)), "")
        else:
            key = re.match(r"[a-z_]*", path)[0]
            noun = LABELS.get(key, "")
        joint = " " if message.startswith(SENTENCE_STARTS) or not noun else ": "
        text = f"{noun}{joint}{message}".strip()
        errors.setdefault(key, []).append(f"{row}: {text}" if row else text)
    return {key: "; ".join(messages) for key, messages in errors.items()}


def _anchor(key: str) -> str:
    """The id of the input (or section) an error's key points at, for the summary's links."""
    if re.fullmatch(r"(hours-[a-z]{3}|override-\d+)-\d+", key):
        return f"f-{key}-start"
    if key.startswith("hours-") or key == "weekly_hours":
        return "weekly"
    if key in {"date_overrides", "questions", "form"}:
        return {"date_overrides": "overrides", "form": "page-form"}.get(key, key)
    suffix = {"override": "-date", "question": "-label"}.get(key.partition("-")[0], "")
    return f"f-{key}{suffix}"


def _page_error(exc: service.PageError) -> dict[str, str]:
    field = exc.field or "form"
    # The service names override ranges "weekly_hours" too; its message starts with the date.
    if field == "weekly_hours" and str(exc)[:3] not in service.DAYS:
        field = "date_overrides"
    return {field: str(exc)[:1].upper() + str(exc)[1:]}


def save(state: dict[str, Any], page: BookingPage | None) -> tuple[BookingPage | None, dict]:
    body, where = body_from(state)
    try:
        data = (service.PAGE_PATCH if page else service.NEW_PAGE).parse(body)
    except Invalid as exc:
        return None, errors_from(exc.details, where)
    try:
        if page is None:
            return service.create(current_user, data), {}
        return service.update(page, data), {}
    except service.PageError as exc:
        return None, _page_error(exc)


# --- views ------------------------------------------------------------------------------------


def _editor(state: dict, page: BookingPage | None, errors: dict | None = None, focus: str = ""):
    status = 400 if errors else 200
    return render(
        "booking_pages/edit.html",
        "booking_pages/_form.html",
        **_preview(state),
        page=page,
        out=service.page_data(page, links()) if page else None,
        errors=errors or {},
        error_links=[(_anchor(key), message) for key, message in (errors or {}).items()],
        focus=focus,
        labels=LABELS,
        duration_presets=DURATION_PRESETS,
        calendars=UnifiedCalendar.for_user(current_user).order_by(UnifiedCalendar.name),
        zones=sorted(iana_zones()),
        booking_count=page.bookings.count() if page else 0,
    ), status


def _submitted(page: BookingPage | None):
    state = read_form(request.form)
    action = request.form.get("_action", "save")
    if action != "save":
        return _editor(state, page, focus=apply_action(state, action))
    saved, errors = save(state, page)
    if errors:
        # The service may have changed the object before refusing; show what is stored.
        return _editor(state, page and BookingPage.get_by_id(page.id), errors)
    settings = url_for("web.booking_page_settings", slug=saved.slug)
    if page:
        flash(f"Saved “{saved.title}”.")
    else:
        next_step(f"Created “{saved.title}”.", "copy its link and share it", f"{settings}#page-url")
    return redirect(settings)


@web.route("/booking-pages")
@login_required
def booking_pages():
    pages = (
        BookingPage.select(BookingPage, UnifiedCalendar, User)
        .join(UnifiedCalendar)
        .switch(BookingPage)
        .join(User)
        .where(BookingPage.user == current_user)
        .order_by(BookingPage.title)
    )
    return render(
        "booking_pages/index.html",
        rows=[(page, service.page_data(page, links())) for page in pages],
        has_calendars=UnifiedCalendar.for_user(current_user).exists(),
    )


@web.route("/booking-pages/new", methods=["GET", "POST"])
@login_required
def new_booking_page():
    if request.method == "POST":
        return _submitted(None)
    return _editor(_new_state(), None)


# "_" is no slug character: the path cannot shadow a page's settings.
@web.route("/booking-pages/_preview", methods=["POST"])
@login_required
def booking_page_preview():
    """The editor's live preview of the public page, from the form as it is now."""
    return render("booking_pages/_preview.html", **_preview(read_form(request.form)))


def _preview(state: dict[str, Any]) -> dict[str, Any]:
    durations = [d.strip() for d in state["durations"].split(",") if d.strip().isdigit()]
    return {
        "state": state,
        "preview_durations": list(dict.fromkeys(durations)),
        "days": DAY_NAMES,
        "question_types": QUESTION_TYPES,
        "preview_slug": state["slug"] or slug_from(state["title"]),
        "languages": language_choices(service.SETTINGS["language"]),
    }


@web.route("/booking-pages/<slug:slug>", methods=["GET", "POST"])
@login_required
def booking_page_settings(slug: str):
    page = _owned(slug)
    if request.method == "POST":
        return _submitted(page)
    return _editor(state_from(service.page_data(page, links())), page)


@web.route("/booking-pages/<slug:slug>/active", methods=["POST"])
@login_required
def toggle_booking_page(slug: str):
    page = service.update(_owned(slug), {"active": request.form.get("active") == "1"})
    if request.headers.get("HX-Request"):
        return render("booking_pages/_row.html", page=page, out=service.page_data(page, links()))
    flash(f"“{page.title}” is {'active' if page.active else 'paused'}.")
    return redirect(url_for("web.booking_pages"))


@web.route("/booking-pages/<slug:slug>/delete", methods=["POST"])
@login_required
def delete_booking_page(slug: str):
    page = _owned(slug)
    service.delete(page)
    flash(f"Deleted “{page.title}” and its bookings.")
    return redirect(url_for("web.booking_pages"))
