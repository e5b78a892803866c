"""The public poll page /p/<id>: the options grid in the participant's zone, a
vote, one's own vote changed through the signed edit link, comments.

Everything shown comes from :func:`calmesh.services.poll_results.public_data`, the
same data as ``GET /api/v1/polls/:id/public``: no e-mail address, and with
hidden participants nobody but the holder of the edit token. Every step is a
plain form, so it works without JavaScript; ``poll.js`` brings in the
participant's own zone on the first visit without loading the page again: it
asks for the zoned pieces only (``HX-Request``), which carry no zone list.

The browser that voted keeps its edit token in a cookie (signed like the edit
link, scoped to the poll's path): coming back to the plain link, it sees and
changes its own vote instead of voting a second time.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from calmesh import i18n
from calmesh.auth import ratelimit, signing
from calmesh.effects import visitor_mail
from calmesh.engine.calendar_links import links_for
from calmesh.engine.ical import build_calendar
from calmesh.inputs.polls import COMMENT, NEW_VOTE
from calmesh.models import Participant, Poll, PollOption
from calmesh.models.polls import VOTE_VALUES
from calmesh.schema import Invalid, iana_zones
from calmesh.services import poll_results, polls
from calmesh.urls import links
from calmesh.web.booker import is_web_url, zones
from calmesh.web.public import public, render_page, throttle_public

FRIENDLY = {
    "name": lazy_gettext("Please enter your name."),
    "email": lazy_gettext("Please enter a valid e-mail address, or leave it empty."),
    "body": lazy_gettext("Please write a comment."),
}
CHOICES = (
    ("yes", lazy_gettext("Yes")),
    ("ifneedbe", lazy_gettext("If need be")),
    ("no", lazy_gettext("No")),
)
REMEMBER_FOR = 400 * 86_400  # as long as the edit link itself


def _poll_or_404(poll_id: str) -> Poll:
    poll = polls.public_poll(poll_id)
    if poll is None:
        abort(404)
    i18n.page_default(poll.language)
    return poll


def _zone() -> str | None:
    tz = request.values.get("tz")
    return tz if tz in iana_zones() else None


def _clock() -> tuple[str, bool]:
    """The participant's clock, and whether they chose it (else their language's)."""
    clock = request.values.get("clock")
    return (clock, True) if clock in ("12", "24") else (i18n.default_clock(), False)


def _cookie(poll: Poll) -> str:
    return f"calmesh_vote_{poll.public_id}"


@public.after_request
def _no_leaks(response):
    # An edit link is a capability: keep it out of caches and other sites' logs.
    if request.endpoint in ("public.poll_page", "public.poll_comment"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _show(
    poll: Poll,
    you: Participant | None,
    status: int = 200,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    token: str = "",
):
    data = poll_results.public_data(poll, _zone(), you)
    clock, chosen = _clock()
    options = {o.id: o for o in PollOption.of(poll)}
    headings = {
        o.id: i18n.option_heading(o.day, o.start, o.end, data["timezone"], clock)
        for o in options.values()
    }
    rows = [{"id": p["id"], "name": p["name"], "votes": _votes(p)} for p in data["participants"]]
    if you and all(r["id"] != you.id for r in rows):
        rows.append({"id": you.id, "name": you.name, "votes": _votes(data["you"])})
    mine = _votes(data["you"]) if you else {}
    decided = options.get(poll.decided_option_id) if poll.decided_option_id else None
    calendar_links = None
    if decided is not None:
        draft = visitor_mail.poll_draft(poll, decided)
        calendar_links = links_for(draft, url_for("public.poll_ics", poll_id=poll.public_id))
    deadline = ""
    if poll.deadline:
        local = poll.deadline.astimezone(ZoneInfo(data["timezone"]))
        deadline = f"{i18n.short_date(local.date())}, {i18n.clock_time(local, clock)}"
    return render_page(
        "public/poll.html",
        "public/_poll_zoned.html",
        status,
        p=data,
        deadline=deadline,
        headings=headings,
        rows=rows,
        you=data["you"],
        mine=mine,
        token=token,
        edit_url=polls.edit_url(you, poll, links()) if you else None,
        choices=CHOICES,
        values=values or {},
        errors=errors or {},
        message=message,
        zones=zones(),
        detect=poll.zone_mode == "participant" and "tz" not in request.values,
        is_web_url=is_web_url,
        clock=clock,
        clock_chosen=chosen,
        lang=i18n.chosen(),
        calendar_links=calendar_links,
        comment_date=lambda stamp: i18n.short_date(date.fromisoformat(stamp[:10])),
    )


def _votes(data: dict[str, Any] | None) -> dict[int, str]:
    return {v["option_id"]: v["value"] for v in (data or {}).get("votes", [])}


def _remembered(poll: Poll) -> tuple[Participant | None, str]:
    """The participant this browser voted as (its cookie), or None."""
    token = request.cookies.get(_cookie(poll), "")
    if not token:
        return None, ""
    try:
        return polls.by_vote_token(poll.public_id, token), token
    except signing.BadToken:
        return None, ""


@public.route("/p/<token:poll_id>", methods=["GET", "POST"])
def poll_page(poll_id: str):
    poll = _poll_or_404(poll_id)
    token = request.values.get("token", "")
    you = None
    if token:
        try:
            you = polls.by_vote_token(poll.public_id, token)
        except signing.BadToken:
            message = _("Your edit link does not work (it is invalid or has expired).")
            return _show(poll, None, 403, message=message + " " + _("You can still vote anew."))
    else:
        you, token = _remembered(poll)
    if request.method == "POST":
        return _vote(poll, you, token)
    return _show(poll, you, token=token)


def _vote(poll: Poll, you: Participant | None, token: str):
    values = request.form.to_dict()
    try:
        throttle_public("vote")
    except ratelimit.RateLimited:
        message = _("Too many votes from your network. Please wait a minute.")
        return _show(poll, you, 429, values=values, message=message, token=token)
    errors: dict[str, str] = {}
    name = _field(polls.NAME, values.get("name", ""), "name", errors)
    email = values.get("email", "").strip()
    email = _field(NEW_VOTE.fields["email"], email, "email", errors) if email and not you else None
    votes = [
        {"option_id": o.id, "value": values[f"vote-{o.id}"]}
        for o in PollOption.of(poll)
        if values.get(f"vote-{o.id}") in VOTE_VALUES
    ]
    if errors:
        message = _("Please check the fields marked below.")
        return _show(poll, you, 400, values=values, errors=errors, message=message, token=token)
    try:
        if you is None:
            you = polls.vote(poll, name, email, votes, _zone() or "", i18n.locale_name())
            flash(_("Your vote is saved. Keep the edit link below to change it later."))
        else:
            polls.edit_vote(you, votes, name)
            flash(_("Your vote is changed."))
    except polls.PollError as exc:
        message = _("Sorry, your vote was not saved.")
        if exc.status == 409:
            message += " " + _("The poll no longer takes votes.")
        return _show(poll, you, exc.status, values=values, message=message, token=token)
    response = redirect(_page_url(poll, you), 303)
    response.set_cookie(
        _cookie(poll),
        polls.vote_token(you, poll),
        max_age=REMEMBER_FOR,
        path=url_for("public.poll_page", poll_id=poll.public_id),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


def _page_url(poll: Poll, you: Participant | None, anchor: str | None = None) -> str:
    params: dict[str, str] = {}
    if you is not None:
        params["token"] = polls.vote_token(you, poll)
    if _zone():
        params["tz"] = _zone()
    clock, chosen = _clock()
    if chosen:
        params["clock"] = clock
    if lang := i18n.chosen():
        params["lang"] = lang
    return url_for("public.poll_page", poll_id=poll.public_id, _anchor=anchor, **params)


def _field(declared, text: str, key: str, errors: dict[str, str]) -> Any:
    try:
        return declared.parse(text, key)
    except Invalid:
        errors[key] = str(FRIENDLY[key])
        return None


@public.route("/p/<token:poll_id>/comments", methods=["POST"])
def poll_comment(poll_id: str):
    poll = _poll_or_404(poll_id)
    token = request.form.get("token", "")
    try:
        you = polls.by_vote_token(poll.public_id, token) if token else None
    except signing.BadToken:
        you, token = None, ""
    values = {"comment_name": request.form.get("name", ""), "body": request.form.get("body", "")}
    try:
        throttle_public("vote")
    except ratelimit.RateLimited:
        message = _("Too many comments from your network. Please wait a minute.")
        return _show(poll, you, 429, values=values, message=message, token=token)
    errors: dict[str, str] = {}
    name = _field(polls.NAME, values["comment_name"], "name", errors)
    body = _field(COMMENT, values["body"], "body", errors)
    if errors:
        errors = {("comment_name" if k == "name" else k): v for k, v in errors.items()}
        message = _("Please check your comment.")
        return _show(poll, you, 400, values=values, errors=errors, message=message, token=token)
    try:
        polls.comment(poll, name, body)
    except polls.PollError as exc:
        message = _("Sorry, your comment was not posted.")
        return _show(poll, you, exc.status, values=values, message=message, token=token)
    flash(_("Your comment is posted."))
    return redirect(_page_url(poll, you, "comments"), 303)


@public.route("/p/<token:poll_id>/event.ics")
def poll_ics(poll_id: str):
    """The decided event for any calendar app (404 while nothing is decided)."""
    poll = _poll_or_404(poll_id)
    option = PollOption.get_or_none(
        (PollOption.id == poll.decided_option_id) & (PollOption.poll == poll)
    )
    if option is None:
        abort(404)
    response = make_response(
        build_calendar(visitor_mail.poll_draft(poll, option), method="PUBLISH")
    )
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="event.ics"'
    return response
