"""The caller's own profile, and the health check."""

from __future__ import annotations

from flask import current_app

from calmesh import db as database
from calmesh.api.framework import current_principal as who
from calmesh.api.framework import endpoint, error_response, system
from calmesh.api.serializers import USER_OUT, iso, user_out
from calmesh.db import utcnow
from calmesh.jobs.heartbeat import latest_heartbeat
from calmesh.schema import Boolean, Choice, DateTime, Integer, Object, String

ME_OUT = Object(
    {
        **USER_OUT.fields,
        "scope": Choice("read", "book", "full"),
        "auth": Choice("api_key", "session"),
    },
    name="Me",
)


@endpoint("/me", "GET", auth="read", response=ME_OUT, summary="The current user", tag="User")
def get_me():
    principal = who()
    return {
        **user_out(principal.user),
        "scope": principal.scope,
        "auth": "session" if principal.via_session else "api_key",
    }


HEALTH_OUT = Object(
    {
        "status": Choice("ok", "degraded", "down"),
        "database": Object({"ok": Boolean(), "error": String(nullable=True)}),
        "scheduler": Object(
            {
                "ok": Boolean(),
                "last_heartbeat": DateTime(nullable=True),
                "age_seconds": Integer(nullable=True),
                "holder": String(nullable=True),
            }
        ),
        "version": String(),
    },
    name="Health",
)


@endpoint(
    "/health",
    "GET",
    auth="public",
    response=HEALTH_OUT,
    blueprint=system,
    summary="Database reachability and the scheduler's last heartbeat (no auth; the "
    "scheduler's host and process and the database's error only to a signed-in caller)",
    tag="System",
    errors=(503,),
)
def health():
    """200 while the database answers; ``status`` is ``degraded`` when no
    scheduler has beaten within three heartbeat intervals. The scheduler's
    ``holder`` (host name and pid) and the database's own error message tell
    an attacker about the machine: only a key or a session sees them."""
    from calmesh import __version__

    insider = who() is not None
    error = database.ping()
    shown_error = error if insider or not error else "unreachable"
    beat = None if error else latest_heartbeat()
    interval = current_app.config["CALMESH"]["scheduler.heartbeat_seconds"]
    age = int((utcnow() - beat.beat_at).total_seconds()) if beat else None
    scheduler_ok = age is not None and age <= 3 * interval + 5
    body = {
        "status": "down" if error else ("ok" if scheduler_ok else "degraded"),
        "database": {"ok": error is None, "error": shown_error},
        "scheduler": {
            "ok": scheduler_ok,
            "last_heartbeat": iso(beat.beat_at) if beat else None,
            "age_seconds": age,
            "holder": beat.holder if beat and insider else None,
        },
        "version": __version__,
    }
    if error:
        return error_response(503, "unavailable", "database unreachable", body)
    return body
