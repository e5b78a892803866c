"""Accounts: creation, sign-in with throttling, profile, password and e-mail changes."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import peewee as pw
from werkzeug.security import check_password_hash, generate_password_hash

from calmesh.auth import ratelimit, sessions
from calmesh.auth import setup as first_run
from calmesh.db import write_transaction
from calmesh.models import CLOCKS, User, UserSession
from calmesh.schema import Choice, Email, Invalid, Object, String, TimeZone

HANDLE = String(
    min_length=2,
    max_length=40,
    pattern=r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    pattern_help="2-40 lowercase letters, digits and inner hyphens",
    description="Public handle, the first part of booking links: /{handle}/{slug}",
)
PASSWORD = String(min_length=10, max_length=200, strip=False, description="At least 10 characters")
NAME = String(max_length=200, default="")

NEW_USER = Object(
    {
        "email": Email(),
        "handle": HANDLE,
        "password": PASSWORD,
        "name": NAME,
        "timezone": TimeZone(default="UTC"),
    },
    name="NewUser",
)
PROFILE = Object(
    {
        "name": NAME,
        "timezone": TimeZone(),
        "clock": Choice(*CLOCKS, default="24", description="24: 14:30, 12: 2:30pm"),
        "week_start": Choice(
            *(str(d) for d in range(7)), default="0", description="0 = Monday ... 6 = Sunday"
        ),
    },
    name="Profile",
)
CURRENT_PASSWORD = String(min_length=1, max_length=200, strip=False)
PASSWORD_CHANGE = Object(
    {"current_password": CURRENT_PASSWORD, "password": PASSWORD}, name="PasswordChange"
)
EMAIL_CHANGE = Object({"email": Email(), "current_password": CURRENT_PASSWORD}, name="EmailChange")
# Wrong current passwords allowed per account on the change forms, per window.
REAUTH_MAX_FAILURES, REAUTH_WINDOW = 5, 900

# A dummy hash so that an unknown login costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("calmesh-timing-equaliser")


class UserExists(Exception):
    """The e-mail or handle is taken; ``field`` says which."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"{field} is already taken")


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    throttled: bool = False
    retry_after: int = 0


# First path segments the app itself uses: a handle must not shadow them in /{handle}/{slug}.
RESERVED_HANDLES = frozenset(
    {
        "api",
        "static",
        "feeds",
        "oauth",
        "b",
        "p",
        "embed",
        "login",
        "logout",
        "setup",
        "profile",
        "dashboard",
        "connections",
        "calendars",
        "api-keys",
        "booking-pages",
        "bookings",
        "polls",
        "webhooks",
        "mail",
        "admin",
    }
)


def create_user(**fields: object) -> User:
    """Create an account from raw input; raises Invalid or UserExists."""
    data = NEW_USER.parse(fields)
    if data["handle"] in RESERVED_HANDLES:
        raise Invalid([{"field": "handle", "message": "is reserved; choose another"}])
    try:
        with write_transaction():
            user = User.create(
                email=data["email"],
                handle=data["handle"],
                name=data["name"],
                timezone=data["timezone"],
                password_hash=generate_password_hash(data["password"]),
            )
            first_run.close()  # an account exists: the setup token never works again
            return user
    except pw.IntegrityError:
        taken = "email" if User.select().where(User.email == data["email"]).exists() else "handle"
        raise UserExists(taken) from None


def _account_key(login: str, user: User | None) -> str:
    """The bucket of the account a login resolves to: "Owner", " owner " and
    "OWNER@example.org" are one account, so they share their failures."""
    if user is not None:
        return f"user:{user.id}"
    # Unknown names are hashed: a fixed length, and nothing typed is stored.
    typed = unicodedata.normalize("NFKC", login).strip().casefold()
    return "name:" + hashlib.sha256(typed.encode()).hexdigest()[:32]


