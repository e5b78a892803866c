"""The caller's own profile, and the health check."""

from __future__ import annotations

import time

from flask import current_app

from calmesh import db as database
from calmesh import faults
from calmesh.api.framework import current_principal as who
from calmesh.api.framework import endpoint, error_response, system
from calmesh.api.serializers import USER_OUT, iso, user_out
from calmesh.db import utcnow
from calmesh.jobs import heartbeat
from calmesh.jobs.heartbeat import latest_heartbeat
from calmesh.jobs.heartbeat import recent as recent_heartbeats
from calmesh.schema import Boolean, Choice, DateTime, Integer, List, Object, String

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


SCHEDULER_HOST_OUT = Object(
    {
        "holder": String(description="host:pid of the scheduler process"),
        "ok": Boolean(),
        "last_heartbeat": DateTime(),
        "age_seconds": Integer(),
    },
    name="SchedulerHost",
)
HEALTH_OUT = Object(
    {
        "status": Choice("ok", "degraded", "down"),
        "database": Object(
            {
                "ok": Boolean(),
                "error": String(nullable=True),
                "write_error": String(
                    nullable=True,
                    description="Why writes failed lately (a full disk ...), if they did",
                ),
            }
        ),
        "scheduler": Object(
            {
                "ok": Boolean(),
                "last_heartbeat": DateTime(nullable=True),
                "age_seconds": Integer(nullable=True),
                "holder": String(
                    nullable=True,
                    description="host:pid of this host's scheduler (signed-in callers only)",
                ),
                "hosts": List(
                    SCHEDULER_HOST_OUT,
                    required=False,
                    description="Every scheduler seen in the last hour (signed-in callers only)",
                ),
            }
        ),
        "version": String(),
    },
    name="Health",
)


PROBE_SECONDS = 1.0


def _probe(settings, fresh: bool = False):
    """(the database's error or None, this host's latest heartbeat): read at most
    once a second per worker for anonymous callers (a probe every few ms would
    otherwise cost two queries each), at once after this process beat, and never
    kept when the database failed."""
    cached = current_app.extensions.get("calmesh.health")
    now = time.monotonic()
    if not fresh and cached and cached[0] > now and cached[1] == heartbeat.beats:
        return cached[2], cached[3]
    error = database.ping()
    beat = None if error else latest_heartbeat(this_host=settings["scheduler.embedded"])
    if error is None:
        current_app.extensions["calmesh.health"] = (
            now + PROBE_SECONDS,
            heartbeat.beats,
            None,
            beat,
        )
    return error, beat


@endpoint(
    "/health",
    "GET",
    auth="public",
    response=HEALTH_OUT,
    blueprint=system,
    summary="Database reachability and this host's scheduler (no auth; host names, pids "
    "and the database's error only to a signed-in caller)",
    tag="System",
    errors=(503,),
)
def health():
    """200 while the database answers; ``status`` is ``degraded`` when this
    host's scheduler has not beaten within three heartbeat intervals (with
    ``scheduler.embedded = false``: any host's), or writes failed lately. The
    scheduler's ``holder`` (host name and pid), every host's scheduler and the
    database's own error message tell an attacker about the machine: only a
    key or a session sees them."""
    from calmesh import __version__

    settings = current_app.config["CALMESH"]
    insider = who() is not None
    error, beat = _probe(settings, fresh=insider)
    shown_error = error if insider or not error else "unreachable"
    interval = settings["scheduler.heartbeat_seconds"]
    now = utcnow()

    def age(beat) -> int:
        return int((now - beat.beat_at).total_seconds())

    def alive(beat) -> bool:
        return age(beat) <= 3 * interval + 5

    scheduler_ok = beat is not None and alive(beat)
    write_error = faults.database_failure()
    scheduler = {
        "ok": scheduler_ok,
        "last_heartbeat": iso(beat.beat_at) if beat else None,
        "age_seconds": age(beat) if beat else None,
        "holder": beat.holder if beat and insider else None,
    }
    if not error and insider:
        scheduler["hosts"] = [
            {
                "holder": b.holder,
                "ok": alive(b),
                "last_heartbeat": iso(b.beat_at),
                "age_seconds": age(b),
            }
            for b in recent_heartbeats()
        ]
    body = {
        "status": "down"
        if error
        else ("ok" if scheduler_ok and write_error is None else "degraded"),
        "database": {"ok": error is None, "error": shown_error, "write_error": write_error},
        "scheduler": scheduler,
        "version": __version__,
    }
    if error:
        return error_response(503, "unavailable", "database unreachable", body)
    return body
