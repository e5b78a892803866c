"""The scheduler: APScheduler 3 running the registered jobs.

It runs in exactly one process per host: either the ``worker`` command, or,
with ``scheduler.embedded``, the one gunicorn worker that holds a ``flock`` on
``data_dir/scheduler.lock``. Every worker keeps trying to take it (the kernel
frees it when its holder dies), so a host is never left without one. Across
hosts, jobs marked ``exclusive`` first claim a lease in the database, so two
schedulers never run one at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

import peewee as pw
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from calmesh import faults
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
    lease = f"job:{name}"
    ttl = timedelta(seconds=max(60, 2 * spec.interval(app)))
    held = False
    try:
        with app.app_context(), db.connection_context():
            if spec.exclusive:
                held = leases.claim(lease, ttl)
                if not held:
                    return False
            try:
                spec.func(app)
            finally:
                if held:
                    leases.release(lease)
    except (pw.OperationalError, pw.InternalError) as exc:
        # A full disk or a lost database: one line per condition, not per run.
        faults.report(faults.DATABASE, faults.describe_database_error(exc))
    except Exception:
        # A job must never take the scheduler down; the failure is logged and
        # jobs that own rows record it there (last_error).
        log.exception("job %s failed", name)
    return True


@job("heartbeat", lambda app: app.config["CALMESH"]["scheduler.heartbeat_seconds"], exclusive=False)
def _heartbeat(app: Flask) -> None:
    heartbeat.beat()
    faults.clear(faults.DATABASE)  # it wrote: writes work again


@job("housekeeping", 3600)
def _housekeeping(app: Flask) -> None:
    from calmesh.auth import ratelimit, sessions

    ratelimit.purge()
    sessions.purge()
    heartbeat.prune()


class _NoOverlapNotice(logging.Filter):
    """Drops APScheduler's warning that a run was skipped because the previous
    one still runs: the outbox and sync jobs keep draining until nothing is
    due, so that is their normal state under load, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_NoOverlapNotice())


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


ELECTION_SECONDS = 3.0
_elector: threading.Thread | None = None


def _try_lock(path: Path) -> IO[str] | None:
    """The host's scheduler lock, or None while another process holds it."""
    handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _elect(app: Flask, path: Path) -> None:
    """Try the lock every few seconds for the life of the worker; start the
    scheduler once it is won. The holder may be a worker that is still being
    replaced (a SIGHUP reload, a worker killed, an orphan of a killed master):
    the kernel frees its lock when it exits, and one of the waiting workers
    takes it within ELECTION_SECONDS."""
    while True:
        try:
            handle = _try_lock(path)
        except OSError as exc:  # the folder vanished or turned read-only: say so, keep trying
            log.error("scheduler lock %s cannot be opened: %s", path, exc.strerror or exc)
            handle = None
        if handle is not None:
            app.extensions["calmesh.scheduler_lock"] = handle
            build(app, blocking=False).start()
            log.info("scheduler started in this worker (%s)", leases.holder())
            return
        time.sleep(ELECTION_SECONDS)


def holds_lock(app: Flask) -> bool:
    """True in the process that runs the host's embedded scheduler."""
    return "calmesh.scheduler_lock" in app.extensions


def start_embedded(app: Flask) -> bool:
    """Make this process a candidate for the host's scheduler (``scheduler.embedded``).

    Every worker keeps trying the host's ``flock`` from a background thread, so
    that a host always runs exactly one scheduler, also after reloads and
    crashes. (The gunicorn master cannot run it instead: it forks workers, and a
    fork while scheduler threads hold locks is unsafe.) True when this process
    became a candidate.
    """
    global _elector
    if not app.config["CALMESH"]["scheduler.embedded"] or _elector is not None:
        return False
    path = app.config["CALMESH"].data_dir / "scheduler.lock"
    _elector = threading.Thread(
        target=_elect, args=(app, path), name="scheduler-election", daemon=True
    )
    _elector.start()
    return True


def run_forever(app: Flask) -> None:
    """The ``worker`` command: the scheduler alone, in the foreground."""
    log.info("scheduler worker started (%s)", leases.holder())
    scheduler = build(app, blocking=True)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
