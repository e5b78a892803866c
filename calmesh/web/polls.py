"""Polls in the dashboard: the list, one form for every setting, the results as a
heat-map (best options first), decide, close/reopen, CSV export, delete.

The form is turned into the REST API's JSON body and checked with the very same
declarations (``NEW_POLL`` / ``POLL_PATCH``), then handed to the same service.
Options are typed one per line in the poll's zone, "2026-03-10" for a whole day
or "2026-03-10 09:00-10:00" (or just "09:00" with the poll's duration) for a
slot; lines that stay the same keep their option, and its votes, when edited.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from peewee import fn

from calmesh.delivery import attachment
from calmesh.engine import timefmt
from calmesh.engine.hours import local_to_utc
from calmesh.models import Comment, Participant, Poll, PollOption, UnifiedCalendar, Vote
from calmesh.models.polls import ZONE_MODES
from calmesh.schema import Invalid, iana_zones
from calmesh.services import calendars, poll_results, write_backs
from calmesh.services import polls as service
from calmesh.urls import external_url
from calmesh.web import next_step, render, web
from calmesh.web.forms import language_choices

ZONE_MODE_LABELS = dict(
    zip(
        ZONE_MODES,
        (
            "Each participant sees the times in their own zone",
            "Everyone sees the poll's zone (an on-site meeting)",
            "Floating whole days: the same dates everywhere",
        ),
        strict=True,
    )
)
FLAGS = ("hide_participants", "allow_comments", "notify_owner")
LINE = re.compile(
    r"(?P<day>\d{4}-\d{2}-\d{2})"
    r"(?:[ T]+(?P<start>\d{1,2}:\d{2})(?:\s*[-–]\s*(?P<end>\d{1,2}:\d{2}))?)?"
)
HEAT_LEVELS = 4  # .heat-0 ... .heat-4 in app.css
# The error summary's words and links: (label, id of the input it names).
FIELDS = {
    "title": ("Title", "f-title"),
    "description": ("Description", "f-description"),
    "location": ("Location", "f-location"),
    "timezone": ("Time zone", "f-timezone"),
    "duration": ("Duration", "f-duration"),
    "options": ("Options", "options-field"),
    "zone_mode": ("How times are shown", "f-zone-participant"),
    "deadline": ("Deadline", "f-deadline"),
    "calendar": ("Calendar", "f-calendar"),
    "language": ("Participants' language", "f-language"),
}


def _owned(poll_id: str) -> Poll:
    poll = service.get_for(current_user, poll_id)
    if poll is None:
        abort(404)
    return poll


# --- the form ---------------------------------------------------------------------------


def read_form(form) -> dict[str, Any]:
    """The submitted form as a state the template renders back."""
    state = {k: form.get(k, "").strip() for k in ("title", "location", "timezone", "zone_mode")}
    state |= {k: form.get(k, "").strip() for k in ("duration", "deadline", "calendar", "language")}
    state["description"] = form.get("description", "")
    state["options"] = form.get("options", "")
    state |= {flag: form.get(flag) == "1" for flag in FLAGS}
    return state


def state_from(poll: Poll) -> dict[str, Any]:
    zone = ZoneInfo(poll.timezone)
    lines = []
    for option in PollOption.of(poll):
        if option.day is not None:
            lines.append(option.day.isoformat())
        else:
            start, end = option.start.astimezone(zone), option.end.astimezone(zone)
            lines.append(f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}")
    deadline = poll.deadline.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if poll.deadline else ""
    return {
        "title": poll.title,
        "description": poll.description,
        "location": poll.location,
        "timezone": poll.timezone,
        "zone_mode": poll.zone_mode,
        "duration": str(poll.duration or ""),
        "deadline": deadline,
        "calendar": poll.calendar.slug if poll.calendar_id else "",
        "language": poll.language,
        "options": "\n".join(lines),
        **{flag: getattr(poll, flag) for flag in FLAGS},
    }


def _new_state() -> dict[str, Any]:
    return {
        **{k: "" for k in ("title", "description", "location", "duration", "deadline")},
        **{k: "" for k in ("calendar", "options")},
        "timezone": current_user.timezone,
        "zone_mode": "participant",
        "language": service.DEFAULTS["language"],
        **{flag: service.DEFAULTS[flag] for flag in FLAGS},
    }


def _wall(day: date, text: str) -> datetime:
    hours, minutes = text.split(":")
    return datetime.combine(day, time(int(hours), int(minutes)))


def options_from(text: str, zone: str) -> list[dict[str, Any]]:
    """The option lines as the API's option objects; Invalid names the bad line."""
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        found = LINE.fullmatch(line)
        try:
            if found is None:
                raise ValueError
            day = date.fromisoformat(found["day"])
            if not found["start"]:
                items.append({"date": day.isoformat()})
                continue
            start = _wall(day, found["start"])
            item = {"start": local_to_utc(start, zone).isoformat()}
            if found["end"]:
                end = _wall(day, found["end"])
                end += timedelta(days=1) if end <= start else timedelta()
                item["end"] = local_to_utc(end, zone, as_end=True).isoformat()
            items.append(item)
        except (ValueError, OverflowError):
            message = (
                f"line {n} (“{line[:60]}”) is not a date such as 2026-03-10 or a date and "
                "time such as 2026-03-10 09:00-10:00"
            )
            raise Invalid([{"field": "options", "message": message}]) from None
    return items


