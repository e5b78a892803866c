"""Sign-ins that can be ended: one :class:`UserSession` row per sign-in.

flask-login keeps ``User.get_id()`` in the session cookie and, signed, in the
remember-me cookie. That id is here the random token of one sign-in (stored
only as a hash), not the user's id: every sign-in gets its own, so remember-me
cookies differ per login, and ending the row — signing out, "sign out
everywhere", the Sessions list, a password or e-mail change — makes both
cookies of that sign-in worthless, wherever they were copied to.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import request, session
from flask_login import current_user, login_user, logout_user

from calmesh.db import utcnow
from calmesh.models import User, UserSession

# A sign-in without "remember me" ends after this long unused ...
IDLE = timedelta(days=14)
# ... one with it lasts as long as its cookie, from the sign-in on.
REMEMBER_FOR = timedelta(days=90)
# last_seen_at is a write; refresh it at most this often per session.
SEEN_RESOLUTION = timedelta(seconds=60)
# Ended and expired rows stay listed nowhere; they are deleted after this long.
KEEP_ENDED = timedelta(days=30)
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    user: User, remember: bool = False, user_agent: str = "", address: str = ""
) -> tuple[UserSession, str]:
    """A new sign-in row and its token (which is never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession.create(
        user=user,
        token_hash=_hash(token),
        remember=remember,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (REMEMBER_FOR if remember else IDLE),
        user_agent=user_agent[:300],
        address=address[:64],
    )
    return row, token


def sign_in(user: User, remember: bool = False) -> UserSession:
    """Sign ``user`` in in this browser, as a new session."""
    row, token = create(user, remember, request.user_agent.string or "", request.remote_addr or "")
    user.session_token, user.current_session = token, row
    login_user(user, remember=remember, duration=REMEMBER_FOR if remember else None)
    return row


def load(token: str) -> User | None:
    """The user of a live sign-in with ``token`` (flask-login's user loader), or None."""
    if len(token) != _TOKEN_LENGTH:
        return None
    now = utcnow()
    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(
            (UserSession.token_hash == _hash(token))
            & UserSession.ended_at.is_null()
            & (UserSession.expires_at > now)
        )
        .first()
    )
    if row is None:
        return None
    if now - row.last_seen_at > SEEN_RESOLUTION:
        row.last_seen_at, row.address = now, (request.remote_addr or "")[:64]
        row.user_agent = (request.user_agent.string or "")[:300]
        if not row.remember:
            row.expires_at = now + IDLE
        UserSession.update(
            last_seen_at=row.last_seen_at,
            address=row.address,
            user_agent=row.user_agent,
            expires_at=row.expires_at,
        ).where(UserSession.id == row.id).execute()
    user = row.user
    user.session_token, user.current_session = token, row
    return user


def browser_key(create: bool = True) -> str | None:
    """A random value kept in this browser's (signed) session cookie: it binds
    work started here, such as an OAuth consent, to this browser."""
    if "browser" not in session and create:
        session["browser"] = secrets.token_urlsafe(32)
    return session.get("browser")


def current() -> UserSession | None:
    """The sign-in this request runs in (None for API keys and visitors)."""
    if not current_user.is_authenticated:
        return None
    return getattr(current_user._get_current_object(), "current_session", None)


def sign_out() -> None:
    """End this browser's sign-in: its session and remember-me cookies stop working."""
    row = current()
    if row is not None:
        end(row)
    logout_user()


def end(row: UserSession) -> None:
    UserSession.update(ended_at=utcnow()).where(
        (UserSession.id == row.id) & UserSession.ended_at.is_null()
    ).execute()


def end_one(user: User, session_id: int) -> bool:
    """End one of the user's sign-ins; False when there is no such live one of theirs."""
    return bool(
        UserSession.update(ended_at=utcnow())
        .where(
            (UserSession.id == session_id)
            & (UserSession.user == user)
            & UserSession.ended_at.is_null()
        )
        .execute()
    )


def end_all(user: User, keep: UserSession | None = None) -> int:
    """End every sign-in of ``user`` except ``keep``; returns how many ended."""
    query = UserSession.update(ended_at=utcnow()).where(
        (UserSession.user == user) & UserSession.ended_at.is_null()
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return query.execute()


def purge() -> int:
    """Delete sign-ins ended or expired long ago; run by the scheduler."""
    cutoff = utcnow() - KEEP_ENDED
    return (
        UserSession.delete()
        .where((UserSession.ended_at < cutoff) | (UserSession.expires_at < cutoff))
        .execute()
    )
