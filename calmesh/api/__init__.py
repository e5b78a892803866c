"""The REST API: ``/api/v1`` plus ``/api/health``; one module per resource."""

from __future__ import annotations

from flask import Flask, current_app, jsonify

from calmesh.api import (  # noqa: F401  (the modules register their endpoints)
    availability,
    booking_pages,
    bookings,
    calendar_events,
    calendars,
    conflicts,
    connections,
    keys,
    me,
    polls,
    webhooks,
)
from calmesh.api.framework import api, system


@api.get("/openapi.json")
def openapi_document():
    from calmesh import __version__
    from calmesh.api.openapi import document

    if "OPENAPI" not in current_app.extensions:
        current_app.extensions["OPENAPI"] = document(__version__)
    return jsonify(current_app.extensions["OPENAPI"])


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
    app.register_blueprint(system)
