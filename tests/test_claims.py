"""calmesh.claims: a conditional UPDATE leases a row to exactly one caller, a
lapsed lease is free again, only the holder renews or records, and the wait
between failures doubles up to its cap."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from itertools import pairwise

from calmesh import claims
from calmesh.db import db, utcnow
from calmesh.models import Lease, OutboxItem
from tests.conftest import ROOT

TTL = timedelta(minutes=1)


def item() -> OutboxItem:
    return OutboxItem.create(kind="test.claims", payload={})


def held(row) -> tuple[str, object]:
    fresh = type(row).get_by_id(row.get_id())
    until = fresh.leased_until
    return (getattr(fresh, "lease_holder", None) or fresh.holder), until


def test_two_claimers_never_both_win_a_row(app):
    row = item()
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def contend(n: int) -> None:
        with app.app_context(), db.connection_context():
            barrier.wait()
            wins.append(claims.claim(OutboxItem, OutboxItem.id == row.id, TTL, who=f"w{n}"))

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [0] * 7 + [1]
    winner, until = held(row)
    assert winner.startswith("w") and until > utcnow()


def test_a_lapsed_lease_is_taken_over_and_a_live_one_is_not(app):
    row, now = item(), utcnow()
    assert claims.claim(OutboxItem, OutboxItem.id == row.id, TTL, now=now, who="a") == 1
    assert claims.claim(OutboxItem, OutboxItem.id == row.id, TTL, now=now, who="b") == 0
    later = now + TTL + timedelta(seconds=1)
    assert claims.claim(OutboxItem, OutboxItem.id == row.id, TTL, now=later, who="b") == 1
    assert held(row) == ("b", later + TTL)


def test_again_extends_only_the_callers_own_lease(app):
    row, now = item(), utcnow()
    claims.claim(OutboxItem, OutboxItem.id == row.id, TTL, now=now, who="a")
    where = OutboxItem.id == row.id
    assert claims.claim(OutboxItem, where, TTL, now=now, who="b", again=True) == 0
    assert claims.claim(OutboxItem, where, TTL * 5, now=now, who="a") == 0, "held, even by a"
    assert claims.claim(OutboxItem, where, TTL * 5, now=now, who="a", again=True) == 1
    assert held(row) == ("a", now + TTL * 5)


def test_a_claim_sets_the_given_fields_with_the_lease_and_counts_the_rows(app):
    rows = [item() for _ in range(3)]
    ids = [r.id for r in rows]
    taken = claims.claim(OutboxItem, OutboxItem.id.in_(ids), TTL, last_error="claimed")
    assert taken == 3
    assert {r.last_error for r in OutboxItem.select().where(OutboxItem.id.in_(ids))} == {"claimed"}
    assert claims.claim(OutboxItem, OutboxItem.id.in_(ids), TTL) == 0


def test_a_table_with_a_holder_column_is_claimed_the_same_way(app):
    Lease.create(name="job:claims", holder="", leased_until=None)
    assert claims.claim(Lease, Lease.name == "job:claims", TTL, who="x") == 1
    assert claims.claim(Lease, Lease.name == "job:claims", TTL, who="y") == 0
    assert Lease.get_by_id("job:claims").holder == "x"


def test_only_this_processs_leases_are_renewed_and_mine(app):
    ours, theirs, now = item(), item(), utcnow()
    claims.claim(OutboxItem, OutboxItem.id == ours.id, TTL, now=now)
    claims.claim(OutboxItem, OutboxItem.id == theirs.id, TTL, now=now, who="elsewhere:1")

    assert claims.renew(OutboxItem, [ours.id, theirs.id], TTL * 3, now=now) == 1
    assert held(ours)[1] == now + TTL * 3 and held(theirs)[1] == now + TTL
    assert claims.renew(OutboxItem, [], TTL) == 0
    mine = OutboxItem.select(OutboxItem.id).where(claims.mine(OutboxItem))
    assert [r.id for r in mine] == [ours.id]


def test_the_holder_names_this_host_and_process_and_another_process_differs():
    other = subprocess.run(
        [sys.executable, "-c", "from calmesh import claims; print(claims.holder())"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    host, pid = claims.holder().rsplit(":", 1)
    assert (host, pid) == (socket.gethostname(), str(os.getpid()))
    assert other.rsplit(":", 1)[0] == host and other != claims.holder()


def test_back_off_doubles_from_the_base_and_stops_at_the_cap():
    waits = [claims.backoff_seconds(n, cap=3600) for n in range(1, 10)]
    assert waits[:5] == [30, 60, 120, 240, 480]
    assert all(b == min(2 * a, 3600) for a, b in pairwise(waits))
    assert waits[-1] == 3600
    assert claims.backoff_seconds(0, cap=3600) == 30, "no failure yet counts as the first"
    assert claims.backoff_seconds(10_000, cap=900) == 900, "a huge count does not overflow"
    assert claims.backoff_seconds(3, cap=100, base=5) == 20
