"""Rate limits counted in the database: the public budget per address and action,
and what a refusal carries (no wall clock: windows are given explicitly)."""

from __future__ import annotations

import pytest

from calmesh.auth import ratelimit


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


def test_hits_count_up_to_the_limit_in_one_window(app):
    states = [ratelimit.hit("k", 2, 60, now=1000.0) for _ in range(3)]
    assert [s.allowed for s in states] == [True, True, False]
    assert ratelimit.peek("k", 2, 60, now=1000.0).allowed is False
    assert ratelimit.hit("k", 2, 60, now=1060.0).allowed  # the next window