def body_from(state: dict[str, Any]) -> dict[str, Any]:
    """The API body for ``state``; values the schema words the errors of stay text."""
    body: dict[str, Any] = {k: state[k] for k in ("title", "description", "location")}
    body["timezone"] = state["timezone"]
    body["zone_mode"] = state["zone_mode"]
    duration = state["duration"]
    body["duration"] = int(duration) if duration.isdigit() else (duration or None)
    body["calendar"] = state["calendar"] or None
    if state["language"]:  # a form without the select leaves the language as it is
        body["language"] = state["language"]
    body |= {flag: state[flag] for flag in FLAGS}
    zone = state["timezone"] if state["timezone"] in iana_zones() else "UTC"
    body["options"] = options_from(state["options"], zone)
    body["deadline"] = None
    if state["deadline"]:
        try:
            wall = datetime.fromisoformat(state["deadline"])
            body["deadline"] = local_to_utc(wall, zone).isoformat()
        except (ValueError, OverflowError):
            body["deadline"] = state["deadline"]  # for the schema to refuse
    return body


def _keyed(details: list[dict[str, str]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for detail in details:
        errors.setdefault(re.match(r"[a-z_]*", detail["field"])[0] or "form", detail["message"])
    return errors


def save(state: dict[str, Any], poll: Poll | None) -> tuple[Poll | None, dict[str, str]]:
    errors: dict[str, str] = {}
    try:
        body = body_from(state)
    except Invalid as exc:  # a bad option line; the other fields are still checked
        errors, body = _keyed(exc.details), body_from({**state, "options": ""})
    try:
        data = (service.POLL_PATCH if poll else service.NEW_POLL).parse(body)
    except Invalid as exc:
        errors = {**_keyed(exc.details), **errors}
    if errors:
        return None, errors
    try:
        return (service.update(poll, data) if poll else service.create(current_user, data)), {}
    except service.PollError as exc:
        key = re.match(r"[a-z_]*", exc.field)[0] or "form"
        return None, {key: str(exc)}


# --- views -----------------------------------------------------------------------------------


def _summary(errors: dict[str, str]) -> list[tuple[str | None, str]]:
    """(anchor, sentence) per error, in the form's order: the summary links each to its field."""
    order = [*FIELDS, *errors]
    found = []
    for key in sorted(errors, key=order.index):
        label, anchor = FIELDS.get(key, (None, None))
        message = errors[key]
        found.append(
            (anchor, f"{label}: {message}" if label else message[:1].upper() + message[1:])
        )
    return found


def _editor(state: dict[str, Any], poll: Poll | None, errors: dict | None = None):
    return render(
        "polls/edit.html",
        state=state,
        poll=poll,
        errors=errors or {},
        summary=_summary(errors or {}),
        today=datetime.now(ZoneInfo(current_user.timezone)).date().isoformat(),
        first_weekday=current_user.week_start,  # where the picker's weeks start
        zone_modes=ZONE_MODE_LABELS,
        calendars=UnifiedCalendar.for_user(current_user).order_by(UnifiedCalendar.name),
        zones=sorted(iana_zones()),
        languages=language_choices(service.SETTINGS["language"]),
    ), (400 if errors else 200)


def _submitted(poll: Poll | None):
    state = read_form(request.form)
    saved, errors = save(state, poll)
    if errors:
        return _editor(state, poll, errors)
    detail = url_for("web.poll_detail", poll_id=saved.public_id)
    if poll:
        flash(f"Saved “{saved.title}”.")
    else:
        next_step(
            f"Created “{saved.title}”.", "copy its link and send it round", f"{detail}#poll-url"
        )
    return redirect(detail)


@web.route("/polls")
@login_required
def polls():
    rows = Poll.for_user(current_user).order_by(Poll.created_at.desc(), Poll.id.desc())
    counts = dict(
        Participant.select(Participant.poll, fn.COUNT(Participant.id))
        .join(Poll)
        .where(Poll.user == current_user)
        .group_by(Participant.poll)
        .tuples()
    )
    return render(
        "polls/index.html",
        polls=rows,
        counts=counts,
        accepts=poll_results.accepts_votes,
    )


@web.route("/polls/new", methods=["GET", "POST"])
@login_required
def new_poll():
    if request.method == "POST":
        return _submitted(None)
    source = request.args.get("from", "")
    if source:  # "Duplicate": the editor filled from another poll, its votes left behind
        original = _owned(source)
        return _editor({**state_from(original), "title": f"{original.title} (copy)"}, None)
    return _editor(_new_state(), None)


@web.route("/polls/<token:poll_id>/edit", methods=["GET", "POST"])
@login_required
def edit_poll(poll_id: str):
    poll = _owned(poll_id)
    if request.method == "POST":
        return _submitted(poll)
    return _editor(state_from(poll), poll)


def heat(tally: poll_results.Tally, participants: int) -> int:
    """0-4: how much of the best possible score (everyone yes) the option has."""
    if not participants:
        return 0
    return round(HEAT_LEVELS * tally.score / (2 * participants))


@web.route("/polls/<token:poll_id>")
@login_required
def poll_detail(poll_id: str):
    poll = _owned(poll_id)
    found = poll_results.results(poll, with_busy=True)
    ranked = found.ranked()
    habits = timefmt.habits_of(current_user)
    goes_to = calendars.bookings_go_to(poll.calendar) if poll.calendar_id else None
    return render(
        "polls/detail.html",
        poll=poll,
        found=found,
        ranked=ranked,
        headings={t.option.id: poll_results.owner_heading(t.option, habits) for t in ranked},
        heat={t.option.id: heat(t, len(found.participants)) for t in ranked},
        decided=poll.decided_option_id,
        accepts=poll_results.accepts_votes(poll),
        comments=list(Comment.of(poll)),
        url=external_url("public.poll_page", poll_id=poll.public_id),
        write_back=write_backs.state_of(poll),
        target=goes_to[1] if goes_to else None,
    )


def _act(poll_id: str, change, done: str, *args, errors=()):
    poll = _owned(poll_id)
    try:
        change(poll, *args)
    except (service.PollError, *errors) as exc:
        flash(f"Nothing changed: {exc}.")
    else:
        flash(done)
    return redirect(url_for("web.poll_detail", poll_id=poll.public_id))


def _option_id(text: str) -> int:
    if not text.isdigit() or len(text) > 10:
        abort(400, "choose an option")
    return int(text)


@web.route("/polls/<token:poll_id>/decide", methods=["GET", "POST"])
@login_required
def decide_poll(poll_id: str):
    """GET asks first (which option, notify or not); POST decides."""
    if request.method == "GET":
        poll = _owned(poll_id)
        option = PollOption.get_or_none(
            (PollOption.id == _option_id(request.args.get("option_id", "")))
            & (PollOption.poll == poll)
        )
        if option is None:
            abort(404)
        return render(
            "polls/decide.html",
            poll=poll,
            option=option,
            heading=poll_results.owner_heading(option, timefmt.habits_of(current_user)),
            invitees=Participant.of(poll).where(Participant.email != "").count(),
            answers=dict(
                Vote.select(Vote.value, fn.COUNT(Vote.id))
                .where(Vote.option == option)
                .group_by(Vote.value)
                .tuples()
            ),
        )
    notify = request.form.get("notify", "1") != "0"
    done = (
        "Decided. The participants who gave an address get an invitation."
        if notify
        else "Decided. Nobody was e-mailed: tell the participants yourself."
    )
    return _act(
        poll_id, service.decide, done, _option_id(request.form.get("option_id", "")), notify
    )


@web.route("/polls/<token:poll_id>/close", methods=["POST"])
@login_required
def close_poll(poll_id: str):
    return _act(poll_id, service.close, "The poll is closed: it takes no more votes.")


@web.route("/polls/<token:poll_id>/reopen", methods=["POST"])
@login_required
def reopen_poll(poll_id: str):
    return _act(poll_id, service.reopen, "The poll is open again.")


@web.route("/polls/<token:poll_id>/write-back/retry", methods=["POST"])
@login_required
def retry_poll_write_back(poll_id: str):
    done = "Queued again for your calendar."
    return _act(poll_id, write_backs.retry, done, errors=(write_backs.NothingToDo,))


@web.route("/polls/<token:poll_id>/write-back/dismiss", methods=["POST"])
@login_required
def dismiss_poll_write_back(poll_id: str):
    done = "Failure dismissed."
    return _act(poll_id, write_backs.dismiss, done, errors=(write_backs.NothingToDo,))


@web.route("/polls/<token:poll_id>/delete", methods=["POST"])
@login_required
def delete_poll(poll_id: str):
    poll = _owned(poll_id)
    service.delete(poll)
    flash(f"Deleted “{poll.title}” with its votes.")
    return redirect(url_for("web.polls"))


@web.route("/polls/<token:poll_id>/export.csv")
@login_required
def export_poll(poll_id: str):
    poll = _owned(poll_id)
    return attachment(poll_results.csv_export(poll), poll_results.csv_name(poll), "text/csv")
