"""The scheduler's sign of life, read by ``GET /api/health``."""

from __future__ import annotations

from calmesh.db import utcnow
from calmesh.jobs.leases import holder
from calmesh.models import Heartbeat


def beat() -> None:
    now = utcnow()
    Heartbeat.insert(holder=holder(), beat_at=now, started_at=now).on_conflict(
        conflict_target=[Heartbeat.holder], update={Heartbeat.beat_at: now}
    ).execute()


def latest_heartbeat() -> Heartbeat | None:
    return Heartbeat.select().order_by(Heartbeat.beat_at.desc()).first()


def prune(keep_seconds: int = 86_400) -> int:
    from datetime import timedelta

    cutoff = utcnow() - timedelta(seconds=keep_seconds)
    return Heartbeat.delete().where(Heartbeat.beat_at < cutoff).execute()
