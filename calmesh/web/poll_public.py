"""The public poll page /p/<id>: the options grid in the participant's zone, a
vote, one's own vote changed through the signed edit link, comments.

Everything shown comes from :func:`calmesh.services.poll_results.public_data`, the
same data as ``GET /api/v1/polls/:id/public``: no e-mail address, and with
hidden participants nobody but the holder of the edit token. Every step is a
plain form, so it works without JavaScript; ``poll.js`` only brings in the
participant's own zone on the first visit.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from calmesh.auth import ratelimit, signing
from calmesh.models import Participant, Poll, PollOption
from calmesh.models.polls import VOTE_VALUES
from calmesh.schema import Email, Invalid, String, iana_zones
from calmesh.services import poll_results, polls
from calmesh.web.booker import is_web_url, zones
from calmesh.web.polls import local
from calmesh.web.public import public, throttle_public

FRIENDLY = {
    "name": "Please enter your name.",
    "email": "Please enter a valid e-mail address, or leave it empty.",
    "body": "Please write a comment.",
}
CHOICES = (("yes", "Yes"), ("ifneedbe", "If need be"), ("no", "No"))
COMMENT = String(min_length=1, max_length=5000)


def _poll_or_404(poll_id: str) -> Poll:
    poll = polls.public_poll(poll_id)
    if poll is None:
        abort(404)
    return poll


def _zone() -> str | None:
    tz = request.values.get("tz")
    return tz if tz in iana_zones() else None


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
    headings = {o.id: poll_results.heading(o, data["timezone"]) for o in PollOption.of(poll)}
    rows = [{"id": p["id"], "name": p["name"], "votes": _votes(p)} for p in data["participants"]]
    if you and all(r["id"] != you.id for r in rows):
        rows.append({"id": you.id, "name": you.name, "votes": _votes(data["you"])})
    mine = _votes(data["you"]) if you else {}
    return render_template(
        "public/poll.html",
        p=data,
        deadline=local(poll.deadline, data["timezone"]) if poll.deadline else "",
        headings=headings,
        rows=rows,
        you=data["you"],
        mine=mine,
        token=token,
        edit_url=polls.edit_url(you, poll) if you else None,
        choices=CHOICES,
        values=values or {},
        errors=errors or {},
        message=message,
        zones=zones(),
        detect=poll.zone_mode == "participant" and "tz" not in request.values,
        is_web_url=is_web_url,
    ), status


def _votes(data: dict[str, Any] | None) -> dict[int, str]:
    return {v["option_id"]: v["value"] for v in (data or {}).get("votes", [])}


@public.route("/p/<token:poll_id>", methods=["GET", "POST"])
def poll_page(poll_id: str):
    poll = _poll_or_404(poll_id)
    token = request.values.get("token", "")
    you = None
    if token:
        try:
            you = polls.by_vote_token(poll.public_id, token)
        except signing.BadToken as exc:
            message = f"Your edit link does not work ({exc}). You can still vote anew."
            return _show(poll, None, 403, message=message)
    if request.method == "POST":
        return _vote(poll, you, token)
    return _show(poll, you, token=token)


def _vote(poll: Poll, you: Participant | None, token: str):
    values = request.form.to_dict()
    try:
        throttle_public("vote")
    except ratelimit.RateLimited:
        message = "Too many votes from your network. Please wait a minute."
        return _show(poll, you, 429, values=values, message=message, token=token)
    errors: dict[str, str] = {}
    name = _field(polls.NAME, values.get("name", ""), "name", errors)
    email = values.get("email", "").strip()
    email = _field(Email(), email, "email", errors) if email and not you else None
    votes = [
        {"option_id": o.id, "value": values[f"vote-{o.id}"]}
        for o in PollOption.of(poll)
        if values.get(f"vote-{o.id}") in VOTE_VALUES
    ]
    if errors:
        message = "Please check the fields marked below."
        return _show(poll, you, 400, values=values, errors=errors, message=message, token=token)
    try:
        if you is None:
            you = polls.vote(poll, name, email, votes, _zone() or "")
            flash("Your vote is saved. Keep the edit link below to change it later.")
        else:
            polls.edit_vote(you, votes, name)
            flash("Your vote is changed.")
    except polls.PollError as exc:
        message = f"Sorry, your vote was not saved: {exc}."
        return _show(poll, you, exc.status, values=values, message=message, token=token)
    return redirect(_page_url(poll, you), 303)


def _page_url(poll: Poll, you: Participant | None, anchor: str | None = None) -> str:
    params: dict[str, str] = {}
    if you is not None:
        params["token"] = polls.vote_token(you, poll)
    if _zone():
        params["tz"] = _zone()
    return url_for("public.poll_page", poll_id=poll.public_id, _anchor=anchor, **params)


def _field(declared, text: str, key: str, errors: dict[str, str]) -> Any:
    try:
        return declared.parse(text, key)
    except Invalid:
        errors[key] = FRIENDLY[key]
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
        message = "Too many comments from your network. Please wait a minute."
        return _show(poll, you, 429, values=values, message=message, token=token)
    errors: dict[str, str] = {}
    name = _field(polls.NAME, values["comment_name"], "name", errors)
    body = _field(COMMENT, values["body"], "body", errors)
    if errors:
        errors = {("comment_name" if k == "name" else k): v for k, v in errors.items()}
        message = "Please check your comment."
        return _show(poll, you, 400, values=values, errors=errors, message=message, token=token)
    try:
        polls.comment(poll, name, body)
    except polls.PollError as exc:
        return _show(poll, you, exc.status, values=values, message=f"{exc}.", token=token)
    flash("Your comment is posted.")
    return redirect(_page_url(poll, you, "comments"), 303)
