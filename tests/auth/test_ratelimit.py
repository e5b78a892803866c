"""Fixed-window rate limits in the database, on an injected clock (``now``)."""

from __future__ import annotations

import threading

import pytest

from calmesh.auth import ratelimit
from calmesh.db import db
from calmesh.models import RateCounter

T0 = 1_800_000_000  # a window boundary for 60 s windows (divisible by 60)


def test_hits_are_allowed_up_to_the_limit_then_refused_until_the_window_ends(app):
    states = [ratelimit.hit("k", 3, 60, now=T0 + i) for i in range(5)]

    assert [s.allowed for s in states] == [True, True, True, False, False]
    assert [s.remaining for s in states] == [2, 1, 0, 0, 0]
    assert {s.reset_at for s in states} == {T0 + 60}
    assert ratelimit.hit("k", 3, 60, now=T0 + 60).allowed, "a new window starts afresh"


def test_keys_are_counted_apart(app):
    for _ in range(3):
        ratelimit.hit("a", 3, 60, now=T0)
    assert ratelimit.hit("b", 3, 60, now=T0).remaining == 2


def test_peek_does_not_count_and_clear_forgets(app):
    ratelimit.hit("k", 2, 60, now=T0)
    assert ratelimit.peek("k", 2, 60, now=T0).remaining == 1
    assert ratelimit.peek("k", 2, 60, now=T0).remaining == 1
    ratelimit.hit("k", 2, 60, now=T0)
    assert ratelimit.peek("k", 2, 60, now=T0).allowed is False

    ratelimit.clear("k")
    assert ratelimit.peek("k", 2, 60, now=T0).remaining == 2


def test_purge_deletes_only_windows_older_than_a_day(app):
    ratelimit.hit("old", 5, 60, now=T0 - 86_400 - 120)
    ratelimit.hit("recent", 5, 60, now=T0 - 3600)

    assert ratelimit.purge(older_than=T0) == 1
    assert [row.key for row in RateCounter.select()] == ["recent"]


def test_the_state_gives_headers_and_a_retry_after_of_at_least_a_second(monkeypatch):
    state = ratelimit.RateState(False, 10, 0, T0 + 60)
    assert state.headers() == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(T0 + 60),
    }
    monkeypatch.setattr(ratelimit.time, "time", lambda: T0 + 15)
    assert state.retry_after == 45
    monkeypatch.setattr(ratelimit.time, "time", lambda: T0 + 90)
    assert state.retry_after == 1


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", "-"),
        ("not an address" * 10, ("not an address" * 10)[:64]),
    ],
)
def test_an_address_is_limited_by_itself_or_its_ipv6_slash_64(address, bucket):
    assert ratelimit.address_bucket(address) == bucket


def test_concurrent_hits_each_get_their_own_count(app):
    counts: list[int] = []
    barrier = threading.Barrier(6)

    def one() -> None:
        with app.app_context(), db.connection_context():
            barrier.wait()
            counts.append(ratelimit.hit("race", 100, 60, now=T0).remaining)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(94, 100))


def test_the_public_budget_is_per_address_and_action_and_shared_by_book_and_vote(app):
    settings = {**app.config["CALMESH"].as_dict(), "api.public_book_per_minute": 2}
    for _ in range(2):
        ratelimit.throttle_public("book", "192.0.2.1", settings)
    with pytest.raises(ratelimit.RateLimited) as exc:
        ratelimit.throttle_public("book", "192.0.2.1", settings)
    headers = exc.value.headers()
    assert headers["X-RateLimit-Limit"] == "2" and headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["Retry-After"]) >= 1
    assert str(exc.value) == f"too many requests; retry after {headers['Retry-After']} s"
    ratelimit.throttle_public("book", "192.0.2.2", settings)  # another address
    ratelimit.throttle_public("slots", "192.0.2.1", settings)  # another budget
    assert ratelimit.PUBLIC_LIMITS["vote"] == ratelimit.PUBLIC_LIMITS["book"]


def test_a_window_ends_and_the_count_starts_again():
    assert ratelimit._window(60, 119.0) == 60 and ratelimit._window(60, 120.0) == 120
