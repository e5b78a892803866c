"""Working through due rows on a bounded pool of threads.

The outbox lanes and the sync use it: ``fetch`` names due rows, each is
claimed (a lease in the database, so other schedulers skip it) and handed to
a thread; a free thread takes the next due row at once, so one slow row holds
one thread, never the queue. While rows run, their leases are renewed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flask import Flask

from calmesh.db import db

log = logging.getLogger("calmesh.scheduler")

# How long a drain keeps taking new rows before it returns to the scheduler
# (which calls it again at once if work is left); rows running then finish first.
BUDGET_SECONDS = 60.0
IDLE_WAIT_SECONDS = 0.5


def drain(
    app: Flask,
    *,
    fetch: Callable[[set[int], int], list[tuple[int, str]]],
    claim: Callable[[int], bool],
    work: Callable[[int], object],
    workers: int,
    renew: Callable[[Iterable[int]], object] | None = None,
    renew_every: float = 10.0,
    per_group: int | None = None,
    budget: float | None = None,
    name: str = "drain",
) -> int:
    """Run ``work(id)`` for due rows until none is left; returns how many ran.

    ``fetch(running, limit)`` returns due ``(id, group)`` pairs not in
    ``running``; at most ``per_group`` rows of one group run at once (one slow
    webhook receiver cannot take every thread). Called with a database
    connection open; each thread opens its own.
    """
    per_group = per_group or workers
    budget = BUDGET_SECONDS if budget is None else budget
    running: dict[Future, tuple[int, str]] = {}
    done = 0
    started = time.monotonic()
    renewed = started

    def run(row_id: int) -> object:
        with app.app_context(), db.connection_context():
            return work(row_id)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        while True:
            taking = time.monotonic() - started < budget
            free = workers - len(running)
            if taking and free > 0:
                in_flight = {row_id for row_id, _ in running.values()}
                groups: dict[str, int] = {}
                for _, group in running.values():
                    groups[group] = groups.get(group, 0) + 1
                for row_id, group in fetch(in_flight, 4 * workers):
                    if free == 0:
                        break
                    if groups.get(group, 0) >= per_group or not claim(row_id):
                        continue
                    groups[group] = groups.get(group, 0) + 1
                    running[pool.submit(run, row_id)] = (row_id, group)
                    free -= 1
            if not running:
                return done
            finished, _ = wait(
                list(running),
                timeout=min(IDLE_WAIT_SECONDS, renew_every),
                return_when=FIRST_COMPLETED,
            )
            for future in finished:
                row_id, _ = running.pop(future)
                done += 1
                if future.exception() is not None:
                    log.error("%s: row %s failed: %s", name, row_id, future.exception())
            if renew is not None and running and time.monotonic() - renewed >= renew_every:
                renew(row_id for row_id, _ in running.values())
                renewed = time.monotonic()
