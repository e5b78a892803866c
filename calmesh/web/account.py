"""First run, sign-in, sign-out, profile, password and e-mail, sessions."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.auth import sessions
from calmesh.auth import setup as first_run
from calmesh.auth.useragent import describe as describe_browser
from calmesh.engine.timefmt import WEEKDAYS
from calmesh.models import UserSession
from calmesh.schema import Invalid, iana_zones
from calmesh.services import users
from calmesh.urls import local_path, record_origin
from calmesh.web import render, web
from calmesh.web.forms import parse_form


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    return local_path(target) or url_for("web.dashboard")


@web.after_request
def _keep_setup_token_private(response):
    # The setup link is a capability: keep it out of caches and Referer headers.
    if request.endpoint == "web.setup":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


@web.route("/setup", methods=["GET", "POST"])
def setup():
    if not first_run.needs_setup():
        return redirect(url_for("web.login"))
    token = request.values.get("token")
    if not first_run.token_is_valid(token):
        return render("account/setup_locked.html", wrong=bool(token)), 403
    values, errors = {"timezone": "UTC"}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            user = users.create_user(
                **{
                    k: values.get(k, "")
                    for k in ("email", "handle", "password", "name", "timezone")
                }
            )
        except Invalid as exc:
            errors = {d["field"]: d["message"] for d in exc.details}
        except users.UserExists as exc:
            errors = {exc.field: "is already taken"}
        else:
            # The origin the owner set up on is where outgoing links will point
            # (unless server.base_url says otherwise).
            record_origin(request.url_root)
            sessions.sign_in(user)
            flash("Welcome! Your account is ready.")
            return redirect(url_for("web.dashboard"))
    return render(
        "account/setup.html", values=values, errors=errors, token=token, zones=sorted(iana_zones())
    )


@web.route("/login", methods=["GET", "POST"])
def login():
    if first_run.needs_setup():
        return redirect(url_for("web.setup"))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    error, status, login_value = None, 200, ""
    if request.method == "POST":
        login_value = request.form.get("login", "")
        settings = current_app.config["CALMESH"]
        result = users.authenticate(
            login_value,
            request.form.get("password", ""),
            request.remote_addr or "",
            settings["security.login_max_failures"],
            settings["security.login_window_seconds"],
            settings["security.login_max_failures_per_address"],
        )
        if result.user:
            if result.user.is_owner:
                # An owner made with create-user (or before this was recorded) never
                # completed /setup: their first sign-in fixes the origin of outgoing
                # links instead. Only theirs: another user must not choose it.
                record_origin(request.url_root)
            sessions.sign_in(result.user, remember=bool(request.form.get("remember")))
            return redirect(_safe_next(request.args.get("next")))
        if result.throttled:
            minutes = max(1, round(result.retry_after / 60))
            error, status = (
                f"Too many failed attempts. Try again in about {minutes} minute(s).",
                429,
            )
        else:
            error, status = "Wrong e-mail/handle or password.", 401
    return render("account/login.html", error=error, login=login_value), status


@web.route("/logout", methods=["POST"])
def logout():
    sessions.sign_out()
    flash("You are signed out.")
    return redirect(url_for("web.login"))


def _profile_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    values = values or {
        "name": current_user.name,
        "timezone": current_user.timezone,
        "clock": current_user.clock,
        "week_start": str(current_user.week_start),
    }
    return render(
        "account/profile.html",
        values=values,
        weekdays=WEEKDAYS,
        errors=errors or {},
        zones=sorted(iana_zones()),
        sessions=UserSession.active_for(current_user),
        this_session=sessions.current(),
        describe_browser=describe_browser,
    ), status


@web.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    if request.method == "POST":
        values, errors = parse_form(users.PROFILE)
        if errors:
            return _profile_page(values, errors, 400)
        users.update_profile(current_user, **values)
        users.set_public_profile(current_user, request.form.get("public_profile") == "1")
        flash("Profile saved.")
        return redirect(url_for("web.profile"))
    return _profile_page()


def _ended_others(count: int) -> str:
    return f" {count} other session(s) were signed out." if count else ""


@web.route("/profile/password", methods=["POST"])
@login_required
def change_password():
    try:
        ended = users.change_password(
            current_user,
            sessions.current(),
            **{k: request.form.get(k, "") for k in ("current_password", "password")},
        )
    except Invalid as exc:
        return _profile_page(errors={d["field"]: d["message"] for d in exc.details}, status=400)
    flash("Password changed." + _ended_others(ended))
    return redirect(url_for("web.profile"))


def _errors_of(exc: Invalid, password_input: str) -> dict[str, str]:
    """Errors by input; the page has several password inputs, each form's named apart."""
    return {
        password_input if d["field"] == "current_password" else d["field"]: d["message"]
        for d in exc.details
    }


@web.route("/profile/email", methods=["POST"])
@login_required
def change_email():
    # The page has two password inputs: this form's is named email_password.
    try:
        ended = users.change_email(
            current_user,
            sessions.current(),
            email=request.form.get("email", ""),
            current_password=request.form.get("email_password", ""),
        )
    except Invalid as exc:
        return _profile_page(errors=_errors_of(exc, "email_password"), status=400)
    except users.UserExists:
        return _profile_page(errors={"email": "belongs to another account"}, status=400)
    flash("E-mail changed." + _ended_others(ended))
    return redirect(url_for("web.profile"))


@web.route("/profile/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int):
    this = sessions.current()
    if not sessions.end_one(current_user, session_id):
        abort(404)
    if this is not None and this.id == session_id:
        sessions.sign_out()
        flash("You are signed out.")
        return redirect(url_for("web.login"))
    flash("That session is signed out.")
    return redirect(url_for("web.profile"))


@web.route("/profile/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    ended = sessions.end_all(current_user, keep=sessions.current())
    flash(f"Signed out {ended} other session(s).")
    return redirect(url_for("web.profile"))


@web.route("/logout/everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    sessions.end_all(current_user)
    sessions.sign_out()
    flash("You are signed out everywhere.")
    return redirect(url_for("web.login"))


@web.route("/profile/delete", methods=["POST"])
@login_required
def delete_account():
    """Delete the account and all its data, confirmed by the handle and the password."""
    try:
        users.delete_account(
            current_user,
            current_password=request.form.get("delete_password", ""),
            confirm=request.form.get("confirm", ""),
        )
    except Invalid as exc:
        return _profile_page(errors=_errors_of(exc, "delete_password"), status=400)
    sessions.sign_out()
    flash("Your account and all its data are deleted.")
    return redirect(url_for("web.login"))
