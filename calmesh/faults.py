"""Conditions of this process that a person must see: database writes failing
(a full disk, a read-only file, a lost connection).

Each condition is logged once when it starts and once when it ends, never once
per request (a full disk must not bury the log in tracebacks), and is shown on
``/api/health`` and the dashboard while it lasts.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("calmesh")

# A condition not seen again for this long counts as over.
FORGET_AFTER_SECONDS = 60.0

_lock = threading.Lock()
_active: dict[str, tuple[str, float]] = {}  # kind -> (message, last seen, monotonic)


def report(kind: str, message: str) -> None:
    """Record that ``kind`` happened now (logged if it is new or says something new)."""
    with _lock:
        known = _active.get(kind)
        fresh = known is None or known[0] != message or _stale(known)
        _active[kind] = (message, time.monotonic())
    if fresh:
        log.error("%s: %s", kind, message)


def clear(kind: str) -> None:
    """``kind`` is over (a write succeeded again)."""
    with _lock:
        known = _active.pop(kind, None)
    if known is not None and not _stale(known):
        log.warning("%s: over (%s)", kind, known[0])


def active(kind: str) -> str | None:
    """The message of ``kind`` while it lasts, else None."""
    with _lock:
        known = _active.get(kind)
    return None if known is None or _stale(known) else known[0]


def _stale(known: tuple[str, float]) -> bool:
    return time.monotonic() - known[1] > FORGET_AFTER_SECONDS


DATABASE = "database writes failing"


def describe_database_error(exc: BaseException) -> str:
    """The first line of a database error, e.g. ``database or disk is full``."""
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


def database_failure() -> str | None:
    """Why database writes failed in this process lately, if they did."""
    return active(DATABASE)