def authenticate(
    login: str,
    password: str,
    address: str,
    max_failures: int,
    window: int,
    max_per_address: int,
) -> LoginResult:
    """Check a sign-in. Failures are counted per account and address (at most
    ``max_failures``; another address can still sign in, so nobody locks the
    owner out from afar) and per address over all accounts (at most
    ``max_per_address``, against one address trying many accounts), within
    ``window`` seconds; past either limit every try is refused until the
    window ends. Counted in the database, so every worker shares them."""
    user = User.by_login(login)
    origin = ratelimit.address_bucket(address)
    per_account = f"login:{_account_key(login, user)}:{origin}"
    per_address = f"login-from:{origin}"
    for key, limit in ((per_account, max_failures), (per_address, max_per_address)):
        state = ratelimit.peek(key, limit, window)
        if not state.allowed:
            return LoginResult(None, throttled=True, retry_after=state.retry_after)
    if (
        user is not None
        and user.password_hash
        and check_password_hash(user.password_hash, password)
    ):
        # Only this account's count: the address's stays, or signing in to one's
        # own account between guesses would reset it.
        ratelimit.clear(per_account)
        return LoginResult(user)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
    ratelimit.hit(per_account, max_failures, window)
    ratelimit.hit(per_address, max_per_address, window)
    return LoginResult(None)


def update_profile(user: User, **fields: object) -> User:
    data = PROFILE.parse(fields)
    user.name, user.timezone = data["name"], data["timezone"]
    user.clock, user.week_start = data["clock"], int(data["week_start"])
    user.save()
    return user


def set_public_profile(user: User, listed: bool) -> User:
    """Whether /{handle} lists the user's active booking pages (off by default)."""
    user.public_profile = bool(listed)
    user.save()
    return user


def _set_password(user: User, password: str, keep: UserSession | None = None) -> int:
    """A new password; every sign-in but ``keep`` ends. Returns how many ended."""
    PASSWORD.parse(password, "password")
    with write_transaction():
        user.password_hash = generate_password_hash(password)
        user.save()
        return sessions.end_all(user, keep)


def _check_current_password(user: User, password: str) -> None:
    """Changing the password or e-mail asks for the current password, so that a
    borrowed session alone cannot take the account; failures are throttled."""
    key = f"reauth:{user.id}"
    if not ratelimit.peek(key, REAUTH_MAX_FAILURES, REAUTH_WINDOW).allowed:
        raise Invalid(
            [{"field": "current_password", "message": "was wrong too often; try again later"}]
        )
    if not (user.password_hash and check_password_hash(user.password_hash, password)):
        ratelimit.hit(key, REAUTH_MAX_FAILURES, REAUTH_WINDOW)
        raise Invalid([{"field": "current_password", "message": "is not your password"}])
    ratelimit.clear(key)


def change_password(user: User, keep: UserSession | None = None, **fields: object) -> int:
    """``current_password`` and the new ``password``; ends every other sign-in."""
    data = PASSWORD_CHANGE.parse(fields)
    _check_current_password(user, data["current_password"])
    return _set_password(user, data["password"], keep)


def change_email(user: User, keep: UserSession | None = None, **fields: object) -> int:
    """A new ``email`` (confirmed by ``current_password``); ends every other sign-in.

    Raises Invalid, or UserExists when another account has that address.
    """
    data = EMAIL_CHANGE.parse(fields)
    _check_current_password(user, data["current_password"])
    try:
        with write_transaction():
            User.update(email=data["email"]).where(User.id == user.id).execute()
            user.email = data["email"]
            return sessions.end_all(user, keep)
    except pw.IntegrityError:
        raise UserExists("email") from None


def delete_account(user: User, *, current_password: str, confirm: str) -> None:
    """Delete ``user`` and everything that is theirs (connections and their cached
    events, calendars, booking pages and bookings, polls, webhooks, keys, sign-ins,
    mails). ``confirm`` must be their handle, ``current_password`` their password.
    Events already written to the owner's own calendars stay there."""
    problems = []
    if confirm.strip() != user.handle:
        problems.append({"field": "confirm", "message": f"must be {user.handle}"})
    try:
        _check_current_password(user, current_password)
    except Invalid as exc:
        problems += exc.details
    if problems:
        raise Invalid(problems)
    with write_transaction():
        user.delete_instance(recursive=True, delete_nullable=True)


__all__ = [
    "EMAIL_CHANGE",
    "NEW_USER",
    "PASSWORD_CHANGE",
    "PROFILE",
    "Invalid",
    "LoginResult",
    "UserExists",
    "authenticate",
    "change_email",
    "change_password",
    "create_user",
    "delete_account",
    "set_public_profile",
    "update_profile",
]
