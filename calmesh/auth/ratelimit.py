"""Fixed-window rate limits counted in the database, so every worker shares them."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import peewee as pw

from calmesh.models import RateCounter


@dataclass(frozen=True)
class RateState:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # unix seconds when the window ends

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_at - int(time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimited(Exception):
    """A request over its limit; pages and the REST API each answer it their way."""

    def __init__(self, state: RateState):
        super().__init__(f"too many requests; retry after {state.retry_after} s")
        self.state = state

    def headers(self) -> dict[str, str]:
        return {**self.state.headers(), "Retry-After": str(self.state.retry_after)}


# What a visitor without a key may do per minute, by action: the settings that say
# how often. Booking and voting share one budget per address, slots another.
PUBLIC_LIMITS = {
    "book": "api.public_book_per_minute",
    "vote": "api.public_book_per_minute",
    "slots": "api.public_slots_per_minute",
}


def throttle_public(action: str, address: str | None, settings) -> None:
    """Count one public ``action`` (see PUBLIC_LIMITS) from ``address`` across
    workers; raises :class:`RateLimited` once the minute's budget is spent."""
    state = hit(f"public:{action}:{address}", settings[PUBLIC_LIMITS[action]], 60)
    if not state.allowed:
        raise RateLimited(state)


def address_bucket(address: str) -> str:
    """The unit an address is limited by: an IPv4 address, or the /64 of an IPv6
    one (one machine commonly holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _window(window_seconds: int, now: float | None) -> int:
    now = time.time() if now is None else now
    return int(now // window_seconds) * window_seconds


def hit(key: str, limit: int, window_seconds: int = 60, now: float | None = None) -> RateState:
    """Count one hit of ``key``; ``allowed`` is false once ``limit`` is passed.

    One atomic upsert: concurrent workers each get their own, distinct count.
    """
    window = _window(window_seconds, now)
    # The row is read inside the database's error translation: SQLite reports a
    # full disk only when the statement completes, which is while it is read.
    with pw.__exception_wrapper__:
        cursor = (
            RateCounter.insert(key=key, window=window, hits=1)
            .on_conflict(
                conflict_target=[RateCounter.key, RateCounter.window],
                update={RateCounter.hits: RateCounter.hits + 1},
            )
            .returning(RateCounter.hits)
            .tuples()
            .execute()
        )
        (hits,) = next(iter(cursor))
        list(cursor)  # to its end: that is when SQLite finishes the statement
    return RateState(hits <= limit, limit, max(0, limit - hits), window + window_seconds)


def peek(key: str, limit: int, window_seconds: int, now: float | None = None) -> RateState:
    """The state of ``key`` without counting a hit."""
    window = _window(window_seconds, now)
    row = RateCounter.get_or_none(key=key, window=window)
    hits = row.hits if row else 0
    return RateState(hits < limit, limit, max(0, limit - hits), window + window_seconds)


def clear(key: str) -> None:
    RateCounter.delete().where(RateCounter.key == key).execute()


def purge(older_than: float | None = None) -> int:
    """Delete counters of windows that ended; run by the scheduler."""
    cutoff = (time.time() if older_than is None else older_than) - 86_400
    return RateCounter.delete().where(RateCounter.window < cutoff).execute()
