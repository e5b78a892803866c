"""Delivering the outbox: every few seconds, by any scheduler (items are leased)."""

from __future__ import annotations

from flask import Flask

from calmesh.jobs.scheduler import job
from calmesh.services import outbox


@job("outbox", 5, exclusive=False)
def deliver_outbox(app: Flask) -> int:
    return outbox.process_due()
