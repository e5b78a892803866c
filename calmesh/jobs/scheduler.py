"""The scheduler: APScheduler 3 running the registered jobs.

It runs in exactly one process per host: either the ``worker`` command, or,
with ``scheduler.embedded``, the one gunicorn worker that wins a non-blocking
``flock`` on ``data_dir/scheduler.lock`` (the kernel frees it when that worker
dies, and its replacement takes it). Across hosts, jobs marked ``exclusive``
first claim a lease in the database, so two schedulers never run one at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from calmesh.db import db, utcnow
from calmesh.jobs import heartbeat, leases

log = logging.getLogger("calmesh.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[Flask], object]
    seconds: int | Callable[[Flask], int]
    exclusive: bool = True  # claim a lease first: one run at a time across all schedulers

    def interval(self, app: Flask) -> int:
        return self.seconds(app) if callable(self.seconds) else self.seconds


JOBS: dict[str, Job] = {}


def job(name: str, seconds: int | Callable[[Flask], int], exclusive: bool = True) -> Callable:
    """Register ``func(app)`` to run every ``seconds``."""

    def register(func: Callable[[Flask], object]) -> Callable[[Flask], object]:
        JOBS[name] = Job(name, func, seconds, exclusive)
        return func

    return register


def run_job(app: Flask, name: str) -> bool:
    """Run one job now (also from the CLI); false when another process holds it."""
    spec = JOBS[name]
    with app.app_context(), db.connection_context():
        lease = f"job:{name}"
        ttl = timedelta(seconds=max(60, 2 * spec.interval(app)))
        if spec.exclusive and not leases.claim(lease, ttl):
            return False
        try:
            spec.func(app)
        except Exception:
            # A job must never take the scheduler down; the failure is logged and
            # jobs that own rows record it there (last_error).
            log.exception("job %s failed", name)
        finally:
            if spec.exclusive:
                leases.release(lease)
    return True


@job("heartbeat", lambda app: app.config["CALMESH"]["scheduler.heartbeat_seconds"], exclusive=False)
def _heartbeat(app: Flask) -> None:
    heartbeat.beat()


@job("housekeeping", 3600)
def _housekeeping(app: Flask) -> None:
    from calmesh.auth import ratelimit, sessions

    ratelimit.purge()
    sessions.purge()
    heartbeat.prune()


def build(app: Flask, blocking: bool) -> BaseScheduler:
    # Importing the job modules registers their jobs.
    import calmesh.jobs.registry  # noqa: F401

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for spec in JOBS.values():
        # Beat at once so /api/health sees the scheduler right after start.
        first = {"next_run_time": utcnow()} if spec.name == "heartbeat" else {}
        scheduler.add_job(
            run_job,
            "interval",
            seconds=spec.interval(app),
            args=[app, spec.name],
            id=spec.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=30,
            **first,
        )
    return scheduler


_lock_file = None


def start_embedded(app: Flask) -> bool:
    """Start the scheduler in this process if it wins the host's lock."""
    global _lock_file
    if not app.config["CALMESH"]["scheduler.embedded"] or _lock_file is not None:
        return False
    path = app.config["CALMESH"].data_dir / "scheduler.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _lock_file = handle
    build(app, blocking=False).start()
    log.info("scheduler started in this worker (%s)", leases.holder())
    return True


def run_forever(app: Flask) -> None:
    """The ``worker`` command: the scheduler alone, in the foreground."""
    log.info("scheduler worker started (%s)", leases.holder())
    scheduler = build(app, blocking=True)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
