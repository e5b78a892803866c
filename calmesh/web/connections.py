"""Connections in the dashboard: add each kind, status, sync now, calendars, remove.

One tab and form per integration in :mod:`calmesh.providers.registry`.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.auth import sessions
from calmesh.models import Connection
from calmesh.providers import net, registry
from calmesh.providers.base import Integration
from calmesh.services import connections as service
from calmesh.web import render, web
from calmesh.web.forms import parse_form

FIRST_KIND = registry.kinds()[0]


def _settings():
    return current_app.config["CALMESH"]


def _integration(kind: str) -> Integration:
    integration = registry.get(kind)
    if integration is None:
        abort(404)
    return integration


def _owned(connection_id: int) -> Connection:
    connection = service.get_for(current_user, connection_id)
    if connection is None:
        abort(404)
    return connection


def _page(
    errors: dict | None = None,
    values: dict | None = None,
    kind: str = FIRST_KIND,
    status: int = 200,
):
    connections = Connection.for_user(current_user).order_by(Connection.id)
    return render(
        "connections/index.html",
        connections=connections,
        errors=errors or {},
        values=values or {},
        kind=kind,
        integration=registry.get(kind) or registry.INTEGRATIONS[FIRST_KIND],
        integrations=registry.INTEGRATIONS,
        public_endpoint=service.public_endpoint,
    ), status


@web.route("/connections")
@login_required
def connections():
    kind = request.args.get("kind", FIRST_KIND)
    return _page(kind=kind if kind in registry.INTEGRATIONS else FIRST_KIND)


@web.route("/connections/add/<kind>", methods=["POST"])
@login_required
def add_connection(kind: str):
    integration = _integration(kind)
    if integration.consent:
        values, errors = parse_form(integration.body)
        if errors:
            return _page(errors, values, kind, 400)
        try:
            _, url = service.start_oauth(
                current_user,
                kind,
                values["name"],
                request.host_url,
                browser=sessions.browser_key(),
                settings=_settings(),
            )
        except service.NotConfigured as exc:
            return _page({"form": str(exc)}, values, kind, 400)
        return redirect(url)
    values, errors = parse_form(integration.body)
    if not errors:
        try:
            connection = service.create_from(current_user, kind, values, settings=_settings())
        except service.ConnectionRefused as exc:
            errors = {"form": str(exc)}
        else:
            flash(f"Connected “{connection.name}”. The first sync starts within seconds.")
            return redirect(url_for("web.connections"))
    values.pop("password", None)
    if net.split_secrets(values.get("url", ""))[1]:
        values["url"] = ""  # it carries a password or token: not shown back
    return _page(errors, values, kind, 400)


@web.route("/connections/<int:connection_id>/status")
@login_required
def connection_status(connection_id: int):
    """The card of one connection; htmx polls it while a sync runs."""
    return render(
        "connections/_card.html",
        connection=_owned(connection_id),
        integrations=registry.INTEGRATIONS,
        public_endpoint=service.public_endpoint,
    )


@web.route("/connections/<int:connection_id>/sync", methods=["POST"])
@login_required
def sync_now(connection_id: int):
    connection = _owned(connection_id)
    if connection.status != "auth_required":
        service.request_sync(connection)
        connection.status = "pending"  # shown until the scheduler claims it
        connection.save()
    if request.headers.get("HX-Request"):
        return connection_status(connection_id)
    return redirect(url_for("web.connections"))


@web.route("/connections/<int:connection_id>/calendars/<int:calendar_id>", methods=["POST"])
@login_required
def toggle_calendar(connection_id: int, calendar_id: int):
    if (
        service.set_calendar_enabled(
            _owned(connection_id), calendar_id, request.form.get("enabled") == "1"
        )
        is None
    ):
        abort(404)
    if request.headers.get("HX-Request"):
        return connection_status(connection_id)
    return redirect(url_for("web.connections"))


@web.route("/connections/<int:connection_id>/credentials", methods=["POST"])
@login_required
def update_credentials(connection_id: int):
    connection = _owned(connection_id)
    try:
        service.update(
            connection,
            username=request.form.get("username") or None,
            password=request.form.get("password") or None,
            settings=_settings(),
        )
    except service.ConnectionRefused as exc:
        flash(f"“{connection.name}”: {exc}")
    else:
        flash(f"Updated the credentials of “{connection.name}”.")
    return redirect(url_for("web.connections"))


@web.route("/connections/<int:connection_id>/reconnect", methods=["POST"])
@login_required
def reconnect(connection_id: int):
    connection = _owned(connection_id)
    if not _integration(connection.provider).consent:
        abort(404)
    try:
        _, url = service.start_oauth(
            current_user,
            connection.provider,
            connection.name,
            request.host_url,
            connection,
            browser=sessions.browser_key(),
            settings=_settings(),
        )
    except service.NotConfigured as exc:
        flash(str(exc))
        return redirect(url_for("web.connections"))
    return redirect(url)


@web.route("/connections/<int:connection_id>/remove", methods=["POST"])
@login_required
def remove_connection(connection_id: int):
    connection = _owned(connection_id)
    service.remove(connection)
    flash(f"Removed “{connection.name}” and its cached events.")
    return redirect(url_for("web.connections"))


@web.route("/oauth/callback/<kind>")
def oauth_callback(kind: str):
    """Where Google or Microsoft send the browser back after consent.

    Only the user who started the connection, signed in (and in the same
    browser, if a browser started it), may complete it: anyone else gets a
    refusal and nothing is stored (services.connections.finish_oauth).
    """
    if not _integration(kind).consent:
        abort(404)
    state = request.args.get("state", "")
    user = current_user._get_current_object() if current_user.is_authenticated else None
    browser = sessions.browser_key(create=False)
    try:
        if "error" in request.args:
            reason = request.args.get("error_description") or request.args["error"]
            service.refuse_oauth(kind, state, reason, user, browser)
            message = "Consent was not given; the connection is waiting for it."
        else:
            connection = service.finish_oauth(
                kind,
                state,
                request.args.get("code", ""),
                request.host_url,
                user,
                browser,
                settings=_settings(),
            )
            message = f"Connected “{connection.name}”. The first sync starts within seconds."
    except service.SignInRequired:
        # Sign in, then come back here with the same answer.
        flash("Sign in to finish connecting your calendar.")
        return redirect(url_for("web.login", next=request.full_path))
    except service.OAuthRefused as exc:
        return render("connections/oauth_done.html", message=str(exc), ok=False), exc.status
    except service.ConnectionRefused as exc:
        message = f"The provider refused: {exc}"
    flash(message)
    return redirect(url_for("web.connections"))
