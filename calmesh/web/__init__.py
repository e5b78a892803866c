"""Server-rendered pages (htmx). Views stay thin: parse the form, call a service, render."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_login import current_user

from calmesh import faults

web = Blueprint("web", __name__)

# The dashboard's sections, in menu order: (label, endpoint). Later sections
# add themselves here; the menu shows those whose endpoint exists.
NAV: list[tuple[str, str]] = [
    ("Overview", "web.dashboard"),
    ("Connections", "web.connections"),
    ("Calendars", "web.calendars"),
    ("Booking pages", "web.booking_pages"),
    ("Bookings", "web.bookings"),
    ("Polls", "web.polls"),
    ("Webhooks", "web.webhooks"),
    ("Mail log", "web.mail_log"),
    ("API keys", "web.api_keys"),
    ("Profile", "web.profile"),
]


def render(template: str, partial: str | None = None, **context):
    """Render the whole page, or only ``partial`` when htmx asks for a fragment."""
    fragment = request.headers.get("HX-Request") and not (
        request.headers.get("HX-Boosted") or request.headers.get("HX-History-Restore-Request")
    )
    if partial and fragment:
        return render_template(partial, **context)
    return render_template(template, **context)


def init_app(app: Flask) -> None:
    from calmesh.web import (  # noqa: F401
        account,
        booking_pages,
        bookings,
        calendars,
        connections,
        dashboard,
        feeds,
        mail,
        owner_time,
        poll_public,
        polls,
        webhooks,
    )
    from calmesh.web.public import public

    owner_time.init_app(app)
    app.register_blueprint(web)
    # After the dashboard's routes: /{handle}/{slug} must not shadow them.
    app.register_blueprint(public)

    @app.context_processor
    def _nav():
        if not current_user.is_authenticated:
            return {"nav": []}
        endpoints = app.view_functions
        return {
            "nav": [(label, ep) for label, ep in NAV if ep in endpoints],
            "nav_counts": {"web.bookings": _unconfirmed(current_user)},
            "database_failure": faults.database_failure(),
        }


def _unconfirmed(user) -> int:
    """Requests waiting for the owner's answer (shown beside Bookings in the menu)."""
    from calmesh.db import utcnow
    from calmesh.models import Booking

    return (
        Booking.select()
        .where((Booking.user == user) & (Booking.status == "pending") & (Booking.end > utcnow()))
        .count()
    )
