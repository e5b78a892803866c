"""Rows that coordinate processes: rate counters, job leases, heartbeats.

Every guarantee that must hold across gunicorn workers and hosts lives here, in
the database, never in a Python lock.
"""

from __future__ import annotations

import peewee as pw

from calmesh.db import BaseModel, UTCDateTimeField, utcnow


class RateCounter(BaseModel):
    """Hits of one key in one fixed window (``window`` = unix start second)."""

    key = pw.CharField(max_length=200)
    window = pw.BigIntegerField()
    hits = pw.IntegerField(default=0)

    class Meta:
        primary_key = pw.CompositeKey("key", "window")


class Lease(BaseModel):
    """A named piece of work claimed by one process until ``leased_until``."""

    name = pw.CharField(max_length=200, primary_key=True)
    holder = pw.CharField(max_length=200, default="")
    leased_until = UTCDateTimeField(null=True)


class Heartbeat(BaseModel):
    """The last sign of life of each scheduler (one row per host and process)."""

    holder = pw.CharField(max_length=200, primary_key=True)
    beat_at = UTCDateTimeField(default=utcnow)
    started_at = UTCDateTimeField(default=utcnow)


class KeyFingerprint(BaseModel):
    """The fingerprint of the secret key the database is used with (one row, id 1).

    Never the key: an HMAC under a key derived for this alone (calmesh.auth.keys).
    """

    id = pw.IntegerField(primary_key=True)
    fingerprint = pw.CharField(max_length=64)
    recorded_at = UTCDateTimeField(default=utcnow)


class InstanceSetting(BaseModel):
    """A value the instance keeps for itself, shared by every worker and host.

    ``setup_nonce``: while no user exists, the random part of the setup token;
    ``origin``: the origin (``https://host[:port][/prefix]``) of the first-run
    setup, used for outgoing links when ``server.base_url`` is empty.
    """

    SETUP_NONCE = "setup_nonce"
    ORIGIN = "origin"

    name = pw.CharField(max_length=100, primary_key=True)
    value = pw.TextField()

    @classmethod
    def read(cls, name: str) -> str | None:
        row = cls.get_or_none(cls.name == name)
        return row.value if row else None

    @classmethod
    def put_once(cls, name: str, value: str) -> str:
        """Store ``value`` unless ``name`` has one; returns the value that stays.
        Concurrent callers (workers starting at once) all get the same one."""
        cls.insert(name=name, value=value).on_conflict_ignore().execute()
        return cls.read(name) or value

    @classmethod
    def forget(cls, name: str) -> None:
        cls.delete().where(cls.name == name).execute()
