"""Working through due rows on a bounded pool of threads.

The outbox lanes and the sync use it: ``fetch`` names due rows, each is
claimed (a lease in the database, so other schedulers skip it) and handed to
a thread; a free thread takes the next due row at once, so one slow row holds
one thread, never the queue. While rows run, their leases are renewed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flask import Flask

from calmesh.db import db

log = logging.getLogger("calmesh.scheduler")

# How long a drain keeps taking new rows before it returns to the scheduler
# (which calls it again at once if work is left); rows running then finish first.
BUDGET_SECONDS = 60.0
IDLE_WAIT_SECONDS = 0.5

Running = dict[Future, tuple[int, str]]  # each running row: (id, group)


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
    running: Running = {}
    done = 0
    started = time.monotonic()
    renewed = started

    def run(row_id: int) -> object:
        with app.app_context(), db.connection_context():
            return work(row_id)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        while True:
            free = workers - len(running)
            if time.monotonic() - started < budget and free > 0:
                due = fetch(_in_flight(running), 4 * workers)
                for row_id, group in _take(running, due, free, per_group, claim):
                    running[pool.submit(run, row_id)] = (row_id, group)
            if not running:
                return done
            done += _finish(running, min(IDLE_WAIT_SECONDS, renew_every), name)
            if renew is not None and running and time.monotonic() - renewed >= renew_every:
                renew(_in_flight(running))
                renewed = time.monotonic()


def _in_flight(running: Running) -> set[int]:
    return {row_id for row_id, _ in running.values()}


def _take(
    running: Running,
    due: list[tuple[int, str]],
    free: int,
    per_group: int,
    claim: Callable[[int], bool],
) -> Iterator[tuple[int, str]]:
    """The due rows to start now, each claimed just before it is yielded: at most
    ``free``, and at most ``per_group`` of one group running at once."""
    groups = Counter(group for _, group in running.values())
    for row_id, group in due:
        if free == 0:
            return
        if groups[group] >= per_group or not claim(row_id):
            continue
        groups[group] += 1
        free -= 1
        yield row_id, group


def _finish(running: Running, timeout: float, name: str) -> int:
    """Wait up to ``timeout`` for a running row to end; forget the ended ones (logging
    a failure) and return how many ended."""
    finished, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
    for future in finished:
        row_id, _ = running.pop(future)
        if future.exception() is not None:
            log.error("%s: row %s failed: %s", name, row_id, future.exception())
    return len(finished)
