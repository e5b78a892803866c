"""The signed-in owner's overview and API keys."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.auth import apikeys
from calmesh.db import utcnow
from calmesh.inputs.keys import NEW_KEY
from calmesh.jobs.heartbeat import latest_heartbeat
from calmesh.models import SCOPES, ApiKey, BookingPage
from calmesh.services import overview
from calmesh.urls import external_url
from calmesh.web import render, web
from calmesh.web.forms import parse_form

EXPIRY_DAYS = {"": "never", "30": "in 30 days", "90": "in 90 days", "365": "in a year"}


@web.route("/")
def index():
    return redirect(url_for("web.dashboard"))


@web.route("/dashboard")
@login_required
def dashboard():
    smtp = bool(current_app.config["CALMESH"]["mail.host"])
    first_page = BookingPage.for_user(current_user).order_by(BookingPage.created_at).first()
    return render(
        "dashboard/home.html",
        setup=overview.setup(current_user, smtp),
        home=overview.home(current_user),
        first_page=first_page,
        share_url=first_page
        and external_url("public.booking_page", handle=current_user.handle, slug=first_page.slug),
        now=utcnow(),
        upcoming_days=overview.UPCOMING_DAYS,
        heartbeat=latest_heartbeat(),
        key_count=ApiKey.for_user(current_user).where(ApiKey.revoked_at.is_null()).count(),
    )


def _keys_page(new_key: str | None = None, errors: dict | None = None, values: dict | None = None):
    keys = ApiKey.for_user(current_user).order_by(ApiKey.id.desc())
    return render(
        "dashboard/api_keys.html",
        "dashboard/_api_keys.html",
        keys=keys,
        new_key=new_key,
        errors=errors or {},
        values=values or {"scope": "read"},
        scopes=SCOPES,
        expiry=EXPIRY_DAYS,
    )


@web.route("/api-keys", methods=["GET", "POST"])
@login_required
def api_keys():
    if request.method == "GET":
        return _keys_page()
    values, errors = parse_form(NEW_KEY, ["name", "scope"])
    days = request.form.get("expires_days", "")
    if days not in EXPIRY_DAYS:
        errors["expires_days"] = "choose one of the offered periods"
    if not errors:
        expires_at = utcnow() + timedelta(days=int(days)) if days else None
        _, key = apikeys.create(current_user, values["name"], values["scope"], expires_at)
        return _keys_page(new_key=key)
    # htmx swaps only 2xx answers: the fragment with the errors comes as 200 to it.
    return _keys_page(errors=errors, values=values), 200 if request.headers.get(
        "HX-Request"
    ) else 400


@web.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
@login_required
def revoke_key(key_id: int):
    if apikeys.revoke(current_user, key_id) is None:
        flash("That key does not exist.")
    if request.headers.get("HX-Request"):
        return _keys_page()
    return redirect(url_for("web.api_keys"))
