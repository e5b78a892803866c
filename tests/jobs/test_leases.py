"""Leases: one holder at a time, across threads and processes; a holder renews
its own, an expired or released one is taken over."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from calmesh.jobs import leases
from calmesh.models import Lease


def test_only_one_claimant_wins_a_free_lease(app):
    assert leases.claim("job:x", timedelta(minutes=1), who="a") is True
    assert leases.claim("job:x", timedelta(minutes=1), who="b") is False
    leases.release("job:x", who="a")
    assert leases.claim("job:x", timedelta(minutes=1), who="b") is True


def test_an_expired_lease_can_be_taken_over(app):
    assert leases.claim("job:y", timedelta(seconds=-1), who="crashed")
    assert leases.claim("job:y", timedelta(minutes=1), who="b")
    assert Lease.get_by_id("job:y").holder == "b"


def test_concurrent_claims_have_exactly_one_winner(app):
    from calmesh.db import db

    results: list[bool] = []
    barrier = threading.Barrier(8)

    def contend(i: int) -> None:
        with app.app_context(), db.connection_context():
            barrier.wait()
            results.append(leases.claim("job:race", timedelta(minutes=1), who=f"t{i}"))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_the_holder_renews_its_own_lease_and_others_still_wait(app):
    assert leases.claim("job:z", timedelta(seconds=30), who="a")
    first = Lease.get_by_id("job:z").leased_until
    assert leases.claim("job:z", timedelta(minutes=5), who="a"), "its own: renewed"
    assert Lease.get_by_id("job:z").leased_until > first
    assert leases.claim("job:z", timedelta(minutes=5), who="b") is False


def test_only_the_holder_releases_a_lease(app):
    leases.claim("job:r", timedelta(minutes=5), who="a")
    leases.release("job:r", who="b")
    assert leases.claim("job:r", timedelta(minutes=5), who="b") is False
    leases.release("job:r", who="a")
    assert leases.claim("job:r", timedelta(minutes=5), who="b") is True


def test_the_default_holder_is_this_host_and_process():
    assert leases.holder() == f"{socket.gethostname()}:{os.getpid()}"
