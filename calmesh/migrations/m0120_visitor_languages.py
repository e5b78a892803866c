"""Visitors' languages: a default per booking page and poll, and the language
each visitor and participant used (their later mails speak it); a booking
page may leave out the form's notes field; an owner may list their pages
at /{handle}."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate


def up(migrator, db):
    migrate(
        migrator.add_column("booking_page", "language", pw.CharField(max_length=8, default="en")),
        migrator.add_column("booking_page", "ask_notes", pw.BooleanField(default=True)),
        migrator.add_column("user", "public_profile", pw.BooleanField(default=False)),
        migrator.add_column("poll", "language", pw.CharField(max_length=8, default="en")),
        migrator.add_column(
            "booking", "attendee_locale", pw.CharField(max_length=16, default="en")
        ),
        migrator.add_column("participant", "locale", pw.CharField(max_length=16, default="en")),
    )
