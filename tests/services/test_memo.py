"""calmesh.services.memo: an answer is computed once per key and the least
recently used entry goes first when the memo is full."""

from __future__ import annotations

import pytest

from calmesh.services.memo import Memo


def counting():
    calls: list[str] = []

    def compute(key: str):
        def run() -> str:
            calls.append(key)
            return key.upper()

        return run

    return calls, compute


def test_an_answer_is_computed_once_per_key():
    memo, (calls, compute) = Memo(), counting()
    assert memo.get("a", compute("a")) == "A"
    assert memo.get("a", compute("a")) == "A"
    assert memo.get(("a", 2), compute("b")) == "B", "any hashable key"
    assert calls == ["a", "b"]


def test_the_least_recently_used_entry_is_outgrown_first():
    memo, (calls, compute) = Memo(size=2), counting()
    memo.get("a", compute("a"))
    memo.get("b", compute("b"))
    memo.get("a", compute("a"))  # a is used again: b is now the oldest
    memo.get("c", compute("c"))
    memo.get("a", compute("a"))
    assert calls == ["a", "b", "c"]
    memo.get("b", compute("b"))
    assert calls == ["a", "b", "c", "b"], "b was dropped"


def test_a_failed_computation_is_not_kept_and_clear_empties_the_memo():
    memo, (calls, compute) = Memo(), counting()

    def broken() -> str:
        raise RuntimeError("down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            memo.get("k", broken)
    assert memo.get("k", compute("k")) == "K"
    memo.clear()
    memo.get("k", compute("k"))
    assert calls == ["k", "k"]
