"""Scheduling polls: options, participants and their votes, comments."""

from __future__ import annotations

import secrets

import peewee as pw

from calmesh.db import BaseModel, UTCDateTimeField, utcnow
from calmesh.models.calendars import UnifiedCalendar
from calmesh.models.connections import RemoteCalendar
from calmesh.models.users import User

POLL_STATUSES = ("open", "closed")
# participant: times shown in each participant's zone; locked: everyone sees the
# poll's clock; floating: whole days that are the same dates everywhere.
ZONE_MODES = ("participant", "locked", "floating")
VOTE_VALUES = ("yes", "ifneedbe", "no")


def new_public_id() -> str:
    """The poll's id in public links and the API: random, so links cannot be guessed."""
    return secrets.token_urlsafe(12)


class Poll(BaseModel):
    public_id = pw.CharField(max_length=24, unique=True, default=new_public_id)
    user = pw.ForeignKeyField(User, backref="polls", on_delete="CASCADE")  # the owner
    title = pw.CharField(max_length=200)
    description = pw.TextField(default="")
    location = pw.CharField(max_length=500, default="")
    timezone = pw.CharField(max_length=64)
    zone_mode = pw.CharField(max_length=12, default="participant")
    duration = pw.IntegerField(null=True)  # minutes, for options given by their start only
    deadline = UTCDateTimeField(null=True)
    hide_participants = pw.BooleanField(default=False)
    allow_comments = pw.BooleanField(default=True)
    notify_owner = pw.BooleanField(default=True)
    # The participants' language when their browser asks for none CalMesh speaks.
    language = pw.CharField(max_length=8, default="en")
    calendar = pw.ForeignKeyField(UnifiedCalendar, null=True, on_delete="SET NULL")
    status = pw.CharField(max_length=10, default="open", index=True)
    # A PollOption id; a plain column, as options already refer to their poll.
    decided_option_id = pw.IntegerField(null=True)
    decided_at = UTCDateTimeField(null=True)
    closed_at = UTCDateTimeField(null=True)
    sequence = pw.IntegerField(default=0)  # the .ics SEQUENCE of the decided event
    # Where the write-back put the decided event, once it did.
    remote_calendar = pw.ForeignKeyField(RemoteCalendar, null=True, on_delete="SET NULL")
    remote_href = pw.CharField(max_length=2000, null=True)
    # The failed write-back (outbox item id) the owner dismissed: a later failure shows again.
    dismissed_failure = pw.BigIntegerField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    @classmethod
    def for_user(cls, user: User) -> pw.ModelSelect:
        return cls.select().where(cls.user == user)


class PollOption(BaseModel):
    """A whole day (``day``) or a time slot (``start``/``end``, UTC)."""

    poll = pw.ForeignKeyField(Poll, backref="options", on_delete="CASCADE")
    position = pw.IntegerField(default=0)
    day = pw.DateField(null=True)
    start = UTCDateTimeField(null=True)
    end = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("poll", "position"), False),)

    @property
    def all_day(self) -> bool:
        return self.day is not None

    @classmethod
    def of(cls, poll: Poll) -> pw.ModelSelect:
        return cls.select().where(cls.poll == poll).order_by(cls.position, cls.id)


class Participant(BaseModel):
    poll = pw.ForeignKeyField(Poll, backref="participants", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    email = pw.CharField(max_length=254, default="")  # only ever shown to the owner
    timezone = pw.CharField(max_length=64, default="")
    locale = pw.CharField(max_length=16, default="en")  # their mails' language
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    @classmethod
    def of(cls, poll: Poll) -> pw.ModelSelect:
        return cls.select().where(cls.poll == poll).order_by(cls.created_at, cls.id)


class Vote(BaseModel):
    participant = pw.ForeignKeyField(Participant, backref="votes", on_delete="CASCADE")
    option = pw.ForeignKeyField(PollOption, backref="votes", on_delete="CASCADE")
    value = pw.CharField(max_length=10)  # one of VOTE_VALUES

    class Meta:
        indexes = ((("participant", "option"), True),)


class Comment(BaseModel):
    poll = pw.ForeignKeyField(Poll, backref="comments", on_delete="CASCADE")
    name = pw.CharField(max_length=200)
    body = pw.TextField()
    created_at = UTCDateTimeField(default=utcnow)

    @classmethod
    def of(cls, poll: Poll) -> pw.ModelSelect:
        return cls.select().where(cls.poll == poll).order_by(cls.created_at, cls.id)
