"""First run, sign-in, sign-out and profile."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from calmesh.auth import setup as first_run
from calmesh.schema import Invalid, iana_zones
from calmesh.services import users
from calmesh.web import render, web
from calmesh.web.forms import parse_form


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    # A control character (``next=/%0d/x``) would make the Location header invalid.
    if (
        target
        and target.isprintable()
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return url_for("web.dashboard")


@web.route("/setup", methods=["GET", "POST"])
def setup():
    if not first_run.needs_setup():
        return redirect(url_for("web.login"))
    token = request.values.get("token")
    if not first_run.request_may_set_up(token):
        abort(
            403,
            "The first-run page opens only from this machine, or with the setup token "
            "printed in the server log: /setup?token=...",
        )
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
            login_user(user)
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
        )
        if result.user:
            login_user(result.user, remember=bool(request.form.get("remember")))
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
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("web.login"))


@web.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    values = {"name": current_user.name, "timezone": current_user.timezone}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = parse_form(users.PROFILE)
        if not errors:
            users.update_profile(current_user, **values)
            flash("Profile saved.")
            return redirect(url_for("web.profile"))
    return render("account/profile.html", values=values, errors=errors, zones=sorted(iana_zones()))
