"""calmesh.models.system: the rows that coordinate processes and hosts."""

from __future__ import annotations

import peewee as pw
import pytest

from calmesh.db import db
from calmesh.models import Heartbeat, InstanceSetting, Lease, RateCounter


def test_put_once_keeps_the_first_value_for_every_later_caller(app):
    assert InstanceSetting.read(InstanceSetting.ORIGIN) is None

    first = InstanceSetting.put_once(InstanceSetting.ORIGIN, "https://cal.example.org")
    second = InstanceSetting.put_once(InstanceSetting.ORIGIN, "https://other.example.org")

    assert first == second == "https://cal.example.org"
    assert InstanceSetting.read(InstanceSetting.ORIGIN) == "https://cal.example.org"


def test_forget_removes_one_setting_and_only_that_one(app):
    InstanceSetting.put_once(InstanceSetting.SETUP_NONCE, "nonce")
    InstanceSetting.put_once(InstanceSetting.ORIGIN, "https://cal.example.org")

    InstanceSetting.forget(InstanceSetting.SETUP_NONCE)
    InstanceSetting.forget("never-set")  # nothing to do, no error

    assert InstanceSetting.read(InstanceSetting.SETUP_NONCE) is None
    assert InstanceSetting.read(InstanceSetting.ORIGIN) == "https://cal.example.org"
    assert InstanceSetting.put_once(InstanceSetting.SETUP_NONCE, "new") == "new"


def test_a_rate_counter_is_one_row_per_key_and_window(app):
    RateCounter.create(key="book:10.0.0.1", window=60)
    RateCounter.create(key="book:10.0.0.1", window=120)
    RateCounter.create(key="book:10.0.0.2", window=60)

    with pytest.raises(pw.IntegrityError), db.atomic():
        RateCounter.create(key="book:10.0.0.1", window=60)
    assert RateCounter.get(RateCounter.key == "book:10.0.0.2").hits == 0


def test_a_lease_and_a_heartbeat_are_one_row_per_name_and_holder(app):
    Lease.create(name="sync")
    Heartbeat.create(holder="host:1")

    with pytest.raises(pw.IntegrityError), db.atomic():
        Lease.create(name="sync")
    with pytest.raises(pw.IntegrityError), db.atomic():
        Heartbeat.create(holder="host:1")
    lease = Lease.get_by_id("sync")
    assert (lease.holder, lease.leased_until) == ("", None)
    beat = Heartbeat.get_by_id("host:1")
    assert beat.beat_at.tzinfo is not None and beat.started_at.tzinfo is not None
