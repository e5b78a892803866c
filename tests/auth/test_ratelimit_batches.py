"""Rate limits taken from the shared counter in batches (the visitor path): the
limit holds exactly however the hits fall on processes."""

from __future__ import annotations

import random

import pytest

from calmesh.auth import ratelimit
from calmesh.models import RateCounter

NOW = 1_800_000_000.0


def _as_process(taken: dict, key: str, limit: int) -> bool:
    """One hit as a process whose unspent hits are ``taken`` would count it."""
    saved, ratelimit._TAKEN = ratelimit._TAKEN, taken
    try:
        return ratelimit.hit(key, limit, 60, now=NOW, batch=50).allowed
    finally:
        ratelimit._TAKEN = saved


@pytest.mark.parametrize("limit", [1, 7, 120, 1000])
def test_batched_hits_admit_exactly_the_limit_in_one_process(app, limit):
    allowed = [ratelimit.hit("one", limit, 60, now=NOW, batch=50).allowed for _ in range(limit + 5)]
    assert allowed == [True] * limit + [False] * 5


@pytest.mark.parametrize("limit", [3, 120, 1000])
def test_batched_hits_never_pass_the_limit_across_processes(app, limit):
    processes = [{} for _ in range(4)]
    rng = random.Random(limit)
    admitted = sum(_as_process(rng.choice(processes), "shared", limit) for _ in range(limit * 2))
    assert admitted <= limit
    # What the others took and did not spend refuses early by at most their blocks.
    assert admitted >= limit - 3 * max(1, min(50, limit // 8))


def test_a_batch_is_one_write_for_many_hits(app):
    for _ in range(40):
        ratelimit.hit("few-writes", 10_000, 60, now=NOW, batch=50)
    row = RateCounter.get(RateCounter.key == "few-writes")
    assert row.hits == 50  # one block of 50 taken, 40 of them spent


def test_the_remaining_count_falls_by_one_per_hit(app):
    remaining = [ratelimit.hit("headers", 300, 60, now=NOW, batch=50).remaining for _ in range(60)]
    assert remaining == list(range(299, 239, -1))


def test_clearing_a_key_drops_what_this_process_took(app):
    ratelimit.hit("cleared", 2, 60, now=NOW, batch=50)
    ratelimit.hit("cleared", 2, 60, now=NOW, batch=50)
    assert not ratelimit.hit("cleared", 2, 60, now=NOW, batch=50).allowed
    ratelimit.clear("cleared")
    assert ratelimit.hit("cleared", 2, 60, now=NOW, batch=50).allowed
