"""Heartbeats: one row per scheduler process, the newest read by health,
this host's apart from others', and old ones pruned."""

from __future__ import annotations

import socket
from datetime import timedelta

from calmesh.db import utcnow
from calmesh.jobs import heartbeat
from calmesh.jobs.leases import holder
from calmesh.models import Heartbeat


def add(who: str, ago: timedelta) -> None:
    at = utcnow() - ago
    Heartbeat.create(holder=who, beat_at=at, started_at=at)


def test_a_beat_keeps_one_row_per_process_and_moves_its_time(app):
    heartbeat.beat()
    first = Heartbeat.get_by_id(holder())
    Heartbeat.update(beat_at=first.beat_at - timedelta(minutes=1)).execute()

    heartbeat.beat()

    rows = list(Heartbeat.select())
    assert [row.holder for row in rows] == [holder()]
    assert rows[0].beat_at > first.beat_at - timedelta(minutes=1)
    assert rows[0].started_at == first.started_at


def test_the_latest_beat_of_any_host_or_of_this_one(app):
    here = socket.gethostname()
    add(f"{here}:1", timedelta(minutes=5))
    add("elsewhere:2", timedelta(seconds=5))

    assert heartbeat.latest_heartbeat().holder == "elsewhere:2"
    assert heartbeat.latest_heartbeat(this_host=True).holder == f"{here}:1"


def test_no_beat_yet_is_none(app):
    assert heartbeat.latest_heartbeat() is None
    assert heartbeat.latest_heartbeat(this_host=True) is None


def test_recent_lists_the_last_hour_newest_first_and_prune_drops_old_rows(app):
    add("a:1", timedelta(minutes=1))
    add("b:2", timedelta(minutes=30))
    add("c:3", timedelta(hours=2))
    add("d:4", timedelta(days=2))

    assert [row.holder for row in heartbeat.recent()] == ["a:1", "b:2"]
    assert heartbeat.prune() == 1
    assert sorted(row.holder for row in Heartbeat.select()) == ["a:1", "b:2", "c:3"]
