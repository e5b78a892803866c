"""Delivering the outbox: three lanes (mail, calendar write-back, webhooks),
each with its own job and its own threads, so a slow webhook receiver never
delays a confirmation mail. Within a lane, items of different ordering keys go
out at once; one key's items stay in order (see :func:`calmesh.effects.outbox.due`).

This runner has the app: it builds the :class:`~calmesh.effects.outbox.Context`
(settings and links) that every delivery is handed.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from flask import Flask

from calmesh.effects import delivery, outbox
from calmesh.effects.kinds import kinds_of
from calmesh.jobs.drain import drain
from calmesh.jobs.scheduler import job
from calmesh.urls import links

LANE_POLL_SECONDS = 2


def context(app: Flask) -> outbox.Context:
    """What deliveries may use of ``app``."""
    return outbox.Context(settings=app.config["CALMESH"], links=links())


def deliver_lane(app: Flask, lane: str, workers: int | None = None) -> int:
    """Deliver what is due in ``lane`` until nothing is left; how many were tried."""
    workers = workers or app.config["CALMESH"]["outbox.concurrency"]
    kinds = kinds_of(lane)
    ctx = context(app)
    return drain(
        app,
        fetch=lambda running, limit: [
            (item_id, _group(key) or f"item:{item_id}")
            for item_id, key in outbox.due(limit, kinds=kinds, exclude=running)
        ],
        claim=outbox.claim,
        work=lambda item_id: delivery.run(item_id, ctx),
        renew=outbox.renew,
        renew_every=outbox.LEASE.total_seconds() / 3,
        workers=workers,
        per_group=max(1, workers // 2),
        name=f"outbox-{lane}",
    )


def process_due(app: Flask, limit: int = 50, now: datetime | None = None) -> int:
    """Deliver what is due in every lane, one item after another, in ``app``'s
    context (tests and the CLI)."""
    return delivery.process_due(context(app), limit, now)


def _group(ordering_key: str) -> str:
    # "webhook:12:<booking>" -> "webhook:12": one receiver may hold at most half
    # of a lane's threads.
    return ":".join(ordering_key.split(":")[:2]) if ordering_key else ""


for _lane in outbox.LANES:
    job(f"outbox-{_lane}", LANE_POLL_SECONDS, exclusive=False)(partial(deliver_lane, lane=_lane))
