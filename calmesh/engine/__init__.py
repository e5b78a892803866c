"""The pure scheduling engine.

Nothing in this package imports Flask or peewee: plain dataclasses and
timezone-aware datetimes in and out, so it can be tested without an app and
reused by every service (availability, slots, conflicts, recurrence).
"""
