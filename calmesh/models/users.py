"""Accounts, their sign-ins (sessions) and API keys."""

from __future__ import annotations

import peewee as pw

from calmesh.db import BaseModel, UTCDateTimeField, utcnow

SCOPES = ("read", "book", "full")
CLOCKS = ("24", "12")  # how the owner's pages and mails write times: 14:30 or 2:30pm


class Owned:
    """A table whose rows belong to a user (its ``user`` field)."""

    @classmethod
    def for_user(cls, user: User) -> pw.ModelSelect:
        return cls.select().where(cls.user == user)  # type: ignore[attr-defined]


class User(BaseModel):
    email = pw.CharField(max_length=254, unique=True)
    handle = pw.CharField(max_length=40, unique=True)
    name = pw.CharField(max_length=200, default="")
    password_hash = pw.CharField(max_length=300, default="")
    timezone = pw.CharField(max_length=64, default="UTC")
    clock = pw.CharField(max_length=2, default="24")  # one of CLOCKS
    week_start = pw.IntegerField(default=0)  # the first day of the week: 0 = Monday, 6 = Sunday
    # /{handle} lists the active booking pages only when the owner turns this on.
    public_profile = pw.BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)

    # flask-login's protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False
    # Set by calmesh.auth.sessions on the user a request is signed in as.
    session_token: str | None = None
    current_session: UserSession | None = None

    def get_id(self) -> str:
        """What flask-login keeps in the cookies: the token of one sign-in, never the
        user id, so that ending that sign-in (UserSession) ends its cookies too."""
        if not self.session_token:
            raise RuntimeError("sign users in with calmesh.auth.sessions.sign_in")
        return self.session_token

    @property
    def is_owner(self) -> bool:
        """The instance's first account (made on the first-run page or the CLI)."""
        return self.id == User.select(pw.fn.MIN(User.id)).scalar()

    @classmethod
    def by_login(cls, login: str) -> User | None:
        """The user whose e-mail or handle (any case, spaces around) is ``login``."""
        login = login.strip().lower()
        return cls.get_or_none((pw.fn.LOWER(cls.email) == login) | (cls.handle == login))


class ApiKey(Owned, BaseModel):
    user = pw.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    scope = pw.CharField(max_length=10, choices=[(s, s) for s in SCOPES])
    prefix = pw.CharField(max_length=20)  # shown in lists, e.g. "cm_live_AbCd"
    key_hash = pw.CharField(max_length=64, unique=True)
    created_at = UTCDateTimeField(default=utcnow)
    last_used_at = UTCDateTimeField(null=True)
    expires_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= utcnow():
            return "expired"
        return "active"


class UserSession(BaseModel):
    """One sign-in of a user: the browser's session and remember-me cookies carry
    its token, of which only the hash is stored. Ended (``ended_at``) by signing
    out, from the Sessions list, or by a password or e-mail change."""

    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    token_hash = pw.CharField(max_length=64, unique=True)
    remember = pw.BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    ended_at = UTCDateTimeField(null=True)
    user_agent = pw.CharField(max_length=300, default="")
    address = pw.CharField(max_length=64, default="")  # as seen through trusted proxies

    @classmethod
    def active_for(cls, user: User) -> pw.ModelSelect:
        return (
            cls.select()
            .where((cls.user == user) & cls.ended_at.is_null() & (cls.expires_at > utcnow()))
            .order_by(cls.last_seen_at.desc(), cls.id.desc())
        )
