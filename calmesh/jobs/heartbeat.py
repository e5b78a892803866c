"""The scheduler's sign of life, read by ``GET /api/health``.

One row per scheduler process (``host:pid``); health judges this host's
newest one, because another host's scheduler does not deliver this host's
work when this one has none.
"""

from __future__ import annotations

import socket
from datetime import timedelta

from calmesh.db import utcnow
from calmesh.jobs.leases import holder
from calmesh.models import Heartbeat

# How often this process beat: /api/health's one-second cache of the newest beat
# (calmesh.api.me) starts over when it changes.
beats = 0


def beat() -> None:
    global beats
    now = utcnow()
    Heartbeat.insert(holder=holder(), beat_at=now, started_at=now).on_conflict(
        conflict_target=[Heartbeat.holder], update={Heartbeat.beat_at: now}
    ).execute()
    beats += 1


def latest_heartbeat(this_host: bool = False) -> Heartbeat | None:
    """The newest heartbeat of any scheduler, or of this host's only."""
    query = Heartbeat.select()
    if this_host:
        query = query.where(Heartbeat.holder.startswith(socket.gethostname() + ":"))
    return query.order_by(Heartbeat.beat_at.desc()).first()


def recent(within: timedelta = timedelta(hours=1)) -> list[Heartbeat]:
    """Every scheduler seen lately, newest first (health, for a signed-in caller)."""
    cutoff = utcnow() - within
    return list(
        Heartbeat.select().where(Heartbeat.beat_at >= cutoff).order_by(Heartbeat.beat_at.desc())
    )


def prune(keep_seconds: int = 86_400) -> int:
    cutoff = utcnow() - timedelta(seconds=keep_seconds)
    return Heartbeat.delete().where(Heartbeat.beat_at < cutoff).execute()
